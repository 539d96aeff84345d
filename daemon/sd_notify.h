/*
 * The systemd readiness protocol: when NOTIFY_SOCKET is set, datagrams such
 * as "READY=1" go to that socket. Without it, nothing happens.
 */
#ifndef SAFETY_SD_NOTIFY_H
#define SAFETY_SD_NOTIFY_H

/* Sends state to the service manager; returns 0, or -1 if it could not. */
int sd_notify_send(const char *state);

#endif
