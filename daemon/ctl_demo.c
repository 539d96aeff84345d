/* safetyctl demo: a synthetic mission with real places and made-up people. */
#include "ctl.h"

#include <stdio.h>

/* Makes the demo mission. */
int
ctl_demo(const struct config *cfg, PGconn *conn, int argc, char **argv)
{
	(void)cfg;
	(void)conn;
	(void)argc;
	(void)argv;
	fprintf(stderr, "safetyctl: demo is not available in this build\n");
	return 2;
}
