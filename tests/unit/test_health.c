/*
 * Unit tests for health.c: /healthz answers without a database; /readyz says 503
 * when the database does not answer (the live case, a ready database, is in
 * test_app's "mariadb" cases through app_handle).
 */
#include <string.h>

#include "app.h"
#include "config.h"
#include "db_env.h"
#include "db_pool.h"
#include "health.h"
#include "request.h"
#include "response.h"
#include "unit.h"

struct fixture {
	struct config cfg;
	struct app app;
	struct request req;
	struct response resp;
};

/* A pool over a socket nobody listens on: every acquire fails fast. */
static void fixture_init(struct fixture *f)
{
	struct db_pool_options popt;

	config_init(&f->cfg);
	db_pool_options_init(&popt, 1);
	popt.acquire_timeout_ms = 300;
	f->app.cfg = &f->cfg;
	f->app.pool = db_pool_new(&db_env_nowhere, &popt);
	request_init(&f->req);
	response_init(&f->resp);
}

static void fixture_release(struct fixture *f)
{
	response_release(&f->resp);
	request_release(&f->req);
	db_pool_free(f->app.pool);
	config_release(&f->cfg);
}

static bool body_is(const struct response *resp, const char *text)
{
	return resp->body.len == strlen(text) && memcmp(resp->body.data, text, resp->body.len) == 0;
}

START_TEST(test_live_needs_no_database)
{
	struct fixture f;
	struct handler_ctx ctx;

	fixture_init(&f);
	ctx = (struct handler_ctx){ &f.app, &f.req, &f.resp, NULL, 0 };
	health_live(&ctx);
	ck_assert_int_eq(f.resp.status, 200);
	ck_assert_msg(body_is(&f.resp, "{\"status\":\"ok\"}"), "body: %.*s", (int)f.resp.body.len,
		      f.resp.body.data);
	fixture_release(&f);
}
END_TEST

START_TEST(test_ready_is_503_without_a_database)
{
	struct fixture f;
	struct handler_ctx ctx;

	fixture_init(&f);
	ctx = (struct handler_ctx){ &f.app, &f.req, &f.resp, NULL, 0 };
	health_ready(&ctx);
	ck_assert_int_eq(f.resp.status, 503);
	ck_assert_ptr_nonnull(memmem(f.resp.body.data, f.resp.body.len, "detail", 6));
	fixture_release(&f);
}
END_TEST

static void add_pure(TCase *tc)
{
	tcase_add_test(tc, test_live_needs_no_database);
	tcase_add_test(tc, test_ready_is_503_without_a_database);
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
