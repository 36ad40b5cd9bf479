/*
 * Unit tests for pipeline.c: one request through parse, body, app_handle,
 * serialize, write and log, driven by an in-memory front end. Only routes
 * that need no database (404, 405, /healthz) and answers made before a
 * handler runs (400, 413) are used: the app has no pool.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "auth.h"
#include "clock.h"
#include "config.h"
#include "cors.h"
#include "log.h"
#include "pipeline.h"
#include "unit.h"

/* The in-memory front end: params as "NAME=value" strings, a body, what was written. */
struct mem_fe {
	char *params[16]; /* NULL-terminated, pointing into store */
	char store[16][80];
	const char *body;
	size_t body_pos;
	bool read_fails;
	bool write_fails;
	struct buf written;
	long seen_content_length; /* what begin_body was told; -2 when it was not called */
};

static const char *mem_param(void *ctx, const char *name)
{
	struct mem_fe *m = ctx;
	size_t n = strlen(name);

	for (char **p = m->params; *p != NULL; p++)
		if (strncmp(*p, name, n) == 0 && (*p)[n] == '=')
			return *p + n + 1;
	return NULL;
}

static void mem_begin_body(void *ctx, const struct request *req)
{
	struct mem_fe *m = ctx;

	m->seen_content_length = req->content_length;
}

static long mem_read(void *ctx, char *data, size_t n)
{
	struct mem_fe *m = ctx;
	size_t left = m->body ? strlen(m->body) - m->body_pos : 0;

	if (m->read_fails)
		return -1;
	if (left == 0)
		return 0; /* memcpy may not be handed a NULL body, even for no bytes */
	if (n > left)
		n = left;
	memcpy(data, m->body + m->body_pos, n);
	m->body_pos += n;
	return (long)n;
}

static int mem_write(void *ctx, const char *data, size_t len)
{
	struct mem_fe *m = ctx;

	if (m->write_fails)
		return -1;
	buf_append(&m->written, data, len);
	return 0;
}

static struct config cfg;
static struct app app;
static struct cors_policy *cors_pol; /* app.cors, owned here */
static struct pipeline pl;
static struct mem_fe mem;
static struct pipeline_frontend fe;
static char access_path[64], slow_path[64];

/* Everything the file at path holds, NUL-terminated (a static buffer); then empties it. */
static const char *take_file(const char *path)
{
	static char text[8192];
	FILE *f = fopen(path, "r");
	size_t n = fread(text, 1, sizeof text - 1, f);

	fclose(f);
	text[n] = '\0';
	ck_assert_int_eq(truncate(path, 0), 0);
	return text;
}

static void set_params(const char *const *params)
{
	size_t i = 0;

	for (; params[i] != NULL; i++) {
		snprintf(mem.store[i], sizeof mem.store[i], "%s", params[i]);
		mem.params[i] = mem.store[i];
	}
	mem.params[i] = NULL;
}

static void setup(void)
{
	struct log_files files = { NULL, access_path, slow_path };
	char err[256];
	int fd;

	strcpy(access_path, "/tmp/test_pipeline_access.XXXXXX");
	fd = mkstemp(access_path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	strcpy(slow_path, "/tmp/test_pipeline_slow.XXXXXX");
	fd = mkstemp(slow_path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(log_open_files(&files, err, sizeof err), 0);

	config_init(&cfg);
	cfg.server.max_body_bytes = 16;
	ck_assert_int_eq(config_set(&cfg, "auth", "mode", "none", err, sizeof err), 0);
	app.cfg = &cfg;
	app.db = NULL;
	ck_assert_int_eq(auth_new(&cfg, NULL, &app.auth, err, sizeof err), 0);
	pipeline_init(&pl);
	memset(&mem, 0, sizeof mem);
	buf_init(&mem.written);
	mem.seen_content_length = -2;
	memset(&fe, 0, sizeof fe);
	fe.ctx = &mem;
	fe.param = mem_param;
	fe.begin_body = mem_begin_body;
	fe.read = mem_read;
	fe.write = mem_write;
	fe.traced = true;
}

static void teardown(void)
{
	struct log_files none = { NULL, NULL, NULL };
	char err[256];

	log_open_files(&none, err, sizeof err);
	unlink(access_path);
	unlink(slow_path);
	buf_release(&mem.written);
	pipeline_release(&pl);
	cors_policy_free(cors_pol);
	cors_pol = NULL;
	app.cors = NULL;
	auth_free(app.auth);
	app.auth = NULL;
	config_release(&cfg);
}

static const char *written(void)
{
	buf_putc(&mem.written, '\0');
	mem.written.len--;
	return mem.written.data ? mem.written.data : "";
}

/* Serves the request set up, expecting pipeline_serve's flags and the HTTP status. */
static void serve(int want_result, int want_status)
{
	ck_assert_int_eq(pipeline_serve(&pl, &app, &fe, clock_ns()), want_result);
	ck_assert_int_eq(pl.resp.status, want_status);
}

START_TEST(test_healthz_answered_and_logged)
{
	static const char *const params[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/healthz",
					      "REQUEST_ID=abc123", NULL };
	const char *line;

	set_params(params);
	ck_assert_int_eq(pipeline_serve(&pl, &app, &fe, clock_ns()), 0);
	ck_assert_ptr_nonnull(strstr(written(), "Status: 200"));
	ck_assert_ptr_nonnull(strstr(written(), "{\"status\":\"ok\"}"));
	ck_assert_int_eq(pl.resp.status, 200);
	ck_assert_int_eq(mem.seen_content_length, -1);
	line = take_file(access_path);
	ck_assert_ptr_nonnull(strstr(line, " access: abc123 GET /healthz 200 15 "));
	ck_assert_ptr_nonnull(strstr(line, "ms healthz owner=- cred=-\n"));
	ck_assert_str_eq(take_file(slow_path), ""); /* slow lines are off */
}
END_TEST

START_TEST(test_envp_parsed_like_params)
{
	static const char *const params[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/nowhere", NULL };
	const char *line;

	set_params(params);
	fe.envp = mem.params;
	serve(0, 404);
	ck_assert_ptr_nonnull(strstr(written(), "Status: 404"));
	line = take_file(access_path);
	/* Traced: without a REQUEST_ID a 32-digit one is made up. */
	ck_assert_ptr_nonnull(strstr(line, " GET /nowhere 404 "));
	ck_assert_ptr_nonnull(strstr(line, "ms not_found owner=- cred=-\n"));
	ck_assert_ptr_null(strstr(line, " access: - "));
}
END_TEST

START_TEST(test_method_not_allowed_head_has_no_body)
{
	static const char *const params[] = { "REQUEST_METHOD=DELETE", "REQUEST_URI=/healthz", NULL };
	static const char *const head[] = { "REQUEST_METHOD=HEAD", "REQUEST_URI=/healthz", NULL };

	set_params(params);
	serve(0, 405);
	ck_assert_ptr_nonnull(strstr(written(), "Allow: GET"));
	ck_assert_ptr_nonnull(strstr(take_file(access_path), "ms method_not_allowed owner=- cred=-\n"));

	buf_reset(&mem.written);
	set_params(head);
	ck_assert_int_eq(pipeline_serve(&pl, &app, &fe, clock_ns()), 0);
	ck_assert_ptr_null(strstr(written(), "{\"status\""));
}
END_TEST

START_TEST(test_too_large_closes)
{
	static const char *const params[] = { "REQUEST_METHOD=POST", "REQUEST_URI=/tasks",
					      "CONTENT_LENGTH=100", NULL };
	static const char *const chunked[] = { "REQUEST_METHOD=POST", "REQUEST_URI=/tasks", NULL };

	set_params(params);
	serve(PIPELINE_CLOSE, 413);
	ck_assert_ptr_nonnull(strstr(written(), "larger than 16 bytes"));
	ck_assert_ptr_nonnull(strstr(take_file(access_path), " 413 "));

	/* Undeclared and over the cap: noticed while reading. */
	set_params(chunked);
	mem.body = "{\"title\":\"longer than sixteen\"}";
	serve(PIPELINE_CLOSE, 413);
	ck_assert_ptr_nonnull(strstr(take_file(access_path), "ms too_large owner=- cred=-\n"));
}
END_TEST

START_TEST(test_short_body_is_bad_request)
{
	static const char *const params[] = { "REQUEST_METHOD=POST", "REQUEST_URI=/tasks",
					      "CONTENT_LENGTH=10", NULL };

	set_params(params);
	mem.body = "{}";
	serve(0, 400);
	ck_assert_int_eq(mem.seen_content_length, 10);
	ck_assert_ptr_nonnull(strstr(written(), "shorter than its Content-Length"));
	ck_assert_ptr_nonnull(strstr(take_file(access_path), "ms bad_request owner=- cred=-\n"));
}
END_TEST

START_TEST(test_unreadable_body)
{
	static const char *const params[] = { "REQUEST_METHOD=POST", "REQUEST_URI=/tasks",
					      "CONTENT_LENGTH=2", NULL };

	set_params(params);
	mem.read_fails = true;
	/* The peer is gone: nothing answered, nothing logged. */
	ck_assert_int_eq(pipeline_serve(&pl, &app, &fe, clock_ns()), PIPELINE_CLOSE);
	ck_assert_uint_eq(mem.written.len, 0);
	ck_assert_str_eq(take_file(access_path), "");
	/* A front end whose answer has its own channel answers 400. */
	fe.answer_read_error = true;
	serve(PIPELINE_CLOSE, 400);
	ck_assert_ptr_nonnull(strstr(written(), "cannot read the request body"));
	ck_assert_ptr_nonnull(strstr(take_file(access_path), " 400 "));
}
END_TEST

START_TEST(test_write_failure_still_logged)
{
	static const char *const params[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/healthz", NULL };

	set_params(params);
	mem.write_fails = true;
	ck_assert_int_eq(pipeline_serve(&pl, &app, &fe, clock_ns()), PIPELINE_WRITE_FAILED);
	ck_assert_ptr_nonnull(strstr(take_file(access_path), " 200 15 "));
}
END_TEST

START_TEST(test_cgi_untraced)
{
	static const char *const params[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/healthz", NULL };

	set_params(params);
	fe.cgi = true;
	fe.traced = false;
	/* CGI: access lines off unless asked. */
	ck_assert_int_eq(pipeline_serve(&pl, &app, &fe, clock_ns()), 0);
	ck_assert_str_eq(take_file(access_path), "");
	cfg.log.access_log = 1;
	ck_assert_int_eq(pipeline_serve(&pl, &app, &fe, clock_ns()), 0);
	/* Untraced: no id made up, no wait. */
	ck_assert_ptr_nonnull(strstr(take_file(access_path), " access: - GET /healthz 200 15 "));
}
END_TEST

START_TEST(test_slow_line)
{
	static const char *const params[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/healthz",
					      "REQUEST_ID=slow1", NULL };
	const char *line;

	set_params(params);
	cfg.log.slow_request_ms = 5;
	cfg.log.access_log = 0;
	/* Started 50 ms ago: over the threshold however fast this machine is. */
	ck_assert_int_eq(pipeline_serve(&pl, &app, &fe, clock_ns() - 50 * 1000000LL), 0);
	ck_assert_str_eq(take_file(access_path), "");
	line = take_file(slow_path);
	ck_assert_ptr_nonnull(strstr(line, " slow: slow1 GET /healthz 200 "));
	ck_assert_ptr_nonnull(strstr(line, "route=healthz sql=- rows=0\n"));
	/* Not traced: no slow line. */
	fe.traced = false;
	ck_assert_int_eq(pipeline_serve(&pl, &app, &fe, clock_ns() - 50 * 1000000LL), 0);
	ck_assert_str_eq(take_file(slow_path), "");
}
END_TEST

/* CORS on, and authentication that refuses whoever has no REMOTE_USER. */
static void cors_on(const char *origins)
{
	char err[256];

	ck_assert_int_eq(config_set(&cfg, "cors", "allow_origins", origins, err, sizeof err), 0);
	ck_assert_int_eq(cors_policy_new(&cfg, &cors_pol, err, sizeof err), 0);
	app.cors = cors_pol;
	ck_assert_int_eq(config_set(&cfg, "auth", "mode", "remote_user", err, sizeof err), 0);
	auth_free(app.auth);
	ck_assert_int_eq(auth_new(&cfg, NULL, &app.auth, err, sizeof err), 0);
}

/* Off, a preflight is an OPTIONS like any other: 405, and no CORS header. */
START_TEST(test_cors_off_options_is_405)
{
	static const char *const params[] = { "REQUEST_METHOD=OPTIONS", "REQUEST_URI=/tasks",
					      "HTTP_ORIGIN=http://a.example",
					      "HTTP_ACCESS_CONTROL_REQUEST_METHOD=GET", NULL };

	set_params(params);
	serve(0, 405);
	ck_assert_ptr_null(strstr(written(), "Access-Control-"));
	ck_assert_ptr_null(strstr(written(), "Vary"));
}
END_TEST

START_TEST(test_cors_preflight_before_route_and_auth)
{
	static const char *const pre[] = { "REQUEST_METHOD=OPTIONS", "REQUEST_URI=/tasks/7",
					   "HTTP_ORIGIN=http://a.example",
					   "HTTP_ACCESS_CONTROL_REQUEST_METHOD=PATCH",
					   "HTTP_ACCESS_CONTROL_REQUEST_HEADERS=authorization", NULL };
	static const char *const nowhere[] = { "REQUEST_METHOD=OPTIONS", "REQUEST_URI=/nowhere",
					       "HTTP_ORIGIN=http://a.example",
					       "HTTP_ACCESS_CONTROL_REQUEST_METHOD=GET", NULL };

	cors_on("http://a.example");
	set_params(pre);
	serve(0, 204);
	ck_assert_ptr_nonnull(strstr(written(), "\r\nAccess-Control-Allow-Origin: http://a.example\r\n"));
	ck_assert_ptr_nonnull(strstr(written(), "\r\nAccess-Control-Allow-Headers: Authorization\r\n"));
	ck_assert_ptr_null(strstr(written(), "Expose-Headers")); /* not decorated as an actual answer */
	ck_assert_ptr_nonnull(strstr(take_file(access_path), "ms cors_preflight owner=- cred=-\n"));

	buf_reset(&mem.written);
	set_params(nowhere);
	serve(0, 404);
	ck_assert_ptr_nonnull(strstr(written(), "\r\nAccess-Control-Allow-Origin: http://a.example\r\n"));
}
END_TEST

/* Every answer to an allowed origin carries the headers: a 401 from auth, a 405, a 413. */
START_TEST(test_cors_every_answer)
{
	static const char *const refused[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/tasks",
					       "HTTP_ORIGIN=http://a.example", NULL };
	static const char *const options[] = { "REQUEST_METHOD=OPTIONS", "REQUEST_URI=/tasks",
					       "HTTP_ORIGIN=http://a.example", NULL };
	static const char *const large[] = { "REQUEST_METHOD=POST", "REQUEST_URI=/tasks",
					     "HTTP_ORIGIN=http://a.example", "CONTENT_LENGTH=100", NULL };
	static const char *const other[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/tasks",
					     "HTTP_ORIGIN=http://b.example", NULL };

	cors_on("http://a.example");
	set_params(refused);
	serve(0, 401);
	ck_assert_ptr_nonnull(strstr(written(), "\r\nAccess-Control-Allow-Origin: http://a.example\r\n"));
	ck_assert_ptr_nonnull(strstr(written(), "\r\nAccess-Control-Expose-Headers: " CORS_EXPOSE_HEADERS "\r\n"));
	ck_assert_ptr_nonnull(strstr(written(), "\r\nVary: Origin\r\n"));

	buf_reset(&mem.written);
	set_params(options); /* no Access-Control-Request-Method: not a preflight */
	serve(0, 405);
	ck_assert_ptr_nonnull(strstr(written(), "\r\nAccess-Control-Allow-Origin: http://a.example\r\n"));

	buf_reset(&mem.written);
	set_params(large);
	serve(PIPELINE_CLOSE, 413);
	ck_assert_ptr_nonnull(strstr(written(), "\r\nAccess-Control-Allow-Origin: http://a.example\r\n"));

	buf_reset(&mem.written);
	set_params(other);
	serve(0, 401);
	ck_assert_ptr_null(strstr(written(), "Access-Control-"));
	ck_assert_ptr_nonnull(strstr(written(), "\r\nVary: Origin\r\n"));
}
END_TEST

/* Kept apart from main() so the suite can move to a shared unit-test main as it is. */
Suite *unit_suite(void)
{
	return unit_suite_of("pipeline", setup, teardown,
			     test_healthz_answered_and_logged,
			     test_envp_parsed_like_params,
			     test_method_not_allowed_head_has_no_body,
			     test_too_large_closes, test_short_body_is_bad_request,
			     test_unreadable_body, test_write_failure_still_logged,
			     test_cgi_untraced, test_slow_line, test_cors_off_options_is_405,
			     test_cors_preflight_before_route_and_auth, test_cors_every_answer);
}
