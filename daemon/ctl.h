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

#endif
