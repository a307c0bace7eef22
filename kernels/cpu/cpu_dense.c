/* cpu_dense: (being written) */
#include "cpu_internal.h"

void cpu_register_dense(KOps *k) { (void)k; }
