/* proc.h — the master process: the listening socket, N workers, signals, restarts of
 * crashed or stalled workers, reload fan-out, the scripts watcher and graceful drain. */
#ifndef SPEEZY_PROC_H
#define SPEEZY_PROC_H

#include "config.h"

/* Serves until SIGTERM/SIGINT/SIGQUIT has drained every worker; returns the exit code. With
 * http 0 (`speezy jobs`) the workers only consume queues: no socket is opened. */
int proc_run(const config_t *cfg, int http);

/* Reads the master's pid from cfg->pid_file; 0 when absent or stale. */
int proc_read_pid(const config_t *cfg);

#endif
