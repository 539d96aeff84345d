/* The version of this build. */
#ifndef SAFETY_VERSION_H
#define SAFETY_VERSION_H

const char *version_string(void);

#endif
