#ifndef TASKAPI_HEALTH_H
#define TASKAPI_HEALTH_H

#include "app.h"

/* GET /healthz: the process answers; touches no database. */
void health_live(struct handler_ctx *ctx);

/*
 * GET /readyz: the database answers and its schema is the one this build
 * needs; else 503. With app->ready_cache, the answer (whatever it was) is
 * kept for HEALTH_READY_CACHE_MS and repeated without asking the database:
 * /readyz needs no credentials, and a prober (or anyone) asking it in a
 * loop must not become database load. Concurrent callers that find the
 * answer expired wait for the one that asks, so a process asks at most once
 * per interval.
 */
void health_ready(struct handler_ctx *ctx);

#define HEALTH_READY_CACHE_MS 1000

/* A process's /readyz cache (one per serving process, shared by its threads). */
struct health_cache *health_cache_new(void);
/* Safe with NULL. */
void health_cache_free(struct health_cache *cache);

#endif
