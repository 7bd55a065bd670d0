/* admin_cli.h — `speezy admin grant PHONE`: the only way an account becomes ADMIN. */
#ifndef SPEEZY_ADMIN_CLI_H
#define SPEEZY_ADMIN_CLI_H

#include "config.h"

/* argv after "admin"; returns the process exit code. */
int admin_cli_main(const config_t *cfg, int argc, char **argv);

#endif
