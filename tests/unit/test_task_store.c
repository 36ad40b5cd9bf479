/*
 * Unit tests for task_store.c's own guards. The SQL itself is covered by the
 * end-to-end tier (tests/e2e/4x-*, 7x-*); here: store_strerror, and that
 * task_store_create refuses input longer than struct task holds even when
 * the server would take it, whatever validated it before. The "mariadb"
 * case needs the test database (see db_env.h).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "db_env.h"
#include "unit.h"
#include "task_store.h"

static struct db_env env;

static struct db_conn *open_conn(void)
{
	struct db_conn *conn = db_conn_new(0, 0);
	char err[512];

	ck_assert_msg(db_conn_open(conn, &env.opt, 0, err, sizeof err) == 0, "%s", err);
	return conn;
}

static long long count_tasks(struct db_conn *conn)
{
	return db_env_scalar(db_conn_mysql(conn), "SELECT COUNT(*) FROM tasks") / 1000;
}

START_TEST(test_strerror)
{
	ck_assert_str_eq(store_strerror(STORE_OK), "ok");
	ck_assert_str_eq(store_strerror(STORE_NOT_FOUND), "not found");
	ck_assert_str_eq(store_strerror(STORE_CONFLICT), "version conflict");
	ck_assert_str_eq(store_strerror(STORE_UNAVAILABLE), "database unavailable");
	ck_assert_str_eq(store_strerror(STORE_ERROR), "database error");
	ck_assert_str_eq(store_strerror((enum store_status)99), "unknown");
}
END_TEST

START_TEST(test_create_checks_lengths_where_it_copies)
{
	struct db_conn *conn = open_conn();
	static char title[TASK_TITLE_MAX_BYTES + 100], description[TASK_DESCRIPTION_MAX_BYTES + 100];
	struct task_fields in = { 0 };
	struct task out;
	long long before;

	/* A server that truncates instead of refusing: only the store's own check stands. */
	ck_assert_int_eq(mysql_query(db_conn_mysql(conn), "SET SESSION sql_mode = ''"), 0);
	memset(title, 'x', sizeof title);
	memset(description, 'y', sizeof description);
	before = count_tasks(conn);
	in.set_title = true;
	in.title = title;
	in.title_len = TASK_TITLE_MAX_BYTES + 1;
	ck_assert_int_eq(task_store_create(conn, &in, &out), STORE_ERROR);
	in.title_len = 5;
	in.description = description;
	in.description_len = TASK_DESCRIPTION_MAX_BYTES + 1;
	ck_assert_int_eq(task_store_create(conn, &in, &out), STORE_ERROR);
	ck_assert_int_eq(count_tasks(conn), before); /* refused before anything was written */
	/* At the limits it fits: 50 four-byte characters, 255 four-byte characters. */
	for (size_t i = 0; i < TASK_DESCRIPTION_MAX_BYTES; i += 4)
		memcpy(description + i, "\xf0\x9f\x98\x80", 4);
	in.title = description;
	in.title_len = TASK_TITLE_MAX_BYTES;
	in.description_len = TASK_DESCRIPTION_MAX_BYTES;
	ck_assert_int_eq(task_store_create(conn, &in, &out), STORE_OK);
	ck_assert_uint_eq(out.title_len, TASK_TITLE_MAX_BYTES);
	ck_assert_uint_eq(out.description_len, TASK_DESCRIPTION_MAX_BYTES);
	ck_assert_int_eq(task_store_delete(conn, out.id, NULL), STORE_OK);
	db_conn_free(conn);
}
END_TEST

static void add_pure(TCase *tc)
{
	tcase_add_test(tc, test_strerror);
}

static void add_live(TCase *tc)
{
	tcase_add_test(tc, test_create_checks_lengths_where_it_copies);
}

Suite *unit_suite(void)
{
	return db_env_suite("task_store", &env, add_pure, add_live);
}
