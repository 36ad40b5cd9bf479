#ifndef TASKAPI_PIPELINE_H
#define TASKAPI_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>

#include "app.h"
#include "auth.h"
#include "buf.h"
#include "request.h"
#include "response.h"

/*
 * One request's way through taskapi, written once for every front end:
 * parse the params, read the body, app_handle, serialize, write the answer,
 * then the request's metrics, access line and slow line. A front end (the
 * FastCGI loop in server.c, CGI in cgi.c, the unit test's in-memory one)
 * only says where the params and the body come from and where the answer
 * goes; it knows nothing of routes, responses or log formats.
 */

/*
 * How one front end moves a request's bytes. Everything here is borrowed
 * for the duration of pipeline_serve; every callback gets ctx.
 */
struct pipeline_frontend {
	void *ctx;
	/* Params by name (RFC 3875 names: REQUEST_METHOD, REQUEST_URI, ...); REQUEST_URI is logged. */
	request_param_fn param;
	/*
	 * The same params as a NULL-terminated "NAME=value" array, or NULL.
	 * When given, the request is parsed from it in one pass
	 * (request_parse_envp) instead of one param call per name.
	 */
	char *const *envp;
	/*
	 * Optional: told the parsed request before its body is read, e.g. to
	 * bound the reads by its Content-Length (CGI: RFC 3875 4.2).
	 */
	void (*begin_body)(void *ctx, const struct request *req);
	/* Reads the body: the count, 0 at its end, -1 when the peer is gone. */
	request_read_fn read;
	/*
	 * Writes the whole serialized answer: 0, or -1 when it could not. The
	 * front end logs why (it knows what went away and how much that matters).
	 */
	int (*write)(void *ctx, const char *data, size_t len);
	/*
	 * CGI: access lines are off unless configured on (config_access_log),
	 * and SCRIPT_NAME names taskapi, so that without [api] root_path the
	 * API's prefix is derived from it and PATH_INFO (request.h, request_root).
	 */
	bool cgi;
	/*
	 * A body that cannot be read still gets a 400 (CGI: stdout outlives
	 * stdin). Without it, nothing is answered or logged: the peer is gone.
	 */
	bool answer_read_error;
	/*
	 * The request's trace (trace.h) is begun here and read for the log lines:
	 * a request id is made up when the params carry none, the pool wait is
	 * logged, and a request over log.slow_request_ms gets a slow line.
	 * Without it the access line says "-" for a missing id and no wait.
	 */
	bool traced;
};

/*
 * The storage one thread (or one CGI process) serves with, reused from
 * request to request. Owned by its caller; everything inside is owned by
 * the pipeline. After pipeline_serve, req and resp hold the last request
 * and its answer until the next call.
 */
struct pipeline {
	struct request req;
	struct response resp;
	struct buf out;  /* the serialized answer */
	struct buf line; /* scratch for the log lines */
	struct auth_identity who; /* the caller of the last request, for its access line */
};

void pipeline_init(struct pipeline *p);
void pipeline_release(struct pipeline *p);

/* What pipeline_serve tells its front end: a set of these flags, 0 when all went well. */
#define PIPELINE_CLOSE 1        /* the connection cannot carry another request (body left unread, or unreadable) */
#define PIPELINE_WRITE_FAILED 2 /* the answer could not be written (it was still logged) */

/*
 * Serves the request fe delivers with app. start_ns (clock_ns) is when the
 * request began: its logged duration counts from there. Never fails as a
 * whole: malformed requests get their 400/413 like any other answer.
 */
int pipeline_serve(struct pipeline *p, const struct app *app, const struct pipeline_frontend *fe,
		   long long start_ns);

#endif
