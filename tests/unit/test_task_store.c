/*
 * Unit tests for task_store.c's own guards. The SQL itself is covered by the
 * end-to-end tier (tests/e2e/4x-*, 7x-*); here: store_strerror, and that
 * task_store_create refuses input longer than struct task holds even when
 * the server would take it, whatever validated it before. The "mariadb"
 * case needs the test database (see db_env.h).
 */
#include <check.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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
	ck_assert_str_eq(store_strerror(STORE_QUOTA), "task quota reached");
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
	const struct task_owner owner = { "test-store", 10 };
	long long before;

	/* A server that truncates instead of refusing: only the store's own check stands. */
	ck_assert_int_eq(mysql_query(db_conn_mysql(conn), "SET SESSION sql_mode = ''"), 0);
	memset(title, 'x', sizeof title);
	memset(description, 'y', sizeof description);
	before = count_tasks(conn);
	in.set_title = true;
	in.title = title;
	in.title_len = TASK_TITLE_MAX_BYTES + 1;
	ck_assert_int_eq(task_store_create(conn, &owner, &in, 0, &out), STORE_ERROR);
	in.title_len = 5;
	in.description = description;
	in.description_len = TASK_DESCRIPTION_MAX_BYTES + 1;
	ck_assert_int_eq(task_store_create(conn, &owner, &in, 0, &out), STORE_ERROR);
	ck_assert_int_eq(count_tasks(conn), before); /* refused before anything was written */
	/* At the limits it fits: 50 four-byte characters, 255 four-byte characters. */
	for (size_t i = 0; i < TASK_DESCRIPTION_MAX_BYTES; i += 4)
		memcpy(description + i, "\xf0\x9f\x98\x80", 4);
	in.title = description;
	in.title_len = TASK_TITLE_MAX_BYTES;
	in.description_len = TASK_DESCRIPTION_MAX_BYTES;
	ck_assert_int_eq(task_store_create(conn, &owner, &in, 0, &out), STORE_OK);
	ck_assert_uint_eq(out.title_len, TASK_TITLE_MAX_BYTES);
	ck_assert_uint_eq(out.description_len, TASK_DESCRIPTION_MAX_BYTES);
	ck_assert_int_eq(task_store_delete(conn, &owner, out.id, NULL), STORE_OK);
	db_conn_free(conn);
}
END_TEST

static int count_row(void *ctx, const struct task *task)
{
	(void)task;
	++*(int *)ctx;
	return 0;
}

/* Tasks of owner, counted through the list statement (with and without the status filter). */
static int listed(struct db_conn *conn, const struct task_owner *owner, int completed)
{
	struct task_list_query q = { .skip = 0, .limit = 1000, .after_id = 0, .completed = completed };
	int n = 0;

	ck_assert_int_eq(task_store_list(conn, owner, &q, count_row, &n), STORE_OK);
	return n;
}

/* One owner's task is invisible and unchangeable for another, through every statement. */
START_TEST(test_owners_are_isolated)
{
	struct db_conn *conn = open_conn();
	char a_name[64], b_name[64];
	struct task_owner a, b;
	struct task_fields in = { 0 }, change = { 0 };
	struct task made, got;
	unsigned version = 1;

	a.len = (size_t)snprintf(a_name, sizeof a_name, "store-a-%d", (int)getpid());
	b.len = (size_t)snprintf(b_name, sizeof b_name, "store-b-%d", (int)getpid());
	a.name = a_name;
	b.name = b_name;
	in.set_title = true;
	in.title = "mine";
	in.title_len = 4;
	ck_assert_int_eq(task_store_create(conn, &a, &in, 0, &made), STORE_OK);
	ck_assert_int_eq(task_store_get(conn, &a, made.id, &got), STORE_OK);
	ck_assert_int_eq(task_store_get(conn, &b, made.id, &got), STORE_NOT_FOUND);
	ck_assert_int_eq(listed(conn, &a, -1), 1);
	ck_assert_int_eq(listed(conn, &a, 0), 1);
	ck_assert_int_eq(listed(conn, &b, -1), 0);
	ck_assert_int_eq(listed(conn, &b, 0), 0);
	change.set_completed = true;
	change.is_completed = true;
	/* Not a conflict either: a version mismatch would tell b the task exists. */
	ck_assert_int_eq(task_store_update(conn, &b, made.id, &change, NULL, &got), STORE_NOT_FOUND);
	ck_assert_int_eq(task_store_update(conn, &b, made.id, &change, &version, &got), STORE_NOT_FOUND);
	ck_assert_int_eq(task_store_delete(conn, &b, made.id, NULL), STORE_NOT_FOUND);
	ck_assert_int_eq(task_store_delete(conn, &b, made.id, &version), STORE_NOT_FOUND);
	ck_assert_int_eq(task_store_get(conn, &a, made.id, &got), STORE_OK);
	ck_assert(!got.is_completed);
	ck_assert_uint_eq(got.version, 1);
	ck_assert_int_eq(task_store_delete(conn, &a, made.id, &version), STORE_OK);
	db_conn_free(conn);
}
END_TEST

START_TEST(test_quota_counts_the_owners_tasks)
{
	struct db_conn *conn = open_conn();
	char a_name[64], b_name[64];
	struct task_owner a, b;
	struct task_fields in = { 0 };
	struct task t1, t2, t3;

	a.len = (size_t)snprintf(a_name, sizeof a_name, "quota-a-%d", (int)getpid());
	b.len = (size_t)snprintf(b_name, sizeof b_name, "quota-b-%d", (int)getpid());
	a.name = a_name;
	b.name = b_name;
	in.set_title = true;
	in.title = "q";
	in.title_len = 1;
	ck_assert_int_eq(task_store_create(conn, &a, &in, 2, &t1), STORE_OK);
	ck_assert_int_eq(task_store_create(conn, &a, &in, 2, &t2), STORE_OK);
	ck_assert_int_eq(task_store_create(conn, &a, &in, 2, &t3), STORE_QUOTA);
	ck_assert_int_eq(listed(conn, &a, -1), 2);
	/* Another owner's count is its own. */
	ck_assert_int_eq(task_store_create(conn, &b, &in, 2, &t3), STORE_OK);
	ck_assert_int_eq(task_store_delete(conn, &b, t3.id, NULL), STORE_OK);
	/* Room again after a delete. */
	ck_assert_int_eq(task_store_delete(conn, &a, t1.id, NULL), STORE_OK);
	ck_assert_int_eq(task_store_create(conn, &a, &in, 2, &t1), STORE_OK);
	ck_assert_int_eq(task_store_delete(conn, &a, t1.id, NULL), STORE_OK);
	ck_assert_int_eq(task_store_delete(conn, &a, t2.id, NULL), STORE_OK);
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
	tcase_add_test(tc, test_owners_are_isolated);
	tcase_add_test(tc, test_quota_counts_the_owners_tasks);
}

Suite *unit_suite(void)
{
	return db_env_suite("task_store", &env, add_pure, add_live);
}
