/* worker.h — one worker process: its event loop and the request walk
 * http -> router -> coroutine on the pinned generation -> response.
 *
 * Also opens the host context (pools and clients that outlive generations) for any other
 * loop that runs scripts, such as `speezy test`. */
#ifndef SPEEZY_WORKER_H
#define SPEEZY_WORKER_H

#include <stdint.h>
#include <uv.h>

#include "bind/bind.h"
#include "config.h"

/* Runs a worker on listen_fd until it has drained; returns the process exit code.
 * heartbeat, when not NULL, is a word shared with the master's watchdog. */
int worker_main(const config_t *cfg, int listen_fd, int index, volatile uint64_t *heartbeat);

/* Opens / closes the database pool and Redis client configured in cfg. */
int worker_host_open(uv_loop_t *loop, const config_t *cfg, bind_host_t *host);
void worker_host_close(bind_host_t *host);

#endif
