/* testrun.h — `speezy test FILE...`: runs Lua spec files inside the host, with the same
 * bindings, pools and coroutines as a worker, and prints "N passed, N failed". */
#ifndef SPEEZY_TESTRUN_H
#define SPEEZY_TESTRUN_H

#include "config.h"

int testrun_main(const config_t *cfg, int nfiles, char **files);

#endif
