/*
 * Unit tests for db_pool.c (the connection's own life is test_db_conn.c's).
 * The first case needs no server: defaults, acquire and start-up against a
 * socket nobody listens on. The "mariadb" case runs only when TASKAPI_TEST_DB_SOCKET,
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

#include "clock.h"
#include "db_env.h"
#include "db_pool.h"
#include "unit.h"

/* ---- helpers ---------------------------------------------------------------- */

static struct db_env env;

static struct db_pool *test_pool(unsigned size, void (*tweak)(struct db_pool_options *))
{
	struct db_pool_options popt;

	db_pool_options_init(&popt, size);
	popt.acquire_timeout_ms = 1000;
	popt.keepalive_ms = 0;
	if (tweak != NULL)
		tweak(&popt);
	return db_pool_new(&env.opt, &popt);
}

static struct db_conn *borrow(struct db_pool *pool)
{
	struct db_conn *conn = NULL;
	char err[512];

	if (db_pool_acquire(pool, &conn, err, sizeof err) != DB_ACQUIRED)
		ck_abort_msg("acquire failed: %s", err);
	return conn;
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

static struct db_pool *nowhere_pool(unsigned wait_at_start_ms)
{
	struct db_pool_options popt;

	db_pool_options_init(&popt, 2);
	popt.wait_at_start_ms = wait_at_start_ms;
	return db_pool_new(&db_env_nowhere, &popt);
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
	db_pool_release(pool, &conn);
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
	unsigned long id = mysql_thread_id(db_conn_mysql(conn));

	ck_assert_int_eq(mysql_query(db_conn_mysql(conn), "START TRANSACTION"), 0);
	ck_assert_int_eq(mysql_query(db_conn_mysql(conn),
				     "INSERT INTO tasks (title) VALUES ('unit: rolled back on release')"), 0);
	db_pool_release(pool, &conn);
	ck_assert_uint_eq(stats(pool).rollbacks, 1);
	conn = borrow(pool);
	ck_assert_uint_eq(mysql_thread_id(db_conn_mysql(conn)), id); /* the same connection, cleaned */
	ck_assert_int_eq(db_env_scalar(db_conn_mysql(conn), "SELECT @@in_transaction"), 0);
	ck_assert_int_eq(db_env_scalar(db_conn_mysql(conn),
				"SELECT COUNT(*) FROM tasks WHERE title = 'unit: rolled back on release'"), 0);
	ck_assert_int_eq(mysql_autocommit(db_conn_mysql(conn), 0), 0);
	db_pool_release(pool, &conn);
	conn = borrow(pool);
	ck_assert_int_eq(db_env_scalar(db_conn_mysql(conn), "SELECT @@autocommit"), 1000);
	ck_assert_uint_eq(stats(pool).discarded, 0);
	db_pool_release(pool, &conn);
	db_pool_free(pool);
}
END_TEST

START_TEST(test_unread_results_discarded)
{
	struct db_pool *pool = test_pool(1, NULL);
	struct db_conn *conn = borrow(pool);
	MYSQL_STMT *stmt;

	/* A result the borrower never asked for. */
	ck_assert_int_eq(mysql_query(db_conn_mysql(conn), "SELECT 1 UNION ALL SELECT 2"), 0);
	db_pool_release(pool, &conn);
	ck_assert_uint_eq(stats(pool).discarded, 1);
	conn = borrow(pool);
	ck_assert_int_eq(db_env_scalar(db_conn_mysql(conn), "SELECT 7"), 7000);
	/* The same with a prepared statement executed and never fetched. */
	stmt = db_conn_stmt(conn, 0, "SELECT 1 UNION ALL SELECT 2");
	ck_assert_ptr_nonnull(stmt);
	ck_assert_int_eq(mysql_stmt_execute(stmt), 0);
	db_pool_release(pool, &conn);
	ck_assert_uint_eq(stats(pool).discarded, 2);
	conn = borrow(pool);
	/* Statements died with their connection: id 0 is prepared again, on this one. */
	stmt = db_conn_stmt(conn, 0, "SELECT 1 UNION ALL SELECT 2");
	ck_assert_ptr_nonnull(stmt);
	ck_assert_int_eq(mysql_stmt_execute(stmt), 0);
	ck_assert_int_eq(mysql_stmt_store_result(stmt), 0);
	ck_assert_uint_eq(mysql_stmt_num_rows(stmt), 2);
	mysql_stmt_free_result(stmt);
	ck_assert_int_eq(db_env_scalar(db_conn_mysql(conn), "SELECT 8"), 8000);
	db_pool_release(pool, &conn);
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
	ck_assert_int_eq(mysql_ping(db_conn_mysql(conn)), 0);
	ck_assert_int_eq(db_env_scalar(db_conn_mysql(conn), "SELECT 1"), 1000);
	db_pool_release(pool, &conn);
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
	id = mysql_thread_id(db_conn_mysql(conn));
	db_pool_release(pool, &conn);
	clock_sleep_ms(2300);
	ck_assert_uint_ge(stats(pool).keepalive_pings, 1); /* an idle connection is pinged */
	ck_assert_uint_eq(stats(pool).discarded, 0);
	db_env_kill(&env, id);
	clock_sleep_ms(2300);
	/* The keepalive found it dead, threw it away and min_idle opened a new one. */
	ck_assert_uint_eq(stats(pool).discarded, 1);
	ck_assert(wait_idle(pool, 1, 1000));
	conn = borrow(pool);
	ck_assert_uint_ne(mysql_thread_id(db_conn_mysql(conn)), id);
	ck_assert_int_eq(db_env_scalar(db_conn_mysql(conn), "SELECT 1"), 1000);
	db_pool_release(pool, &conn);
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
		db_pool_release(pool, &conn);
	}
	ck_assert_uint_eq(stats(pool).validations, 0);
	clock_sleep_ms(300);
	conn = borrow(pool);
	db_pool_release(pool, &conn);
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
	db_pool_release(pool, &held);
	ck_assert_ptr_null(held); /* the caller's pointer is forgotten */
	db_pool_release(pool, &held); /* twice is harmless */
	ck_assert_uint_eq(stats(pool).in_use, 0);
	db_pool_free(pool);
}
END_TEST

START_TEST(test_second_release_cannot_return_the_next_borrowers)
{
	struct db_pool *pool = test_pool(1, NULL);
	struct db_conn *first = borrow(pool), *second;
	struct db_conn *copy = first;

	db_pool_release(pool, &first);
	second = borrow(pool);
	ck_assert_ptr_eq(second, copy); /* the one slot, lent again */
	/* A buggy caller releasing twice: its pointer was set to NULL, so nothing happens. */
	db_pool_release(pool, &first);
	ck_assert_uint_eq(stats(pool).in_use, 1);
	ck_assert_int_eq(db_env_scalar(db_conn_mysql(second), "SELECT 1"), 1000);
	db_pool_release(pool, &second);
	ck_assert_uint_eq(stats(pool).in_use, 0);
	db_pool_free(pool);
}
END_TEST

START_TEST(test_killed_connection_is_replaced_not_reconnected)
{
	struct db_pool *pool = test_pool(1, NULL);
	struct db_conn *conn = borrow(pool);
	unsigned long id = mysql_thread_id(db_conn_mysql(conn));
	my_bool reconnect = 1;

	ck_assert_int_eq(mysql_get_option(db_conn_mysql(conn), MYSQL_OPT_RECONNECT, &reconnect), 0);
	ck_assert_int_eq(reconnect, 0);
	ck_assert_ptr_nonnull(db_conn_stmt(conn, 1, "SELECT 1"));
	db_env_kill(&env, id);
	/* No silent reconnect: the next statement fails with a connection error. */
	ck_assert_int_ne(mysql_query(db_conn_mysql(conn), "SELECT 1"), 0);
	db_conn_note_error(conn, mysql_errno(db_conn_mysql(conn)));
	ck_assert_msg(db_conn_is_broken(conn), "error %u", mysql_errno(db_conn_mysql(conn)));
	db_pool_release(pool, &conn);
	ck_assert_uint_eq(stats(pool).discarded, 1);
	conn = borrow(pool);
	ck_assert_uint_ne(mysql_thread_id(db_conn_mysql(conn)), id);
	/* Prepared again on the new one: a statement cached from the killed one could not run. */
	ck_assert_ptr_nonnull(db_conn_stmt(conn, 1, "SELECT 1"));
	ck_assert_int_eq(mysql_stmt_execute(db_conn_stmt(conn, 1, "SELECT 1")), 0);
	mysql_stmt_free_result(db_conn_stmt(conn, 1, "SELECT 1"));
	db_pool_release(pool, &conn);
	ck_assert_uint_eq(stats(pool).created, 2);
	db_pool_free(pool);
}
END_TEST

START_TEST(test_statement_timeout_in_session)
{
	struct db_pool *pool;
	struct db_conn *conn;
	long long t0;

	env.opt.statement_timeout_ms = 1500;
	pool = test_pool(1, NULL);
	conn = borrow(pool);
	ck_assert_int_eq(db_env_scalar(db_conn_mysql(conn), "SELECT @@max_statement_time"), 1500);
	ck_assert_int_eq(db_env_scalar(db_conn_mysql(conn), "SELECT @@innodb_lock_wait_timeout"), 2000);
	ck_assert_int_eq(db_env_scalar(db_conn_mysql(conn), "SELECT @@time_zone = '+00:00'"), 1000);
	t0 = clock_ms();
	/* The error comes with the first row, so with the result, not the query. */
	ck_assert_int_eq(db_env_scalar(db_conn_mysql(conn), "SELECT SLEEP(5)"), -1);
	ck_assert_uint_eq(mysql_errno(db_conn_mysql(conn)), ER_STATEMENT_TIMEOUT);
	ck_assert_int_lt(clock_ms() - t0, 2500);
	db_pool_release(pool, &conn);
	db_pool_free(pool);
	env.opt.statement_timeout_ms = 0;
}
END_TEST

/*
 * A statement the server would let run (no server-side limit on this
 * session) is cut by the pool's watchdog at the statement deadline:
 * statement_timeout_ms + DB_DEADLINE_GRACE_MS after the borrow. It fails as
 * a lost connection, and the connection is discarded on return.
 */
START_TEST(test_watchdog_cuts_at_the_statement_deadline)
{
	struct db_pool *pool;
	struct db_conn *conn;
	long long t0, took;

	env.opt.statement_timeout_ms = 300;
	pool = test_pool(1, NULL);
	ck_assert_int_eq(db_pool_start_housekeeping(pool), 0);
	conn = borrow(pool);
	t0 = clock_ms();
	ck_assert_int_eq(mysql_query(db_conn_mysql(conn), "SET SESSION max_statement_time = 0"), 0);
	ck_assert_int_eq(db_env_scalar(db_conn_mysql(conn), "SELECT SLEEP(10)"), -1);
	took = clock_ms() - t0;
	ck_assert_msg(db_error_is_connection_lost(mysql_errno(db_conn_mysql(conn))), "error %u",
		      mysql_errno(db_conn_mysql(conn)));
	ck_assert_msg(took < 3000, "cut after %lld ms", took);
	ck_assert(db_conn_is_broken(conn));
	ck_assert_uint_eq(stats(pool).cuts, 1);
	db_pool_release(pool, &conn);
	ck_assert_uint_eq(stats(pool).discarded, 1);
	/* The next borrower gets a new, whole connection, and work within the deadline is not cut. */
	conn = borrow(pool);
	ck_assert_int_eq(db_env_scalar(db_conn_mysql(conn), "SELECT 1"), 1000);
	ck_assert(!db_conn_is_broken(conn));
	db_pool_release(pool, &conn);
	clock_sleep_ms(1000);
	ck_assert_uint_eq(stats(pool).cuts, 1); /* returned in time: disarmed, never cut */
	ck_assert_uint_eq(stats(pool).idle, 1);
	db_pool_free(pool);
	env.opt.statement_timeout_ms = 0;
}
END_TEST

static void add_pure(TCase *tc)
{
	unit_add_tests(tc, test_defaults_are_hikari_like, test_no_server_fails_fast,
		       test_wait_at_start_is_bounded,
		       test_housekeeper_stops_with_the_pool);
}

static void add_live(TCase *tc)
{
	unit_add_tests(tc, test_fixed_size_is_filled,
		       test_min_idle_refilled_after_discard,
		       test_open_transaction_rolled_back, test_unread_results_discarded,
		       test_lifetime_never_while_borrowed,
		       test_keepalive_finds_a_dead_idle_connection,
		       test_validation_only_after_idle_window, test_acquire_timeout,
		       test_second_release_cannot_return_the_next_borrowers,
		       test_killed_connection_is_replaced_not_reconnected,
		       test_statement_timeout_in_session,
		       test_watchdog_cuts_at_the_statement_deadline);
}

Suite *unit_suite(void)
{
	return db_env_suite("db_pool", &env, add_pure, add_live);
}
