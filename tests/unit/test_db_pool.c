/*
 * Unit tests for db_pool.c. The first case needs no server: lifetime jitter,
 * error classes, the retry policy, acquire and start-up against a socket
 * nobody listens on. The "mariadb" case runs only when TASKAPI_TEST_DB_SOCKET,
 * TASKAPI_TEST_DB_USER, TASKAPI_TEST_DB_PASSWORD_FILE and TASKAPI_TEST_DB_NAME
 * name a live server (tests/e2e/70-pool-unit.sh sets them for the private
 * stack); under plain `make check` it is left out.
 */
#include <check.h>
#include <errmsg.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "clock.h"
#include "db_pool.h"
#include "unit.h"

/* ---- helpers ---------------------------------------------------------------- */

static struct db_options nowhere = {
	.socket = "/nonexistent/taskapi-test.sock",
	.user = "nobody",
	.database = "none",
	.connect_timeout_s = 1,
	.read_timeout_s = 1,
	.write_timeout_s = 1,
};

static char db_password[256];
static struct db_options db_opt;

/* Fills db_opt from the environment; false when no server was named. */
static bool db_configured(void)
{
	const char *pw = getenv("TASKAPI_TEST_DB_PASSWORD_FILE");
	char *secret = NULL, err[CONFIG_ERR_SIZE];

	db_opt.socket = getenv("TASKAPI_TEST_DB_SOCKET");
	db_opt.user = getenv("TASKAPI_TEST_DB_USER");
	db_opt.database = getenv("TASKAPI_TEST_DB_NAME");
	if (db_opt.socket == NULL || db_opt.user == NULL || db_opt.database == NULL || pw == NULL)
		return false;
	if (config_read_secret_file(pw, &secret, err, sizeof err) < 0) {
		fprintf(stderr, "%s\n", err);
		return false;
	}
	snprintf(db_password, sizeof db_password, "%s", secret);
	free(secret);
	db_opt.password = db_password;
	db_opt.connect_timeout_s = 2;
	db_opt.read_timeout_s = 5;
	db_opt.write_timeout_s = 5;
	return true;
}

static struct db_pool *test_pool(unsigned size, void (*tweak)(struct db_pool_options *))
{
	struct db_pool_options popt;

	db_pool_options_init(&popt, size);
	popt.acquire_timeout_ms = 1000;
	popt.keepalive_ms = 0;
	if (tweak != NULL)
		tweak(&popt);
	return db_pool_new(&db_opt, &popt);
}

static struct db_conn *borrow(struct db_pool *pool)
{
	struct db_conn *conn = NULL;
	char err[512];

	if (db_pool_acquire(pool, &conn, err, sizeof err) != DB_ACQUIRED)
		ck_abort_msg("acquire failed: %s", err);
	return conn;
}

/* The first column of the first row of sql, as a number; -1 on error. */
static long long scalar(MYSQL *mysql, const char *sql)
{
	MYSQL_RES *res;
	MYSQL_ROW row;
	long long v = -1;

	if (mysql_query(mysql, sql) != 0 || (res = mysql_store_result(mysql)) == NULL)
		return -1;
	row = mysql_fetch_row(res);
	if (row != NULL && row[0] != NULL)
		v = (long long)(strtod(row[0], NULL) * 1000.0); /* milli-units: 1.5 -> 1500 */
	mysql_free_result(res);
	return v;
}

/* Kills a server connection from a connection of its own (a user may kill its own). */
static void kill_thread(unsigned long id)
{
	char err[512], sql[64];
	MYSQL *m = db_connect(&db_opt, err, sizeof err);

	ck_assert_msg(m != NULL, "%s", err);
	snprintf(sql, sizeof sql, "KILL CONNECTION %lu", id);
	ck_assert_msg(mysql_query(m, sql) == 0, "KILL: %s", mysql_error(m));
	mysql_close(m);
}

static struct db_pool_stats stats(struct db_pool *pool)
{
	struct db_pool_stats s;

	db_pool_get_stats(pool, &s);
	return s;
}

/* Polls until the pool holds want idle connections, at most ms. */
static bool wait_idle(struct db_pool *pool, unsigned want, unsigned ms)
{
	for (unsigned waited = 0; waited <= ms; waited += 50) {
		if (stats(pool).idle == want)
			return true;
		clock_sleep_ms(50);
	}
	return false;
}

/* ---- no server needed ------------------------------------------------------- */

START_TEST(test_lifetime_jitter)
{
	unsigned lo = 1800000, hi = 0;

	ck_assert_uint_eq(db_lifetime_with_jitter(0, 0.5), 0);
	ck_assert_uint_eq(db_lifetime_with_jitter(1800000, 0.0), 1800000);
	ck_assert_uint_eq(db_lifetime_with_jitter(1, 0.99), 1);
	for (unsigned i = 0; i < 1000; i++) {
		unsigned v = db_lifetime_with_jitter(1800000, i / 1000.0);

		lo = v < lo ? v : lo;
		hi = v > hi ? v : hi;
	}
	/* Never longer, at most 2.5 % (45 s) shorter, and spread over that range. */
	ck_assert_uint_eq(hi, 1800000);
	ck_assert_uint_ge(lo, 1800000 - 45000);
	ck_assert_uint_le(lo, 1800000 - 44000);
}
END_TEST

START_TEST(test_error_classes)
{
	static const unsigned lost[] = { CR_SERVER_GONE_ERROR, CR_SERVER_LOST, CR_SERVER_LOST_EXTENDED,
					 CR_ERR_NET_READ, CR_ERR_NET_WRITE, ER_CONNECTION_KILLED,
					 CR_COMMANDS_OUT_OF_SYNC, ER_SERVER_SHUTDOWN, CR_CONNECTION_ERROR };

	for (size_t i = 0; i < sizeof lost / sizeof lost[0]; i++) {
		ck_assert_msg(db_error_is_connection_lost(lost[i]), "%u", lost[i]);
		ck_assert(!db_error_is_retryable(lost[i]));
	}
	ck_assert(db_error_is_retryable(ER_LOCK_DEADLOCK));
	ck_assert(db_error_is_retryable(ER_LOCK_WAIT_TIMEOUT));
	ck_assert(!db_error_is_retryable(ER_DUP_ENTRY));
	ck_assert(!db_error_is_connection_lost(ER_DUP_ENTRY));
	ck_assert(!db_error_is_connection_lost(ER_LOCK_DEADLOCK));
}
END_TEST

START_TEST(test_defaults_are_hikari_like)
{
	struct db_pool_options popt;

	db_pool_options_init(&popt, 8);
	ck_assert_uint_eq(popt.size, 8);
	ck_assert_int_eq(popt.min_idle, -1); /* fixed size */
	ck_assert_uint_eq(popt.max_lifetime_ms, 1800000);
	ck_assert_uint_eq(popt.keepalive_ms, 120000);
	ck_assert_uint_eq(popt.validation_idle_ms, 500);
	ck_assert_uint_eq(popt.deadlock_retries, 3);
	ck_assert_uint_eq(popt.wait_at_start_ms, 0);
}
END_TEST

START_TEST(test_retry_policy)
{
	MYSQL fake;
	struct db_conn conn;
	long long now = clock_ms();

	memset(&fake, 0, sizeof fake);
	memset(&conn, 0, sizeof conn);
	fake.server_status = SERVER_STATUS_AUTOCOMMIT;
	conn.mysql = &fake;
	conn.deadlock_retries = 3;
	conn.statement_timeout_ms = 5000;
	ck_assert(db_conn_retry_after(&conn, ER_LOCK_DEADLOCK, 1, now));
	ck_assert(db_conn_retry_after(&conn, ER_LOCK_DEADLOCK, 3, now));
	ck_assert(!db_conn_retry_after(&conn, ER_LOCK_DEADLOCK, 4, now));       /* bounded */
	ck_assert(!db_conn_retry_after(&conn, ER_DUP_ENTRY, 1, now));           /* not retryable */
	ck_assert(!db_conn_retry_after(&conn, CR_SERVER_LOST, 1, now));         /* ambiguous: never */
	ck_assert(db_conn_retry_after(&conn, ER_LOCK_WAIT_TIMEOUT, 1, now));    /* budget left */
	ck_assert(!db_conn_retry_after(&conn, ER_LOCK_WAIT_TIMEOUT, 1, now - 6000)); /* budget spent */
	ck_assert(!db_conn_retry_after(&conn, ER_LOCK_DEADLOCK, 1, now - 6000));
	fake.server_status |= SERVER_STATUS_IN_TRANS;
	ck_assert(!db_conn_retry_after(&conn, ER_LOCK_DEADLOCK, 1, now));       /* inside a transaction */
	fake.server_status = SERVER_STATUS_AUTOCOMMIT;
	conn.deadlock_retries = 0;
	ck_assert(!db_conn_retry_after(&conn, ER_LOCK_DEADLOCK, 1, now));
}
END_TEST

static struct db_pool *nowhere_pool(unsigned wait_at_start_ms)
{
	struct db_pool_options popt;

	db_pool_options_init(&popt, 2);
	popt.wait_at_start_ms = wait_at_start_ms;
	return db_pool_new(&nowhere, &popt);
}

START_TEST(test_no_server_fails_fast)
{
	struct db_pool *pool = nowhere_pool(0);
	struct db_conn *conn;
	char err[512];
	long long t0 = clock_ms();

	ck_assert_int_eq(db_pool_acquire_at_start(pool, &conn, err, sizeof err), DB_CONNECT_FAILED);
	ck_assert_ptr_null(conn);
	ck_assert_int_lt(clock_ms() - t0, 500);
	ck_assert_ptr_nonnull(strstr(err, "cannot connect"));
	ck_assert_uint_eq(stats(pool).connect_failures, 1);
	ck_assert_uint_eq(stats(pool).in_use, 0);
	db_pool_free(pool);
}
END_TEST

START_TEST(test_wait_at_start_is_bounded)
{
	struct db_pool *pool = nowhere_pool(1200);
	struct db_conn *conn;
	char err[512];
	long long t0 = clock_ms(), took;

	ck_assert_int_eq(db_pool_acquire_at_start(pool, &conn, err, sizeof err), DB_CONNECT_FAILED);
	took = clock_ms() - t0;
	ck_assert_int_ge(took, 900);
	ck_assert_int_lt(took, 2500);
	ck_assert_uint_ge(stats(pool).connect_failures, 2);
	db_pool_free(pool);
}
END_TEST

START_TEST(test_housekeeper_stops_with_the_pool)
{
	struct db_pool *pool = nowhere_pool(0);

	ck_assert_int_eq(db_pool_start_housekeeping(pool), 0);
	clock_sleep_ms(100);
	/* It tried to fill min_idle (and failed: nobody listens). */
	ck_assert_uint_ge(stats(pool).connect_failures, 1);
	db_pool_free(pool); /* joins the thread: a hang here times the test out */
}
END_TEST

/* ---- against a live server ------------------------------------------------------ */

START_TEST(test_fixed_size_is_filled)
{
	struct db_pool *pool = test_pool(3, NULL);

	ck_assert_int_eq(db_pool_start_housekeeping(pool), 0);
	ck_assert_msg(wait_idle(pool, 3, 3000), "idle %u", stats(pool).idle);
	ck_assert_uint_eq(stats(pool).created, 3);
	ck_assert_uint_eq(stats(pool).min_idle, 3);
	db_pool_free(pool);
}
END_TEST

static void min_idle_2(struct db_pool_options *p) { p->min_idle = 2; }

START_TEST(test_min_idle_refilled_after_discard)
{
	struct db_pool *pool = test_pool(4, min_idle_2);
	struct db_conn *conn;

	ck_assert_int_eq(db_pool_start_housekeeping(pool), 0);
	ck_assert(wait_idle(pool, 2, 3000));
	clock_sleep_ms(1200);
	ck_assert_uint_eq(stats(pool).idle, 2); /* no more than min_idle are opened */
	conn = borrow(pool);
	db_conn_note_error(conn, CR_SERVER_LOST);
	db_pool_release(pool, conn);
	ck_assert_uint_eq(stats(pool).discarded, 1);
	ck_assert_msg(wait_idle(pool, 2, 1500), "idle %u", stats(pool).idle);
	ck_assert_uint_eq(stats(pool).created, 3);
	db_pool_free(pool);
}
END_TEST

START_TEST(test_open_transaction_rolled_back)
{
	struct db_pool *pool = test_pool(1, NULL);
	struct db_conn *conn = borrow(pool);
	unsigned long id = mysql_thread_id(conn->mysql);

	ck_assert_int_eq(mysql_query(conn->mysql, "START TRANSACTION"), 0);
	ck_assert_int_eq(mysql_query(conn->mysql,
				     "INSERT INTO tasks (title) VALUES ('unit: rolled back on release')"), 0);
	db_pool_release(pool, conn);
	ck_assert_uint_eq(stats(pool).rollbacks, 1);
	conn = borrow(pool);
	ck_assert_uint_eq(mysql_thread_id(conn->mysql), id); /* the same connection, cleaned */
	ck_assert_int_eq(scalar(conn->mysql, "SELECT @@in_transaction"), 0);
	ck_assert_int_eq(scalar(conn->mysql,
				"SELECT COUNT(*) FROM tasks WHERE title = 'unit: rolled back on release'"), 0);
	ck_assert_int_eq(mysql_autocommit(conn->mysql, 0), 0);
	db_pool_release(pool, conn);
	conn = borrow(pool);
	ck_assert_int_eq(scalar(conn->mysql, "SELECT @@autocommit"), 1000);
	ck_assert_uint_eq(stats(pool).discarded, 0);
	db_pool_release(pool, conn);
	db_pool_free(pool);
}
END_TEST

START_TEST(test_unread_results_discarded)
{
	struct db_pool *pool = test_pool(1, NULL);
	struct db_conn *conn = borrow(pool);
	MYSQL_STMT *stmt;

	/* A result the borrower never asked for. */
	ck_assert_int_eq(mysql_query(conn->mysql, "SELECT 1 UNION ALL SELECT 2"), 0);
	db_pool_release(pool, conn);
	ck_assert_uint_eq(stats(pool).discarded, 1);
	conn = borrow(pool);
	ck_assert_int_eq(scalar(conn->mysql, "SELECT 7"), 7000);
	/* The same with a prepared statement executed and never fetched. */
	stmt = db_conn_stmt(conn, 0, "SELECT 1 UNION ALL SELECT 2");
	ck_assert_ptr_nonnull(stmt);
	ck_assert_int_eq(mysql_stmt_execute(stmt), 0);
	db_pool_release(pool, conn);
	ck_assert_uint_eq(stats(pool).discarded, 2);
	conn = borrow(pool);
	ck_assert_ptr_null(conn->stmts[0]); /* statements died with their connection */
	ck_assert_int_eq(scalar(conn->mysql, "SELECT 8"), 8000);
	db_pool_release(pool, conn);
	db_pool_free(pool);
}
END_TEST

static void short_life(struct db_pool_options *p) { p->max_lifetime_ms = 400; }

START_TEST(test_lifetime_never_while_borrowed)
{
	struct db_pool *pool = test_pool(2, short_life);
	struct db_conn *conn;

	ck_assert_int_eq(db_pool_start_housekeeping(pool), 0);
	conn = borrow(pool);
	clock_sleep_ms(1500); /* past its lifetime, and the housekeeper ran at least once */
	ck_assert_int_eq(mysql_ping(conn->mysql), 0);
	ck_assert_int_eq(scalar(conn->mysql, "SELECT 1"), 1000);
	db_pool_release(pool, conn);
	/* Closed on return; idle ones were retired in the background and the pool refilled. */
	ck_assert_uint_ge(stats(pool).retired, 2);
	ck_assert(wait_idle(pool, 2, 1500));
	db_pool_free(pool);
}
END_TEST

static void keepalive_1s(struct db_pool_options *p)
{
	p->keepalive_ms = 1000;
	p->validation_idle_ms = 3600000; /* only the housekeeper may notice */
}

START_TEST(test_keepalive_finds_a_dead_idle_connection)
{
	struct db_pool *pool = test_pool(1, keepalive_1s);
	struct db_conn *conn;
	unsigned long id;

	ck_assert_int_eq(db_pool_start_housekeeping(pool), 0);
	conn = borrow(pool);
	id = mysql_thread_id(conn->mysql);
	db_pool_release(pool, conn);
	clock_sleep_ms(2300);
	ck_assert_uint_ge(stats(pool).keepalive_pings, 1); /* an idle connection is pinged */
	ck_assert_uint_eq(stats(pool).discarded, 0);
	kill_thread(id);
	clock_sleep_ms(2300);
	/* The keepalive found it dead, threw it away and min_idle opened a new one. */
	ck_assert_uint_eq(stats(pool).discarded, 1);
	ck_assert(wait_idle(pool, 1, 1000));
	conn = borrow(pool);
	ck_assert_uint_ne(mysql_thread_id(conn->mysql), id);
	ck_assert_int_eq(scalar(conn->mysql, "SELECT 1"), 1000);
	db_pool_release(pool, conn);
	ck_assert_uint_eq(stats(pool).validations, 0);
	db_pool_free(pool);
}
END_TEST

static void window_200(struct db_pool_options *p) { p->validation_idle_ms = 200; }

START_TEST(test_validation_only_after_idle_window)
{
	struct db_pool *pool = test_pool(1, window_200);
	struct db_conn *conn;

	for (int i = 0; i < 50; i++) {
		conn = borrow(pool);
		db_pool_release(pool, conn);
	}
	ck_assert_uint_eq(stats(pool).validations, 0);
	clock_sleep_ms(300);
	conn = borrow(pool);
	db_pool_release(pool, conn);
	ck_assert_uint_eq(stats(pool).validations, 1);
	db_pool_free(pool);
}
END_TEST

static void timeout_300(struct db_pool_options *p) { p->acquire_timeout_ms = 300; }

START_TEST(test_acquire_timeout)
{
	struct db_pool *pool = test_pool(1, timeout_300);
	struct db_conn *held = borrow(pool), *other;
	char err[512];
	long long t0 = clock_ms(), took;

	ck_assert_int_eq(db_pool_acquire(pool, &other, err, sizeof err), DB_POOL_TIMEOUT);
	took = clock_ms() - t0;
	ck_assert_int_ge(took, 280);
	ck_assert_int_lt(took, 800);
	ck_assert_uint_eq(stats(pool).timeouts, 1);
	ck_assert_uint_eq(stats(pool).in_use, 1);
	db_pool_release(pool, held);
	db_pool_release(pool, held); /* twice is harmless */
	ck_assert_uint_eq(stats(pool).in_use, 0);
	db_pool_free(pool);
}
END_TEST

START_TEST(test_killed_connection_is_replaced_not_reconnected)
{
	struct db_pool *pool = test_pool(1, NULL);
	struct db_conn *conn = borrow(pool);
	unsigned long id = mysql_thread_id(conn->mysql);
	my_bool reconnect = 1;

	ck_assert_int_eq(mysql_get_option(conn->mysql, MYSQL_OPT_RECONNECT, &reconnect), 0);
	ck_assert_int_eq(reconnect, 0);
	ck_assert_ptr_nonnull(db_conn_stmt(conn, 1, "SELECT 1"));
	kill_thread(id);
	/* No silent reconnect: the next statement fails with a connection error. */
	ck_assert_int_ne(mysql_query(conn->mysql, "SELECT 1"), 0);
	db_conn_note_error(conn, mysql_errno(conn->mysql));
	ck_assert_msg(conn->broken, "error %u", mysql_errno(conn->mysql));
	db_pool_release(pool, conn);
	ck_assert_uint_eq(stats(pool).discarded, 1);
	conn = borrow(pool);
	ck_assert_uint_ne(mysql_thread_id(conn->mysql), id);
	ck_assert_ptr_null(conn->stmts[1]);
	ck_assert_ptr_nonnull(db_conn_stmt(conn, 1, "SELECT 1")); /* prepared again on the new one */
	db_pool_release(pool, conn);
	ck_assert_uint_eq(stats(pool).created, 2);
	db_pool_free(pool);
}
END_TEST

START_TEST(test_statement_timeout_in_session)
{
	struct db_pool *pool;
	struct db_conn *conn;
	long long t0;

	db_opt.statement_timeout_ms = 1500;
	pool = test_pool(1, NULL);
	conn = borrow(pool);
	ck_assert_int_eq(scalar(conn->mysql, "SELECT @@max_statement_time"), 1500);
	ck_assert_int_eq(scalar(conn->mysql, "SELECT @@innodb_lock_wait_timeout"), 2000);
	ck_assert_int_eq(scalar(conn->mysql, "SELECT @@time_zone = '+00:00'"), 1000);
	t0 = clock_ms();
	/* The error comes with the first row, so with the result, not the query. */
	ck_assert_int_eq(scalar(conn->mysql, "SELECT SLEEP(5)"), -1);
	ck_assert_uint_eq(mysql_errno(conn->mysql), ER_STATEMENT_TIMEOUT);
	ck_assert_int_lt(clock_ms() - t0, 2500);
	db_pool_release(pool, conn);
	db_pool_free(pool);
	db_opt.statement_timeout_ms = 0;
}
END_TEST

/* mysql_library_end() as the runner exits: atexit() wants a function of no value. */
static void library_end(void)
{
	mysql_library_end();
}

Suite *unit_suite(void)
{
	Suite *s = suite_create("db_pool");
	TCase *pure = unit_tcase(s, "no server");

	/* Not thread-safe: before any test starts a thread. */
	if (mysql_library_init(0, NULL, NULL) != 0)
		abort();
	atexit(library_end);
	tcase_add_test(pure, test_lifetime_jitter);
	tcase_add_test(pure, test_error_classes);
	tcase_add_test(pure, test_defaults_are_hikari_like);
	tcase_add_test(pure, test_retry_policy);
	tcase_add_test(pure, test_no_server_fails_fast);
	tcase_add_test(pure, test_wait_at_start_is_bounded);
	tcase_add_test(pure, test_housekeeper_stops_with_the_pool);
	if (db_configured()) {
		TCase *live = unit_tcase(s, "mariadb");

		tcase_set_timeout(live, 20);
		tcase_add_test(live, test_fixed_size_is_filled);
		tcase_add_test(live, test_min_idle_refilled_after_discard);
		tcase_add_test(live, test_open_transaction_rolled_back);
		tcase_add_test(live, test_unread_results_discarded);
		tcase_add_test(live, test_lifetime_never_while_borrowed);
		tcase_add_test(live, test_keepalive_finds_a_dead_idle_connection);
		tcase_add_test(live, test_validation_only_after_idle_window);
		tcase_add_test(live, test_acquire_timeout);
		tcase_add_test(live, test_killed_connection_is_replaced_not_reconnected);
		tcase_add_test(live, test_statement_timeout_in_session);
	}
	return s;
}
