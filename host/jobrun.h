/* jobrun.h — runs the jobs a queue consumer takes, each as a coroutine on the script
 * generation that is current when it starts (like a request), and reports how it ended.
 *
 * Owned by a worker: it follows the worker's current generation (jobrun_set_generation, at
 * start and after every reload), which also tells the consumer what to consume. */
#ifndef SPEEZY_JOBRUN_H
#define SPEEZY_JOBRUN_H

#include "bind/bind.h"
#include "queue.h"
#include "vm.h"

typedef struct jobrun jobrun_t;

/* NULL when out of memory or Redis refused the consumer. */
jobrun_t *jobrun_new(bind_host_t *host, uint64_t lock_ms);
/* The generation new jobs start on; its declarations become what is consumed. */
void jobrun_set_generation(jobrun_t *jr, vm_gen_t *gen);
/* Stops taking jobs; done(ud) once the running ones finished and were reported. */
void jobrun_drain(jobrun_t *jr, void (*done)(void *), void *ud);
/* The drain ran out of time: running jobs go back to their queues and their coroutines are
 * cancelled; done (from jobrun_drain) follows once Redis has them back. */
void jobrun_abort(jobrun_t *jr);
/* Cancels jobs still running on a generation retired more than max_ms ago. */
void jobrun_sweep(jobrun_t *jr, uint64_t now_ms, uint64_t max_ms);
int jobrun_running(const jobrun_t *jr);
const queue_consumer_t *jobrun_consumer(const jobrun_t *jr);
void jobrun_close(jobrun_t *jr);

#endif
