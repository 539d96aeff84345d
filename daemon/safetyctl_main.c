#include "build_info.h"
#include <stdio.h>
int main(void);
int main(void) { puts(SAFETY_VERSION); return 0; }
