/*
 * A few lines of the sd_notify protocol, so the daemon needs no libsystemd:
 * a datagram to the AF_UNIX socket named by NOTIFY_SOCKET, where a leading
 * '@' means the abstract namespace.
 */
#include "sd_notify.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Sends state to the socket named by NOTIFY_SOCKET. */
int
sd_notify_send(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	size_t len;
	socklen_t salen;
	int fd;
	ssize_t n;

	if (path == NULL || (path[0] != '/' && path[0] != '@'))
		return 0;
	len = strlen(path);
	if (len >= sizeof sa.sun_path)
		return -1;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, salen);
	close(fd);
	return n < 0 ? -1 : 0;
}
