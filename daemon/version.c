/* The version string of this build, for --version and /metrics. */
#include "version.h"

#include "build_info.h"

/* Returns the version of this build. */
const char *
version_string(void)
{
	return SAFETY_VERSION;
}
