#include "cgi.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "auth.h"
#include "buf.h"
#include "clock.h"
#include "cors.h"
#include "db_config.h"
#include "db_pool.h"
#include "listener.h"
#include "log.h"
#include "pipeline.h"
#include "privileges.h"

bool cgi_detect(void)
{
	const char *gateway = getenv("GATEWAY_INTERFACE");

	return gateway != NULL && strncmp(gateway, "CGI/", 4) == 0 && !listener_inherited();
}

/* What the getter and the reader below need besides the environment. */
struct cgi_env {
	struct buf uri;  /* REQUEST_URI as the app sees it; empty when there is none */
	long body_left;  /* CONTENT_LENGTH bytes still unread, or -1: read to end of file */
};

/*
 * REQUEST_URI names the script too when the API is reached through it
 * (/cgi-bin/taskapi/tasks/1 with SCRIPT_NAME /cgi-bin/taskapi): the app gets
 * what follows SCRIPT_NAME. Behind a rewrite to the script (REQUEST_URI
 * /tasks/1), REQUEST_URI already is the API path and is kept.
 */
static void set_app_uri(struct buf *out)
{
	const char *uri = getenv("REQUEST_URI"), *script = getenv("SCRIPT_NAME");
	size_t n = script ? strlen(script) : 0;

	buf_reset(out);
	if (uri == NULL || *uri == '\0')
		return;
	if (n > 0 && strncmp(uri, script, n) == 0 && (uri[n] == '/' || uri[n] == '?' || uri[n] == '\0')) {
		if (uri[n] != '/')
			buf_putc(out, '/');
		buf_puts(out, uri + n);
		return;
	}
	buf_puts(out, uri);
}

/* request_param_fn over the CGI environment. */
static const char *cgi_param(void *ctx, const char *name)
{
	struct cgi_env *env = ctx;

	if (strcmp(name, "REQUEST_URI") == 0)
		return env->uri.len ? env->uri.data : NULL;
	/* Where the server found taskapi, never a path of the API (request.c falls back to it). */
	if (strcmp(name, "SCRIPT_NAME") == 0)
		return NULL;
	/* Apache's mod_unique_id, when nothing else gives a request id. */
	if (strcmp(name, "REQUEST_ID") == 0 && getenv("REQUEST_ID") == NULL)
		return getenv("UNIQUE_ID");
	return getenv(name);
}

/*
 * request_read_fn over stdin. RFC 3875 4.2: never read past CONTENT_LENGTH,
 * the server need not close stdin after the body.
 */
static long cgi_read(void *ctx, char *data, size_t n)
{
	struct cgi_env *env = ctx;
	ssize_t got;

	if (env->body_left == 0)
		return 0;
	if (env->body_left > 0 && (size_t)env->body_left < n)
		n = (size_t)env->body_left;
	do
		got = read(STDIN_FILENO, data, n);
	while (got < 0 && errno == EINTR);
	if (got < 0)
		return -1;
	if (env->body_left > 0)
		env->body_left -= (long)got;
	return (long)got;
}

/* Without CONTENT_LENGTH the body runs to end of file; a terminal has none. */
static void cgi_begin_body(void *ctx, const struct request *req)
{
	struct cgi_env *env = ctx;

	env->body_left = req->content_length >= 0 ? req->content_length : (isatty(STDIN_FILENO) ? 0 : -1);
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The pipeline's writer: the whole answer to stdout. */
static int cgi_write(void *ctx, const char *data, size_t len)
{
	(void)ctx;
	if (write_all(STDOUT_FILENO, data, len) == 0)
		return 0;
	log_error("cannot write the response to stdout: %s", strerror(errno));
	return -1;
}

int cgi_main(const struct config *cfg)
{
	struct db_pool_options popt;
	struct app app = { .cfg = cfg, .db = NULL };
	struct cors_policy *cors;
	struct cgi_env env = { .body_left = 0 };
	const struct pipeline_frontend fe = {
		.ctx = &env,
		.param = cgi_param,
		.begin_body = cgi_begin_body,
		.read = cgi_read,
		.write = cgi_write,
		.cgi = true,              /* stderr is the web server's error log: access lines only if asked */
		.answer_read_error = true,
	};
	struct pipeline p;
	long long start_ns = clock_ns();
	char err[512];
	int rc;

	if (privileges_drop(cfg, err, sizeof err) < 0) {
		log_error("%s", err);
		return 1;
	}
	/* One connection for one request: no housekeeping thread, nothing kept warm. */
	db_config_pool(cfg, 1, &popt);
	popt.min_idle = 0;
	if (cors_policy_new(cfg, &cors, err, sizeof err) < 0) {
		log_error("%s", err);
		return 1;
	}
	app.cors = cors;
	app.db = db_config_cluster(cfg, &popt, err, sizeof err);
	if (app.db == NULL) {
		log_error("%s", err);
		cors_policy_free(cors);
		return 1;
	}
	if (auth_new(cfg, app.db, &app.auth, err, sizeof err) < 0) {
		log_error("%s", err);
		db_cluster_free(app.db);
		cors_policy_free(cors);
		return 1;
	}
	buf_init(&env.uri);
	pipeline_init(&p);

	set_app_uri(&env.uri);
	rc = (pipeline_serve(&p, &app, &fe, start_ns) & PIPELINE_WRITE_FAILED) ? 1 : 0;

	pipeline_release(&p);
	buf_release(&env.uri);
	auth_free(app.auth);
	db_cluster_free(app.db);
	cors_policy_free(cors);
	return rc;
}
