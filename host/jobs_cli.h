/* jobs_cli.h — the operator commands of `speezy jobs` (status, retry-failed, clean). */
#ifndef SPEEZY_JOBS_CLI_H
#define SPEEZY_JOBS_CLI_H

#include "config.h"

/* argv[0] is the subcommand; returns the process exit code. */
int jobs_cli_main(const config_t *cfg, int argc, char **argv);

#endif
