/* The configuration file, as an operator might mistype it. */
#define _GNU_SOURCE
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	char path[64], *cause = NULL;
	struct config cfg;

	if (fd < 0 && (fd = memfd_create("safety.conf", 0)) < 0)
		abort();
	if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	config_defaults(&cfg);
	if (config_load(&cfg, path, &cause) && !config_validate(&cfg, &cause))
		(void)0;
	free(cause);
	config_free(&cfg);
	return 0;
}
