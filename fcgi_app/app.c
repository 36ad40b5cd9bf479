#include "app.h"

#include <mysqld_error.h>
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "clock.h"
#include "cors.h"
#include "db_cluster.h"
#include "docs_ui.h"
#include "health.h"
#include "log.h"
#include "metrics.h"
#include "openapi.h"
#include "rng.h"
#include "task_store.h"
#include "tasks.h"

const struct route app_routes[] = {
	{ HTTP_GET, "/healthz", health_live, "healthz", 0 },
	{ HTTP_GET, "/readyz", health_ready, "readyz", 0 },
	{ HTTP_GET, "/tasks", tasks_list, "tasks.list", AUTH_SCOPE_READ },
	{ HTTP_POST, "/tasks", tasks_create, "tasks.create", AUTH_SCOPE_WRITE },
	{ HTTP_GET, "/tasks/{task_id}", tasks_get, "tasks.get", AUTH_SCOPE_READ },
	{ HTTP_PATCH, "/tasks/{task_id}", tasks_patch, "tasks.patch", AUTH_SCOPE_WRITE },
	{ HTTP_DELETE, "/tasks/{task_id}", tasks_delete, "tasks.delete", AUTH_SCOPE_WRITE },
	{ HTTP_GET, "/openapi.json", openapi_serve, "openapi", 0 },
	/* The browsable docs: HTML pages, not API operations (not in docs/openapi.yaml). */
	{ HTTP_GET, "/docs", docs_ui_swagger, "docs", 0 },
	{ HTTP_GET, "/redoc", docs_ui_redoc, "redoc", 0 },
};
const size_t app_n_routes = sizeof app_routes / sizeof app_routes[0];

/* The answer to a refused caller: 401/403 with the RFC 6750 challenge, or 503. */
static void respond_refused(const struct app *app, const struct request *req, struct response *resp,
			   enum auth_verdict verdict, enum auth_reason why, unsigned need)
{
	bool remote_user = auth_mode_of(app->auth) == AUTH_MODE_REMOTE_USER;

	metrics_auth_refused(why);
	switch (verdict) {
	case AUTH_OK:
		break;
	case AUTH_UNAUTHENTICATED:
		if (remote_user) {
			/* The web server authenticates here: a request without REMOTE_USER passed it by. */
			response_error(resp, 401, why == AUTH_REASON_MISSING
				       ? "Not authenticated: the web server passed no REMOTE_USER"
				       : "Not authenticated: REMOTE_USER is not a valid owner name");
			response_header(resp, "WWW-Authenticate", "Basic realm=\"taskapi\"");
			break;
		}
		response_error(resp, 401, why == AUTH_REASON_MISSING ? "Not authenticated"
			       : why == AUTH_REASON_EXPIRED ? "The token has expired"
			       : why == AUTH_REASON_REVOKED ? "The token has been revoked"
			       : "The token is not valid");
		/* RFC 6750 3.1: no error code when the request carried no credential at all. */
		response_header(resp, "WWW-Authenticate", why == AUTH_REASON_MISSING
				? "Bearer realm=\"taskapi\""
				: "Bearer realm=\"taskapi\", error=\"invalid_token\"");
		break;
	case AUTH_FORBIDDEN:
		response_error(resp, 403, need & AUTH_SCOPE_WRITE
			       ? "The token does not have the scope tasks:write"
			       : "The token does not have the scope tasks:read");
		if (!remote_user)
			response_header(resp, "WWW-Authenticate", need & AUTH_SCOPE_WRITE
					? "Bearer realm=\"taskapi\", error=\"insufficient_scope\", scope=\"tasks:write\""
					: "Bearer realm=\"taskapi\", error=\"insufficient_scope\", scope=\"tasks:read\"");
		break;
	case AUTH_UNAVAILABLE:
		response_error(resp, 503, "The credential cannot be checked now; retry shortly");
		response_header(resp, "Retry-After", "1");
		break;
	}
	(void)req;
}

/* Whether the request names an Idempotency-Key: its re-run after an unknown outcome is safe. */
static bool has_idempotency_key(const struct request *req)
{
	return req->idempotency_key != NULL;
}

static const char *rerun_name(enum app_rerun why)
{
	switch (why) {
	case APP_RERUN_NODE: return "node failed";
	case APP_RERUN_DEADLOCK: return "deadlock or certification conflict";
	case APP_RERUN_UNKNOWN_OUTCOME: return "outcome unknown, Idempotency-Key checked";
	case APP_RERUN_NONE: break;
	}
	return "none";
}

/*
 * Reruns after a deadlock or a certification conflict (1213), on top of the
 * statement-level retries of db_conn_retry_after. Two Galera writers on one
 * hot row can lose to each other many times in a row, so more than
 * deadlock_retries are allowed here (none when it is 0); the time budget
 * bounds them all.
 */
#define APP_MAX_CONFLICT_RERUNS 12
/* The longest pause between two of them (before the random part). */
#define APP_CONFLICT_BACKOFF_MAX_MS 64

/*
 * Runs the handler, and again while app_store_failure says the failure was
 * the database's, not the request's (handler_ctx.rerun): on another node
 * at most once per node, after a conflict at most APP_MAX_CONFLICT_RERUNS
 * times with a growing random pause, and never past a time budget of one
 * acquire plus one statement deadline, so a client waits no longer than it
 * would have for one slow answer.
 */
static void run_handler(const struct app *app, const struct route *route, struct handler_ctx *ctx)
{
	const struct config *cfg = app->cfg;
	unsigned max_node_reruns = app->db ? (unsigned)db_cluster_n_nodes(app->db) : 0;
	long long budget_end = clock_ms() + cfg->database.acquire_timeout_ms +
			       db_statement_deadline(0, (unsigned)cfg->database.statement_timeout_ms);
	unsigned conflicts = 0, others = 0;

	memset(&ctx->lease, 0, sizeof ctx->lease);
	ctx->attempt = 0;
	for (;;) {
		unsigned pause = 0;

		ctx->rerun = APP_RERUN_NONE;
		ctx->db_error = 0;
		route->handler(ctx);
		if (ctx->rerun == APP_RERUN_NONE || clock_ms() >= budget_end)
			return;
		if (ctx->rerun == APP_RERUN_DEADLOCK) {
			unsigned step;

			/* deadlock_retries = 0 asks for no retry at all: a deadlock is a 503. */
			if (cfg->database.deadlock_retries == 0 || ++conflicts > APP_MAX_CONFLICT_RERUNS)
				return;
			/* Two writers that collided should not collide again at once. */
			step = 1u << (conflicts < 7 ? conflicts : 6);
			if (step > APP_CONFLICT_BACKOFF_MAX_MS)
				step = APP_CONFLICT_BACKOFF_MAX_MS;
			pause = step + (unsigned)(rng_unit() * (double)step);
		} else if (++others > max_node_reruns) {
			return;
		}
		ctx->attempt++;
		log_info("db: %s %.*s: %s (error %u); running it again (attempt %u)", route->name,
			 (int)ctx->req->path.len, ctx->req->path.data, rerun_name(ctx->rerun), ctx->db_error,
			 ctx->attempt + 1);
		metrics_db_rerun((unsigned)ctx->rerun);
		if (pause > 0)
			clock_sleep_ms(pause);
		response_reset(ctx->resp);
	}
}

const char *app_handle(const struct app *app, struct request *req, struct response *resp,
		       struct auth_identity *who)
{
	struct route_match m;
	struct handler_ctx ctx;
	enum auth_verdict verdict;
	enum auth_reason why;
	char allow[96];

	response_reset(resp);
	who->owner_len = 0;
	who->owner[0] = '\0';
	who->credential_id[0] = '\0';
	if (cors_is_preflight(app->cors, req)) {
		/* A browser asks before it sends: no credential comes with the question. */
		if (router_match(app_routes, app_n_routes, req->method, req->path.data, req->path.len, &m) ==
		    ROUTER_NOT_FOUND) {
			response_error(resp, 404, "Not Found");
			return "not_found";
		}
		cors_preflight(app->cors, req, resp);
		return cors_preflight_route;
	}
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
	if (m.route->scopes != 0) {
		verdict = auth_check(app->auth, req, m.route->scopes, who, &why);
		if (verdict != AUTH_OK) {
			respond_refused(app, req, resp, verdict, why, m.route->scopes);
			return m.route->name;
		}
	}
	ctx.who = who;
	ctx.app = app;
	ctx.req = req;
	ctx.resp = resp;
	ctx.path_arg = m.arg;
	ctx.path_arg_len = m.arg_len;
	run_handler(app, m.route, &ctx);
	return m.route->name;
}

struct db_conn *app_acquire_db(struct handler_ctx *ctx)
{
	enum db_intent intent = ctx->req->method & (HTTP_GET | HTTP_HEAD) ? DB_READ : DB_WRITE;
	char err[256];

	if (ctx->lease.conn != NULL) {
		/* One connection per request: a second would be a handler bug, and could deadlock the pool. */
		log_error("app: a handler asked for a second database connection");
		response_error(ctx->resp, 500, "Internal Server Error");
		return NULL;
	}
	switch (db_cluster_acquire(ctx->app->db, intent, &ctx->lease, err, sizeof err)) {
	case DB_ACQUIRED:
		db_conn_clear_error(ctx->lease.conn);
		return ctx->lease.conn;
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
	if (*conn == NULL)
		return;
	if (*conn != ctx->lease.conn) {
		log_error("app: a handler released a connection it was not lent");
		*conn = NULL;
		return;
	}
	ctx->db_error = db_conn_last_error(*conn);
	db_cluster_release(ctx->app->db, &ctx->lease);
	*conn = NULL;
}

/* Whether a store failure may be retried by running the handler again, and why. */
static enum app_rerun rerun_for(const struct handler_ctx *ctx, int store_status)
{
	bool several = ctx->app->db != NULL && db_cluster_n_nodes(ctx->app->db) > 1;

	if (store_status == STORE_UNAVAILABLE && ctx->db_error == ER_LOCK_DEADLOCK)
		return APP_RERUN_DEADLOCK;
	/* Refused (1047) or lost before the statement ran: nothing happened; another node may do it. */
	if (store_status == STORE_UNAVAILABLE && several &&
	    db_error_condemns_node(db_cluster_topology(ctx->app->db), ctx->db_error))
		return APP_RERUN_NODE;
	/* The key's row tells the next run whether the first committed: replay or do it, once. */
	if (store_status == STORE_UNKNOWN_OUTCOME && has_idempotency_key(ctx->req))
		return APP_RERUN_UNKNOWN_OUTCOME;
	return APP_RERUN_NONE;
}

void app_store_failure(struct handler_ctx *ctx, int store_status)
{
	/* Called with the connection still borrowed (a write answered inside its transaction): its error now. */
	if (ctx->lease.conn != NULL)
		ctx->db_error = db_conn_last_error(ctx->lease.conn);
	ctx->rerun = rerun_for(ctx, store_status);
	if (store_status == STORE_QUOTA) {
		char detail[160];

		snprintf(detail, sizeof detail, "Task quota reached: an owner may keep at most %ld tasks; "
			 "delete some before creating more", ctx->app->cfg->auth.max_tasks_per_owner);
		response_error(ctx->resp, 409, detail);
		return;
	}
	if (store_status == STORE_UNAVAILABLE) {
		response_error(ctx->resp, 503, "The database is unavailable; retry shortly");
		response_header(ctx->resp, "Retry-After", "1");
		return;
	}
	if (store_status == STORE_UNKNOWN_OUTCOME) {
		/* Not "retry": a blind retry could apply the write twice; one with its key cannot. */
		response_error(ctx->resp, 503,
			       "The database stopped answering during the write: it may have been applied. "
			       "Retrying with the same Idempotency-Key is safe (the answer tells what happened); "
			       "without one, check the task's current state before retrying");
		response_header(ctx->resp, "Retry-After", "1");
		return;
	}
	response_error(ctx->resp, 500, "Internal Server Error");
}
