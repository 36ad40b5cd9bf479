/*
 * Unit tests for app.c: the route table, app_handle's dispatch (404, 405 with
 * Allow, a handler's answer), borrowing and returning a connection for a
 * handler, and store failures as HTTP. The "mariadb" case needs the test
 * database (see db_env.h); the rest runs against a pool that cannot connect.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "db_env.h"
#include "unit.h"
#include "task_store.h"

static struct db_env env;

/* A handler's view of the fixture, with a fresh response. */
static struct handler_ctx ctx_of(struct app_fixture *f)
{
	struct handler_ctx ctx = { .app = &f->app, .req = &f->req, .resp = &f->resp, .who = &f->who };

	response_reset(&f->resp);
	return ctx;
}

static const char *handle(struct app_fixture *f, enum http_method method, const char *path)
{
	request_reset(&f->req);
	f->req.method = method;
	buf_append(&f->req.path, path, strlen(path));
	return app_handle(&f->app, &f->req, &f->resp, &f->who);
}

/* True when the response carries the header line "name: value". */
static bool has_header(const struct response *resp, const char *line)
{
	return resp->headers.len > 0 && memmem(resp->headers.data, resp->headers.len, line, strlen(line)) != NULL;
}

static bool body_has(const struct response *resp, const char *text)
{
	return resp->body.len > 0 && memmem(resp->body.data, resp->body.len, text, strlen(text)) != NULL;
}

static unsigned in_use(struct db_cluster *db)
{
	struct db_pool_stats st;

	db_cluster_pool_stats(db, &st);
	return st.in_use;
}

/* ---- no server needed ------------------------------------------------------- */

START_TEST(test_route_table)
{
	bool names_unique = true;

	ck_assert_uint_ge(app_n_routes, 8);
	for (size_t i = 0; i < app_n_routes; i++) {
		ck_assert_ptr_nonnull(app_routes[i].handler);
		for (size_t j = i + 1; j < app_n_routes; j++)
			if (strcmp(app_routes[i].name, app_routes[j].name) == 0)
				names_unique = false;
	}
	ck_assert(names_unique);
}
END_TEST

START_TEST(test_dispatch)
{
	struct app_fixture f;

	app_fixture_init(&f, &db_env_nowhere, 1);
	ck_assert_str_eq(handle(&f, HTTP_GET, "/healthz"), "healthz");
	ck_assert_int_eq(f.resp.status, 200);
	ck_assert(body_has(&f.resp, "\"status\":\"ok\""));
	ck_assert_str_eq(handle(&f, HTTP_GET, "/no/such/thing"), "not_found");
	ck_assert_int_eq(f.resp.status, 404);
	ck_assert_str_eq(handle(&f, HTTP_DELETE, "/healthz"), "method_not_allowed");
	ck_assert_int_eq(f.resp.status, 405);
	ck_assert(has_header(&f.resp, "Allow: GET"));
	/* A response left by the previous request is reset, not added to. */
	ck_assert_str_eq(handle(&f, HTTP_GET, "/healthz"), "healthz");
	ck_assert_int_eq(f.resp.status, 200);
	ck_assert(!has_header(&f.resp, "Allow:"));
	app_fixture_release(&f);
}
END_TEST

START_TEST(test_acquire_without_a_database)
{
	struct app_fixture f;
	struct handler_ctx ctx;
	struct db_conn *conn;

	app_fixture_init(&f, &db_env_nowhere, 1);
	ctx = ctx_of(&f);
	conn = app_acquire_db(&ctx);
	ck_assert_ptr_null(conn);
	ck_assert_int_eq(f.resp.status, 503);
	ck_assert(body_has(&f.resp, "The database is unavailable"));
	ck_assert(has_header(&f.resp, "Retry-After: 1"));
	app_release_db(&ctx, &conn); /* NULL: nothing to give back */
	ck_assert_uint_eq(in_use(f.app.db), 0);
	/* A handler behind it answers the same way. */
	ck_assert_str_eq(handle(&f, HTTP_GET, "/readyz"), "readyz");
	ck_assert_int_eq(f.resp.status, 503);
	app_fixture_release(&f);
}
END_TEST

START_TEST(test_store_failure)
{
	struct app_fixture f;
	struct handler_ctx ctx;

	app_fixture_init(&f, &db_env_nowhere, 1);
	ctx = ctx_of(&f);
	app_store_failure(&ctx, STORE_UNAVAILABLE);
	ck_assert_int_eq(f.resp.status, 503);
	ck_assert(has_header(&f.resp, "Retry-After: 1"));
	response_reset(&f.resp);
	app_store_failure(&ctx, STORE_ERROR);
	ck_assert_int_eq(f.resp.status, 500);
	ck_assert(body_has(&f.resp, "Internal Server Error"));
	ck_assert(!has_header(&f.resp, "Retry-After"));
	app_fixture_release(&f);
}
END_TEST

/* ---- against a live server ------------------------------------------------------ */

START_TEST(test_acquire_and_release)
{
	struct app_fixture f;
	struct handler_ctx ctx, ctx2;
	struct db_conn *conn, *other;

	app_fixture_init(&f, &env.opt, 1);
	ctx = ctx_of(&f);
	ctx2 = ctx_of(&f);
	conn = app_acquire_db(&ctx);
	ck_assert_ptr_nonnull(conn);
	ck_assert_uint_eq(in_use(f.app.db), 1);
	/* One connection per request: a handler asking twice is a bug, answered 500, not a pool wait. */
	ck_assert_ptr_null(app_acquire_db(&ctx));
	ck_assert_int_eq(f.resp.status, 500);
	ck_assert_uint_eq(in_use(f.app.db), 1);
	/* The one connection is lent: the next request's borrower is told the service is busy. */
	other = app_acquire_db(&ctx2);
	ck_assert_ptr_null(other);
	ck_assert_int_eq(f.resp.status, 503);
	ck_assert(body_has(&f.resp, "overloaded"));
	ck_assert(has_header(&f.resp, "Retry-After: 1"));
	app_release_db(&ctx, &conn);
	ck_assert_ptr_null(conn);
	ck_assert_uint_eq(in_use(f.app.db), 0);
	/* A handler borrows and gives back: nothing stays lent. */
	ck_assert_str_eq(handle(&f, HTTP_GET, "/readyz"), "readyz");
	ck_assert_int_eq(f.resp.status, 200);
	ck_assert(body_has(&f.resp, "\"ready\""));
	ck_assert_uint_eq(in_use(f.app.db), 0);
	app_fixture_release(&f);
}
END_TEST

static void add_pure(TCase *tc)
{
	unit_add_tests(tc, test_route_table, test_dispatch,
		       test_acquire_without_a_database, test_store_failure);
}

static void add_live(TCase *tc)
{
	tcase_add_test(tc, test_acquire_and_release);
}

Suite *unit_suite(void)
{
	return db_env_suite("app", &env, add_pure, add_live);
}
