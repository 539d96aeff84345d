/* safetyctl import regions|shelters: GeoJSON FeatureCollections into a mission. */
#include "ctl.h"

#include <stdio.h>

/* Imports a GeoJSON file of regions or shelters. */
int
ctl_import_geo(const struct config *cfg, PGconn *conn, const char *what, int argc, char **argv)
{
	(void)cfg;
	(void)conn;
	(void)argc;
	(void)argv;
	fprintf(stderr, "safetyctl: import %s is not available in this build\n", what);
	return 2;
}
