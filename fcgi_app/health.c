#include "health.h"

#include <stdio.h>

#include "task_store.h"

void health_live(struct handler_ctx *ctx)
{
	static const char body[] = "{\"status\":\"ok\"}";

	/* A load balancer asks this many times a second: a constant, no JSON tree. */
	response_raw_json(ctx->resp, 200, body, sizeof body - 1);
}

void health_ready(struct handler_ctx *ctx)
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
