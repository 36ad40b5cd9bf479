/*
 * Unit tests for db_conn.c. The first case needs no server: lifetime jitter,
 * error classes, the retry policy's bounds and a connection to a socket
 * nobody listens on. The "mariadb" case runs only when
 * TASKAPI_TEST_DB_SOCKET, TASKAPI_TEST_DB_USER, TASKAPI_TEST_DB_PASSWORD_FILE
 * and TASKAPI_TEST_DB_NAME name a live server (tests/e2e/70-pool-unit.sh
 * sets them for the private stack); under plain `make check` it is left out.
 */
#include <check.h>
#include <errmsg.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock.h"
#include "db_conn.h"
#include "db_env.h"
#include "unit.h"

/* ---- helpers ---------------------------------------------------------------- */

static struct db_env env;

/* A connection to the test server, open; with deadlock_retries 3 and a 5 s budget. */
static struct db_conn *open_conn(unsigned max_lifetime_ms)
{
	struct db_conn *conn = db_conn_new(3, 5000);
	char err[512];

	ck_assert_msg(db_conn_open(conn, &env.opt, max_lifetime_ms, err, sizeof err) == 0, "%s", err);
	return conn;
}

/*
 * A unix socket that accepts connections (the kernel does, into its backlog)
 * and never says a word: a frozen server. Its path goes into path; returns
 * the listening descriptor.
 */
static int silent_server(char *path, size_t len)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	snprintf(path, len, "/tmp/taskapi-silent-%ld.sock", (long)getpid());
	unlink(path);
	snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(listen(fd, 8), 0);
	return fd;
}

/* ---- no server needed ------------------------------------------------------- */

START_TEST(test_statement_deadline)
{
	ck_assert_int_eq(db_statement_deadline(1000, 0), 0); /* no limit: no deadline */
	ck_assert_int_eq(db_statement_deadline(1000, 5000), 1000 + 5000 + DB_DEADLINE_GRACE_MS);
	ck_assert_int_eq(db_statement_deadline(1000, 1), 1000 + 1 + DB_DEADLINE_GRACE_MS);
}
END_TEST

START_TEST(test_poll_timeout)
{
	/* No deadline, no library timeout: wait as long as it takes (read_timeout_s rules). */
	ck_assert_int_eq(db_poll_timeout_ms(0, 1000, MYSQL_WAIT_READ, 0), -1);
	/* The deadline. */
	ck_assert_int_eq(db_poll_timeout_ms(1700, 1000, MYSQL_WAIT_READ, 0), 700);
	ck_assert_int_eq(db_poll_timeout_ms(900, 1000, MYSQL_WAIT_READ, 0), 0); /* passed */
	/* The library's own timeout counts only when it asks for one, and only when sooner. */
	ck_assert_int_eq(db_poll_timeout_ms(1700, 1000, MYSQL_WAIT_READ, 200), 700);
	ck_assert_int_eq(db_poll_timeout_ms(1700, 1000, MYSQL_WAIT_READ | MYSQL_WAIT_TIMEOUT, 200), 200);
	ck_assert_int_eq(db_poll_timeout_ms(1700, 1000, MYSQL_WAIT_TIMEOUT, 5000), 700);
	ck_assert_int_eq(db_poll_timeout_ms(0, 1000, MYSQL_WAIT_READ | MYSQL_WAIT_TIMEOUT, 5000), 5000);
	/* Far deadlines fit poll's int. */
	ck_assert_int_gt(db_poll_timeout_ms(1LL << 40, 0, MYSQL_WAIT_READ, 0), 0);
}
END_TEST

/* A server that accepts and never answers costs the connect deadline, not connect_timeout_s. */
START_TEST(test_connect_deadline_with_a_silent_server)
{
	struct db_options opt = db_env_nowhere;
	char path[108], err[256];
	int fd = silent_server(path, sizeof path);
	long long t0 = clock_ms(), took;

	opt.socket = path;
	opt.connect_timeout_s = 30;
	opt.read_timeout_s = 30;
	ck_assert_ptr_null(db_connect_by(&opt, t0 + 300, err, sizeof err));
	took = clock_ms() - t0;
	ck_assert_msg(took >= 250 && took < 2000, "gave up after %lld ms", took);
	ck_assert_msg(strstr(err, "deadline") != NULL, "%s", err);
	close(fd);
	unlink(path);
}
END_TEST


START_TEST(test_lifetime_jitter)
{
	unsigned lo = 1800000, hi = 0;

	ck_assert_uint_eq(db_lifetime_with_jitter(0, 0.5), 0);
	ck_assert_uint_eq(db_lifetime_with_jitter(1800000, 0.0), 1800000);
	ck_assert_uint_eq(db_lifetime_with_jitter(1, 0.99), 1);
	ck_assert_uint_eq(db_lifetime_with_jitter(1000, 1.5), 1000); /* r out of range: no jitter */
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
					 CR_COMMANDS_OUT_OF_SYNC, ER_SERVER_SHUTDOWN, CR_CONNECTION_ERROR,
					 CR_CONN_HOST_ERROR, CR_STMT_CLOSED, 4031 };

	for (size_t i = 0; i < sizeof lost / sizeof lost[0]; i++) {
		ck_assert_msg(db_error_is_connection_lost(lost[i]), "%u", lost[i]);
		ck_assert(!db_error_is_retryable(lost[i]));
	}
	ck_assert(db_error_is_retryable(ER_LOCK_DEADLOCK));
	ck_assert(db_error_is_retryable(ER_LOCK_WAIT_TIMEOUT));
	ck_assert(!db_error_is_retryable(ER_DUP_ENTRY));
	ck_assert(!db_error_is_retryable(0));
	ck_assert(!db_error_is_connection_lost(ER_DUP_ENTRY));
	ck_assert(!db_error_is_connection_lost(ER_LOCK_DEADLOCK));
	ck_assert(!db_error_is_connection_lost(0));
}
END_TEST

START_TEST(test_a_new_connection_is_closed)
{
	struct db_conn *conn = db_conn_new(3, 5000);

	ck_assert(!db_conn_is_open(conn));
	ck_assert(!db_conn_is_broken(conn));
	ck_assert_ptr_null(db_conn_mysql(conn));
	ck_assert_uint_eq(db_conn_last_error(conn), 0);
	ck_assert(!db_conn_expired(conn, clock_ms() + 3600000)); /* closed: nothing to expire */
	/* Closed: never retried, whatever the error. */
	ck_assert(!db_conn_retry_after(conn, ER_LOCK_DEADLOCK, 1, clock_ms()));
	db_conn_touch(conn, 1234);
	ck_assert_int_eq(db_conn_last_used(conn), 1234);
	db_conn_close(conn); /* closing a closed one is harmless */
	db_conn_free(conn);
	db_conn_free(NULL);
}
END_TEST

START_TEST(test_note_error)
{
	struct db_conn *conn = db_conn_new(3, 5000);

	db_conn_note_error(conn, ER_DUP_ENTRY);
	ck_assert_uint_eq(db_conn_last_error(conn), ER_DUP_ENTRY);
	ck_assert(!db_conn_is_broken(conn));
	db_conn_note_error(conn, CR_SERVER_LOST);
	ck_assert_uint_eq(db_conn_last_error(conn), CR_SERVER_LOST);
	ck_assert(db_conn_is_broken(conn));
	db_conn_close(conn); /* a closed slot may connect again: no longer broken */
	ck_assert(!db_conn_is_broken(conn));
	db_conn_free(conn);
}
END_TEST

START_TEST(test_no_server)
{
	struct db_conn *conn = db_conn_new(3, 5000);
	char err[512];

	ck_assert_ptr_null(db_connect(&db_env_nowhere, err, sizeof err));
	ck_assert_ptr_nonnull(strstr(err, "cannot connect to MariaDB at /nonexistent/taskapi-test.sock"));
	err[0] = '\0';
	ck_assert_int_eq(db_conn_open(conn, &db_env_nowhere, 1000, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "cannot connect"));
	ck_assert(!db_conn_is_open(conn));
	db_conn_free(conn);
}
END_TEST

/* ---- against a live server ------------------------------------------------------ */

START_TEST(test_connect_sets_the_session)
{
	struct db_conn *conn;
	MYSQL *m;
	my_bool reconnect = 1;
	char err[512];

	env.opt.statement_timeout_ms = 1500;
	m = db_connect(&env.opt, err, sizeof err);
	ck_assert_msg(m != NULL, "%s", err);
	ck_assert_int_eq(mysql_get_option(m, MYSQL_OPT_RECONNECT, &reconnect), 0);
	ck_assert_int_eq(reconnect, 0);
	ck_assert_str_eq(mysql_character_set_name(m), "utf8mb4");
	ck_assert_int_eq(db_env_scalar(m, "SELECT @@time_zone = '+00:00'"), 1000);
	ck_assert_int_eq(db_env_scalar(m, "SELECT @@max_statement_time"), 1500);
	ck_assert_int_eq(db_env_scalar(m, "SELECT @@innodb_lock_wait_timeout"), 2000);
	mysql_close(m);
	env.opt.statement_timeout_ms = 0;
	conn = open_conn(0);
	ck_assert(db_conn_is_open(conn));
	ck_assert_ptr_nonnull(db_conn_mysql(conn));
	ck_assert_int_eq(db_env_scalar(db_conn_mysql(conn), "SELECT @@time_zone = '+00:00'"), 1000);
	db_conn_free(conn);
}
END_TEST

START_TEST(test_lifetime)
{
	struct db_conn *conn = open_conn(0);
	long long now = clock_ms();

	ck_assert(!db_conn_expired(conn, now + 86400000LL)); /* 0: forever */
	ck_assert_int_ge(db_conn_last_used(conn), now - 1000);
	db_conn_close(conn);
	ck_assert_int_eq(db_conn_open(conn, &env.opt, 4000, (char[64]){ 0 }, 64), 0);
	now = clock_ms();
	ck_assert(!db_conn_expired(conn, now));
	ck_assert(db_conn_expired(conn, now + 4000)); /* never longer than the maximum */
	ck_assert(!db_conn_expired(conn, now + 3800)); /* at most 2.5 % shorter */
	db_conn_free(conn);
}
END_TEST

START_TEST(test_ping)
{
	struct db_conn *conn = open_conn(0);

	ck_assert_int_eq(db_conn_ping(conn, "test", 0), 0);
	ck_assert(db_conn_is_open(conn));
	db_env_kill(&env, mysql_thread_id(db_conn_mysql(conn)));
	ck_assert_int_eq(db_conn_ping(conn, "test", 0), -1); /* no reconnect: dead, and closed */
	ck_assert(!db_conn_is_open(conn));
	db_conn_free(conn);
}
END_TEST

START_TEST(test_statements_are_cached)
{
	struct db_conn *conn = open_conn(0);
	MYSQL_STMT *stmt = db_conn_stmt(conn, 2, "SELECT 41 + 1");

	ck_assert_ptr_nonnull(stmt);
	ck_assert_ptr_eq(db_conn_stmt(conn, 2, "ignored: cached"), stmt);
	ck_assert_ptr_null(db_conn_stmt(conn, DB_MAX_STMTS, "SELECT 1")); /* out of range */
	ck_assert_int_eq(mysql_stmt_execute(stmt), 0);
	ck_assert_int_eq(mysql_stmt_store_result(stmt), 0);
	ck_assert_uint_eq(mysql_stmt_num_rows(stmt), 1);
	mysql_stmt_free_result(stmt);
	/* A statement that cannot be prepared: NULL, the error noted, the connection still good. */
	ck_assert_ptr_null(db_conn_stmt(conn, 3, "SELECT * FROM no_such_table_here"));
	ck_assert_uint_eq(db_conn_last_error(conn), ER_NO_SUCH_TABLE);
	ck_assert(!db_conn_is_broken(conn));
	/* Closing closes its statements; reopened, the id is prepared afresh. */
	db_conn_close(conn);
	ck_assert_int_eq(db_conn_open(conn, &env.opt, 0, (char[64]){ 0 }, 64), 0);
	stmt = db_conn_stmt(conn, 2, "SELECT 1 UNION ALL SELECT 2");
	ck_assert_ptr_nonnull(stmt);
	ck_assert_int_eq(mysql_stmt_execute(stmt), 0);
	ck_assert_int_eq(mysql_stmt_store_result(stmt), 0);
	ck_assert_uint_eq(mysql_stmt_num_rows(stmt), 2);
	mysql_stmt_free_result(stmt);
	db_conn_free(conn);
}
END_TEST

START_TEST(test_reset)
{
	struct db_conn *conn = open_conn(0);
	MYSQL *m = db_conn_mysql(conn);
	bool rolled_back = true;

	ck_assert_ptr_null(db_conn_reset(conn, &rolled_back)); /* clean: nothing to do */
	ck_assert(!rolled_back);
	ck_assert_int_eq(mysql_query(m, "START TRANSACTION"), 0);
	ck_assert_ptr_null(db_conn_reset(conn, &rolled_back));
	ck_assert(rolled_back);
	ck_assert_int_eq(db_env_scalar(m, "SELECT @@in_transaction"), 0);
	ck_assert_int_eq(mysql_autocommit(m, 0), 0);
	ck_assert_ptr_null(db_conn_reset(conn, &rolled_back));
	ck_assert(rolled_back);
	ck_assert_int_eq(db_env_scalar(m, "SELECT @@autocommit"), 1000);
	ck_assert_int_eq(mysql_query(m, "SELECT 1 UNION ALL SELECT 2"), 0); /* never read */
	ck_assert_str_eq(db_conn_reset(conn, &rolled_back), "results left unread");
	db_conn_free(conn);
}
END_TEST

START_TEST(test_retry_policy)
{
	struct db_conn *conn = open_conn(0);
	long long now = clock_ms();

	ck_assert(db_conn_retry_after(conn, ER_LOCK_DEADLOCK, 1, now));
	ck_assert(db_conn_retry_after(conn, ER_LOCK_DEADLOCK, 3, now));
	ck_assert(!db_conn_retry_after(conn, ER_LOCK_DEADLOCK, 4, now));       /* bounded */
	ck_assert(!db_conn_retry_after(conn, ER_DUP_ENTRY, 1, now));           /* not retryable */
	ck_assert(!db_conn_retry_after(conn, CR_SERVER_LOST, 1, now));         /* ambiguous: never */
	ck_assert(db_conn_retry_after(conn, ER_LOCK_WAIT_TIMEOUT, 1, now));    /* budget left */
	ck_assert(!db_conn_retry_after(conn, ER_LOCK_WAIT_TIMEOUT, 1, now - 6000)); /* budget spent */
	ck_assert(!db_conn_retry_after(conn, ER_LOCK_DEADLOCK, 1, now - 6000));
	ck_assert_int_eq(mysql_query(db_conn_mysql(conn), "START TRANSACTION"), 0);
	ck_assert(!db_conn_retry_after(conn, ER_LOCK_DEADLOCK, 1, now));       /* inside a transaction */
	ck_assert_int_eq(mysql_query(db_conn_mysql(conn), "ROLLBACK"), 0);
	ck_assert(db_conn_retry_after(conn, ER_LOCK_DEADLOCK, 1, now));
	db_conn_free(conn);
	/* No retries allowed, or no time budget for a lock wait: never. */
	conn = db_conn_new(0, 5000);
	ck_assert_int_eq(db_conn_open(conn, &env.opt, 0, (char[64]){ 0 }, 64), 0);
	ck_assert(!db_conn_retry_after(conn, ER_LOCK_DEADLOCK, 1, now));
	db_conn_free(conn);
	conn = db_conn_new(3, 0);
	ck_assert_int_eq(db_conn_open(conn, &env.opt, 0, (char[64]){ 0 }, 64), 0);
	ck_assert(!db_conn_retry_after(conn, ER_LOCK_WAIT_TIMEOUT, 1, clock_ms()));
	ck_assert(db_conn_retry_after(conn, ER_LOCK_DEADLOCK, 1, clock_ms()));
	db_conn_free(conn);
}
END_TEST

/* Armed and past its deadline: the socket is shut down, the connection fails and counts as broken. */
START_TEST(test_cut_at_the_deadline)
{
	struct db_conn *conn = open_conn(0);
	long long now = clock_ms(), next = now + 60000;

	db_conn_arm(conn, now + 10000);
	ck_assert(!db_conn_cut_if_overdue(conn, now, &next, NULL)); /* not yet */
	ck_assert_int_eq(next, now + 10000);                  /* the next wake-up */
	ck_assert_int_eq(mysql_query(db_conn_mysql(conn), "SELECT 1"), 0);
	mysql_free_result(mysql_store_result(db_conn_mysql(conn)));
	ck_assert(!db_conn_is_broken(conn));
	ck_assert(db_conn_cut_if_overdue(conn, now + 10000, &next, NULL));
	ck_assert(db_conn_was_cut(conn));
	ck_assert(db_conn_is_broken(conn));
	ck_assert(!db_conn_cut_if_overdue(conn, now + 20000, &next, NULL)); /* once */
	ck_assert_int_ne(mysql_query(db_conn_mysql(conn), "SELECT 1"), 0);
	ck_assert_msg(db_error_is_connection_lost(mysql_errno(db_conn_mysql(conn))), "error %u",
		      mysql_errno(db_conn_mysql(conn)));
	/* Reopened, it is whole again; disarmed, nothing cuts it. */
	db_conn_close(conn);
	ck_assert_int_eq(db_conn_open(conn, &env.opt, 0, (char[64]){ 0 }, 64), 0);
	ck_assert(!db_conn_was_cut(conn) && !db_conn_is_broken(conn));
	db_conn_arm(conn, now);
	db_conn_arm(conn, 0);
	ck_assert(!db_conn_cut_if_overdue(conn, now + 20000, &next, NULL));
	ck_assert_int_eq(db_conn_ping(conn, "test", clock_ms() + 1000), 0);
	db_conn_free(conn);
}
END_TEST

START_TEST(test_killed_connection_is_broken)
{
	struct db_conn *conn = open_conn(0);
	MYSQL *m = db_conn_mysql(conn);

	db_env_kill(&env, mysql_thread_id(m));
	ck_assert_int_ne(mysql_query(m, "SELECT 1"), 0); /* no silent reconnect */
	db_conn_note_error(conn, mysql_errno(m));
	ck_assert_msg(db_conn_is_broken(conn), "error %u", mysql_errno(m));
	db_conn_free(conn);
}
END_TEST

START_TEST(test_tls_plan)
{
	struct db_options opt = { .ssl_verify_server_cert = true };
	struct db_tls_plan plan;

	/* Nothing set: no TLS asked for (the server may still be reached in clear). */
	db_tls_plan(&opt, &plan);
	ck_assert(!plan.tls);
	opt.ssl_ca = "";
	db_tls_plan(&opt, &plan);
	ck_assert(!plan.tls);
	/* A CA: TLS, verified against it. */
	opt.ssl_ca = "/etc/ca.pem";
	db_tls_plan(&opt, &plan);
	ck_assert(plan.tls && plan.verify);
	ck_assert_str_eq(plan.ca, "/etc/ca.pem");
	ck_assert_ptr_null(plan.cert);
	ck_assert_ptr_null(plan.key);
	/* Verification off: the CA is not handed over, since Connector/C would check the chain. */
	opt.ssl_verify_server_cert = false;
	db_tls_plan(&opt, &plan);
	ck_assert(plan.tls && !plan.verify);
	ck_assert_ptr_null(plan.ca);
	/* A client certificate alone asks for TLS too; its key goes with it. */
	opt.ssl_ca = NULL;
	opt.ssl_cert = "/etc/client.pem";
	opt.ssl_key = "/etc/client.key";
	opt.ssl_verify_server_cert = true;
	db_tls_plan(&opt, &plan);
	ck_assert(plan.tls && plan.verify);
	ck_assert_ptr_null(plan.ca);
	ck_assert_str_eq(plan.cert, "/etc/client.pem");
	ck_assert_str_eq(plan.key, "/etc/client.key");
}
END_TEST

/* A TLS file that cannot be read fails the connect before the network, naming the key. */
START_TEST(test_tls_missing_ca)
{
	struct db_options opt = db_env_nowhere;
	char err[512];

	opt.ssl_ca = "/nonexistent/ca.pem";
	opt.ssl_verify_server_cert = true;
	ck_assert_ptr_null(db_connect(&opt, err, sizeof err));
	ck_assert_ptr_nonnull(strstr(err, "cannot read database.ssl_ca '/nonexistent/ca.pem'"));
}
END_TEST

static void add_pure(TCase *tc)
{
	unit_add_tests(tc, test_lifetime_jitter, test_error_classes,
		       test_a_new_connection_is_closed, test_note_error, test_no_server,
		       test_statement_deadline, test_poll_timeout,
		       test_connect_deadline_with_a_silent_server, test_tls_plan, test_tls_missing_ca);
}

static void add_live(TCase *tc)
{
	unit_add_tests(tc, test_connect_sets_the_session, test_lifetime, test_ping,
		       test_statements_are_cached, test_reset, test_retry_policy,
		       test_killed_connection_is_broken, test_cut_at_the_deadline);
}

Suite *unit_suite(void)
{
	return db_env_suite("db_conn", &env, add_pure, add_live);
}
