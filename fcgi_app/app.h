#ifndef TASKAPI_APP_H
#define TASKAPI_APP_H

#include <stddef.h>

#include "config.h"
#include "db_cluster.h"
#include "request.h"
#include "response.h"
#include "router.h"

/*
 * The application: routes a parsed request to its handler and fills the
 * response. Knows nothing of FastCGI; shared read-only by every thread.
 */
struct health_cache;
struct cors_policy;
struct auth;
struct auth_identity;

struct app {
	const struct config *cfg;
	/* The database servers (db_cluster.h): one in the common case. */
	struct db_cluster *db;
	/* Who is asking (auth.h): never NULL; a route with scopes is refused without it. */
	struct auth *auth;
	/* /readyz's last answer (health.h); NULL: every /readyz asks the database. */
	struct health_cache *ready_cache;
	/* Cross-origin requests (cors.h); NULL: CORS off, OPTIONS is a 405 like any other method. */
	const struct cors_policy *cors;
};

/* What a handler gets: the request, the response to fill, and the {..} path segment. */
struct handler_ctx {
	const struct app *app;
	struct request *req;
	struct response *resp;
	const char *path_arg;
	size_t path_arg_len;
	/* The caller, on routes with scopes: its owner goes into every statement. */
	const struct auth_identity *who;
	/* app_acquire_db's connection and its node (private to app.c). */
	struct db_lease lease;
	unsigned db_error;      /* the last error its connection saw, noted on release */
	/*
	 * Set by app_store_failure when the failure says nothing about the
	 * request and the whole handler may run again: on another node, after
	 * a deadlock, or (with an Idempotency-Key) after an unknown outcome.
	 */
	enum app_rerun { APP_RERUN_NONE = 0, APP_RERUN_NODE, APP_RERUN_DEADLOCK,
			 APP_RERUN_UNKNOWN_OUTCOME } rerun;
	unsigned attempt;       /* 0 on the first run */
};

/* The route table, exported so tests can check it against docs/openapi.yaml. */
extern const struct route app_routes[];
extern const size_t app_n_routes;

/*
 * Answers one request. Always leaves a complete response in resp; returns
 * the matched route's name (for the access log), or a fixed placeholder.
 * A CORS preflight (cors_is_preflight) is answered here, before routing's
 * 405 and before any authentication: 404 for a path no route has, else
 * cors_preflight's answer and the name cors_preflight_route.
 * who is filled with the caller on routes that ask (owner_len 0 when none
 * was asked or proven), for the access log.
 */
const char *app_handle(const struct app *app, struct request *req, struct response *resp,
		       struct auth_identity *who);

/*
 * Borrows a connection for a handler: for a read (GET) on a node that
 * serves reads, for anything else on the writer. One at a time per
 * request. On failure fills resp with a JSON 503 and Retry-After, logs
 * why, and returns NULL.
 */
struct db_conn *app_acquire_db(struct handler_ctx *ctx);

/*
 * Gives a connection from app_acquire_db back to the pool and sets *conn to
 * NULL. Handlers release through here and never touch the pool. Safe with
 * *conn NULL.
 */
void app_release_db(struct handler_ctx *ctx, struct db_conn **conn);

/*
 * Maps a store failure to 503 or 500 JSON, and decides whether app_handle
 * runs the handler again (see handler_ctx.rerun): the response it fills is
 * the answer only when it does not.
 */
void app_store_failure(struct handler_ctx *ctx, int store_status);

#endif
