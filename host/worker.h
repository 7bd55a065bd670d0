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

/* One per worker in a page the master shares with all workers: the master's watchdog reads
 * the heartbeat, and every worker's /healthz lists what all workers serve, so a caller can
 * tell when a reload has reached every worker. Words are written by their worker only. */
typedef struct {
    volatile uint64_t heartbeat_ms; /* the worker's uv_now(); 0 while starting */
    volatile int pid;
    volatile unsigned generation_seq;
    volatile char generation[17];
} worker_slot_t;

/* Runs worker `index` on listen_fd until it has drained; returns the process exit code.
 * slots (may be NULL) is the shared page of nslots entries. */
int worker_main(const config_t *cfg, int listen_fd, int index, worker_slot_t *slots, int nslots);

/* Opens / closes the database pool and Redis client configured in cfg. */
int worker_host_open(uv_loop_t *loop, const config_t *cfg, bind_host_t *host);
void worker_host_close(bind_host_t *host);

#endif
