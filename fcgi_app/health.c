#include "health.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "clock.h"
#include "task_store.h"
#include "xalloc.h"

/*
 * The last /readyz answer as it was sent: status, extra header lines, body.
 * The lock is held while one thread asks the database, so the others wait
 * for its answer instead of asking too.
 */
struct health_cache {
	pthread_mutex_t lock;
	bool valid;
	long long at_ms; /* clock_ms() when the answer was made */
	struct response answer;
};

struct health_cache *health_cache_new(void)
{
	struct health_cache *c = xcalloc(1, sizeof *c);

	pthread_mutex_init(&c->lock, NULL);
	response_init(&c->answer);
	return c;
}

void health_cache_free(struct health_cache *cache)
{
	if (cache == NULL)
		return;
	pthread_mutex_destroy(&cache->lock);
	response_release(&cache->answer);
	free(cache);
}

void health_live(struct handler_ctx *ctx)
{
	static const char body[] = "{\"status\":\"ok\"}";

	/* A load balancer asks this many times a second: a constant, no JSON tree. */
	response_raw_json(ctx->resp, 200, body, sizeof body - 1);
}

/* Asks the database: the answer goes into ctx->resp. */
static void ready_from_database(struct handler_ctx *ctx)
{
	struct db_conn *conn = app_acquire_db(ctx);
	unsigned version = 0;
	enum store_status status;
	char detail[160];

	if (conn == NULL)
		return;
	status = task_store_schema_version(conn, &version);
	app_release_db(ctx, &conn);
	if (status != STORE_OK) {
		app_store_failure(ctx, status);
		return;
	}
	if (version < TASK_STORE_SCHEMA_VERSION) {
		snprintf(detail, sizeof detail,
			 "database schema is at version %u, this build needs %u: run 'taskapi migrate'",
			 version, TASK_STORE_SCHEMA_VERSION);
		response_error(ctx->resp, 503, detail);
		response_header(ctx->resp, "Retry-After", "5");
		return;
	}
	response_json(ctx->resp, 200, json_pack("{s:s, s:i}", "status", "ready",
						"schema_version", (json_int_t)version));
}

void health_ready(struct handler_ctx *ctx)
{
	struct health_cache *c = ctx->app->ready_cache;
	struct response *resp = ctx->resp;
	long long now;

	if (c == NULL) {
		ready_from_database(ctx);
		return;
	}
	pthread_mutex_lock(&c->lock);
	now = clock_ms();
	if (!c->valid || now - c->at_ms >= HEALTH_READY_CACHE_MS || now < c->at_ms) {
		ready_from_database(ctx);
		response_copy(&c->answer, resp);
		c->at_ms = clock_ms();
		c->valid = true;
	} else {
		response_copy(resp, &c->answer);
	}
	pthread_mutex_unlock(&c->lock);
}
