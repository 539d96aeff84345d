/*
 * The commands of safetyctl beyond migrate, each given the configuration
 * and a blocking connection. They return the process exit code: 0 done,
 * 1 failed, 2 bad usage.
 */
#ifndef SAFETY_CTL_H
#define SAFETY_CTL_H

#include "config.h"

#include <libpq-fe.h>

int ctl_user(const struct config *cfg, PGconn *conn, int argc, char **argv);
int ctl_apikey(const struct config *cfg, PGconn *conn, int argc, char **argv);
int ctl_mission(const struct config *cfg, PGconn *conn, int argc, char **argv);
int ctl_audit(const struct config *cfg, PGconn *conn, int argc, char **argv);

/* safetyctl import nationals|regions|shelters FILE --mission CODE (ctl_import.c) */
int ctl_import(const struct config *cfg, PGconn *conn, int argc, char **argv);
/* safetyctl import regions|shelters: GeoJSON FeatureCollections (ctl_geo.c) */
int ctl_import_geo(const struct config *cfg, PGconn *conn, const char *what, int argc, char **argv);
/* safetyctl demo --country TR|UA|TH --people N (ctl_demo.c) */
int ctl_demo(const struct config *cfg, PGconn *conn, int argc, char **argv);
/* safetyctl simulate --crisis ID: nationals answer through the reply page and SMS hook
 * (ctl_simulate.c) */
int ctl_simulate(const struct config *cfg, PGconn *conn, int argc, char **argv);
/* safetyctl plan --households FILE --shelters FILE: the planner on files, no database (ctl_plan.c)
 */
int ctl_plan(int argc, char **argv);

#endif
