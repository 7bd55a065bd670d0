/* redis_policy.h — at start, before forking: does the Redis in REDIS_URL keep queued jobs?
 *
 * A Redis whose maxmemory-policy is anything but noeviction deletes keys when it reaches its
 * maxmemory, and queued jobs are keys: they would vanish without a trace. Called by
 * `speezy serve` (and every command that runs jobs) before it starts anything. */
#ifndef SPEEZY_REDIS_POLICY_H
#define SPEEZY_REDIS_POLICY_H

#include "config.h"

/* Reads maxmemory_policy from the server's INFO memory, with blocking calls bounded by
 * REDIS_TIMEOUT_MS (no event loop may exist yet). Returns 0 to go on: no REDIS_URL,
 * noeviction, another policy outside production (a warning), or a Redis that could not be
 * asked (a warning in every mode: it may come up later). Returns -1 to refuse, in production
 * with another policy, after logging which setting to change; the caller exits 78 (EX_CONFIG)
 * as for any refused configuration. */
int redis_policy_check(const config_t *cfg);

#endif
