#pragma once
int fastkv_ckernels_version(void);
