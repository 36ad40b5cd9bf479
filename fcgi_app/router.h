#ifndef TASKAPI_ROUTER_H
#define TASKAPI_ROUTER_H

#include <stddef.h>

#include "request.h"

struct handler_ctx;
typedef void (*handler_fn)(struct handler_ctx *ctx);

/*
 * A route: the methods it answers (a mask of enum http_method), a pattern
 * such as "/tasks/{id}" where "{...}" matches one non-empty path segment,
 * and the handler. Patterns are written without a trailing slash; a path
 * matches with or without one. HEAD is answered wherever GET is.
 */
struct route {
	unsigned methods;
	const char *pattern;
	handler_fn handler;
	const char *name; /* for logs and metrics, e.g. "tasks.list" */
	/* The scopes a caller must hold (AUTH_SCOPE_* of auth.h); 0: public, no identity asked. */
	unsigned scopes;
};

enum router_result {
	ROUTER_MATCH,
	ROUTER_NOT_FOUND,
	ROUTER_METHOD_NOT_ALLOWED
};

struct route_match {
	const struct route *route; /* set on ROUTER_MATCH */
	const char *arg;           /* the "{...}" segment, borrowed from the path */
	size_t arg_len;
	unsigned allowed;          /* methods the path accepts, for Allow */
};

/* Finds the route for method and path (path need not be NUL-terminated). */
enum router_result router_match(const struct route *routes, size_t n_routes,
				enum http_method method, const char *path, size_t path_len,
				struct route_match *out);

/* Writes "GET, HEAD, POST" style text for an Allow header into out. */
void router_format_allow(unsigned methods, char *out, size_t outlen);

#endif
