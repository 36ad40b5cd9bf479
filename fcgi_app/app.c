#include "app.h"

#include <stdio.h>

#include "health.h"
#include "log.h"
#include "openapi.h"
#include "task_store.h"
#include "tasks.h"

const struct route app_routes[] = {
	{ HTTP_GET, "/healthz", health_live, "healthz" },
	{ HTTP_GET, "/readyz", health_ready, "readyz" },
	{ HTTP_GET, "/tasks", tasks_list, "tasks.list" },
	{ HTTP_POST, "/tasks", tasks_create, "tasks.create" },
	{ HTTP_GET, "/tasks/{task_id}", tasks_get, "tasks.get" },
	{ HTTP_PATCH, "/tasks/{task_id}", tasks_patch, "tasks.patch" },
	{ HTTP_DELETE, "/tasks/{task_id}", tasks_delete, "tasks.delete" },
	{ HTTP_GET, "/openapi.json", openapi_serve, "openapi" },
};
const size_t app_n_routes = sizeof app_routes / sizeof app_routes[0];

const char *app_handle(const struct app *app, struct request *req, struct response *resp)
{
	struct route_match m;
	struct handler_ctx ctx;
	char allow[96];

	response_reset(resp);
	switch (router_match(app_routes, app_n_routes, req->method, req->path.data, req->path.len, &m)) {
	case ROUTER_NOT_FOUND:
		response_error(resp, 404, "Not Found");
		return "not_found";
	case ROUTER_METHOD_NOT_ALLOWED:
		router_format_allow(m.allowed, allow, sizeof allow);
		response_error(resp, 405, "Method Not Allowed");
		response_header(resp, "Allow", allow);
		return "method_not_allowed";
	case ROUTER_MATCH:
		break;
	}
	ctx.app = app;
	ctx.req = req;
	ctx.resp = resp;
	ctx.path_arg = m.arg;
	ctx.path_arg_len = m.arg_len;
	m.route->handler(&ctx);
	return m.route->name;
}

struct db_conn *app_acquire_db(struct handler_ctx *ctx)
{
	struct db_conn *conn;
	char err[256];

	switch (db_pool_acquire(ctx->app->pool, &conn, err, sizeof err)) {
	case DB_ACQUIRED:
		return conn;
	case DB_POOL_TIMEOUT:
		log_warn("%s", err);
		response_error(ctx->resp, 503, "The service is overloaded; retry shortly");
		break;
	case DB_CONNECT_FAILED:
		log_warn("%s", err);
		response_error(ctx->resp, 503, "The database is unavailable; retry shortly");
		break;
	}
	response_header(ctx->resp, "Retry-After", "1");
	return NULL;
}

void app_release_db(struct handler_ctx *ctx, struct db_conn **conn)
{
	db_pool_release(ctx->app->pool, conn);
}

void app_store_failure(struct handler_ctx *ctx, int store_status)
{
	if (store_status == STORE_UNAVAILABLE) {
		response_error(ctx->resp, 503, "The database is unavailable; retry shortly");
		response_header(ctx->resp, "Retry-After", "1");
		return;
	}
	if (store_status == STORE_UNKNOWN_OUTCOME) {
		/* Not "retry": a blind retry could apply the write twice. */
		response_error(ctx->resp, 503,
			       "The database stopped answering during the write: it may have been applied; "
			       "check the task's current state before retrying");
		response_header(ctx->resp, "Retry-After", "1");
		return;
	}
	response_error(ctx->resp, 500, "Internal Server Error");
}
