/* safetyctl import: nationals from CSV or JSON, regions and shelters from GeoJSON. */
#include "ctl.h"

#include <stdio.h>
#include <string.h>

/* Dispatches to the importer of each kind of file. */
int
ctl_import(const struct config *cfg, PGconn *conn, int argc, char **argv)
{
	if (argc >= 1 && (strcmp(argv[0], "regions") == 0 || strcmp(argv[0], "shelters") == 0))
		return ctl_import_geo(cfg, conn, argv[0], argc - 1, argv + 1);
	fputs("usage: safetyctl import nationals|regions|shelters FILE --mission CODE\n", stderr);
	return 2;
}
