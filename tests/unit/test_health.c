/*
 * Unit tests for health.c: /healthz answers without a database; /readyz says 503
 * when the database does not answer (the live case, a ready database, is in
 * test_app's "mariadb" cases through app_handle).
 */
#include <string.h>

#include "clock.h"
#include "db_env.h"
#include "health.h"
#include "unit.h"

static bool body_is(const struct response *resp, const char *text)
{
	return resp->body.len == strlen(text) && memcmp(resp->body.data, text, resp->body.len) == 0;
}

/* Each test's application, over a socket nobody listens on: every acquire fails fast. */
static struct app_fixture f;
static struct handler_ctx ctx;

static void setup(void)
{
	app_fixture_init(&f, &db_env_nowhere, 1);
	ctx = (struct handler_ctx){ .app = &f.app, .req = &f.req, .resp = &f.resp, .who = &f.who };
}

static void teardown(void)
{
	app_fixture_release(&f);
}

START_TEST(test_live_needs_no_database)
{
	health_live(&ctx);
	ck_assert_int_eq(f.resp.status, 200);
	ck_assert_msg(body_is(&f.resp, "{\"status\":\"ok\"}"), "body: %.*s", (int)f.resp.body.len,
		      f.resp.body.data);
}
END_TEST

START_TEST(test_ready_is_503_without_a_database)
{
	health_ready(&ctx);
	ck_assert_int_eq(f.resp.status, 503);
	ck_assert_ptr_nonnull(memmem(f.resp.body.data, f.resp.body.len, "detail", 6));
}
END_TEST

/* The pool's attempts so far: each acquire without a database ends in one of these. */
static unsigned long long attempts(void)
{
	struct db_pool_stats st;

	db_cluster_pool_stats(f.app.db, &st);
	return st.connect_failures + st.timeouts;
}

START_TEST(test_ready_answer_is_kept_a_second)
{
	struct response first;
	unsigned long long before;

	f.app.ready_cache = health_cache_new();
	response_init(&first);
	health_ready(&ctx);
	ck_assert_int_eq(f.resp.status, 503);
	response_copy(&first, &f.resp);
	before = attempts();
	ck_assert_uint_gt(before, 0);
	/* Within the second: the same answer, and the database is not asked again. */
	for (int i = 0; i < 20; i++) {
		response_reset(&f.resp);
		health_ready(&ctx);
		ck_assert_int_eq(f.resp.status, 503);
		ck_assert_uint_eq(f.resp.body.len, first.body.len);
		ck_assert_int_eq(memcmp(f.resp.body.data, first.body.data, first.body.len), 0);
		ck_assert_uint_eq(f.resp.headers.len, first.headers.len); /* Retry-After kept */
	}
	ck_assert_uint_eq(attempts(), before);
	/* After it: asked again. */
	clock_sleep_ms(HEALTH_READY_CACHE_MS + 50);
	response_reset(&f.resp);
	health_ready(&ctx);
	ck_assert_int_eq(f.resp.status, 503);
	ck_assert_uint_gt(attempts(), before);
	response_release(&first);
	health_cache_free(f.app.ready_cache);
	f.app.ready_cache = NULL;
}
END_TEST

static void add_pure(TCase *tc)
{
	tcase_add_checked_fixture(tc, setup, teardown);
	unit_add_tests(tc, test_live_needs_no_database, test_ready_is_503_without_a_database,
		       test_ready_answer_is_kept_a_second);
}

/* A ready database answering 200 is test_app's live /readyz case. */
static void add_live(TCase *tc)
{
	(void)tc;
}

Suite *unit_suite(void)
{
	static struct db_env env;

	return db_env_suite("health", &env, add_pure, add_live);
}
