#include "CKernels.h"
int fastkv_ckernels_version(void) { return 1; }
