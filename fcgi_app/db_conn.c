#include "db_conn.h"

#include <errmsg.h>
#include <errno.h>
#include <limits.h>
#include <mysqld_error.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "clock.h"
#include "log.h"
#include "rng.h"
#include "xalloc.h"

/* MySQL 8.0.24+: "disconnected by the server because of inactivity" (not in MariaDB's headers). */
#define ER_CLIENT_INTERACTION_TIMEOUT_MYSQL 4031

struct db_conn {
	MYSQL *mysql;                     /* NULL: not connected */
	MYSQL_STMT *stmts[DB_MAX_STMTS];  /* prepared lazily, owned by the connection */
	long long last_used_ms;           /* monotonic */
	long long expires_ms;             /* monotonic; 0 = no lifetime limit */
	bool broken;                      /* saw a connection-level error */
	unsigned last_error;              /* last error noted on this connection */
	unsigned deadlock_retries;        /* db_conn_retry_after's bound */
	unsigned statement_timeout_ms;    /* db_conn_retry_after's time budget */
	/*
	 * The deadline (db_conn_arm): the watchdog's thread reads these, so they
	 * are guarded by cut_lock; cut is also read without it (__atomic).
	 */
	pthread_mutex_t cut_lock;
	int cut_fd;                       /* the socket while armed, else -1 */
	long long cut_deadline_ms;        /* monotonic; 0 = not armed */
	bool cut;                         /* the socket was shut down at the deadline */
};

/* ---- pure policy ------------------------------------------------------------- */

unsigned db_lifetime_with_jitter(unsigned max_lifetime_ms, double r)
{
	/* HikariCP's "minor negative attenuation": up to 2.5 % shorter, never longer. */
	unsigned span = max_lifetime_ms / 40;

	if (max_lifetime_ms == 0)
		return 0;
	if (r < 0 || r >= 1)
		r = 0;
	if (span >= max_lifetime_ms)
		span = max_lifetime_ms - 1;
	return max_lifetime_ms - (unsigned)(r * (double)(span + 1));
}

long long db_statement_deadline(long long now_ms, unsigned statement_timeout_ms)
{
	if (statement_timeout_ms == 0)
		return 0;
	return now_ms + statement_timeout_ms + DB_DEADLINE_GRACE_MS;
}

int db_poll_timeout_ms(long long deadline_ms, long long now_ms, int wait_status,
		       unsigned lib_timeout_ms)
{
	long long ms = -1;

	if (deadline_ms != 0)
		ms = deadline_ms > now_ms ? deadline_ms - now_ms : 0;
	if ((wait_status & MYSQL_WAIT_TIMEOUT) && (ms < 0 || (long long)lib_timeout_ms < ms))
		ms = lib_timeout_ms;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

bool db_error_is_connection_lost(unsigned err)
{
	switch (err) {
	case CR_CONNECTION_ERROR:
	case CR_CONN_HOST_ERROR:
	case CR_SERVER_GONE_ERROR:
	case CR_SERVER_LOST:
	case CR_COMMANDS_OUT_OF_SYNC:
	case CR_SERVER_LOST_EXTENDED:
	case CR_STMT_CLOSED:
	case CR_ERR_NET_READ:
	case CR_ERR_NET_WRITE:
	case ER_CONNECTION_KILLED:
	case ER_SERVER_SHUTDOWN:
	case ER_CLIENT_INTERACTION_TIMEOUT_MYSQL:
		return true;
	default:
		return false;
	}
}

bool db_error_is_retryable(unsigned err)
{
	return err == ER_LOCK_DEADLOCK || err == ER_LOCK_WAIT_TIMEOUT;
}

/* The server status flags of the last reply, read through Connector/C's public API. */
static unsigned server_status(MYSQL *mysql)
{
	unsigned status = 0;

	if (mariadb_get_infov(mysql, MARIADB_CONNECTION_SERVER_STATUS, &status) != 0)
		return 0;
	return status;
}

bool db_conn_retry_after(struct db_conn *conn, unsigned err, unsigned attempt, long long started_ms)
{
	long long spent = clock_ms() - started_ms;
	unsigned budget = conn->statement_timeout_ms;
	unsigned backoff;

	if (!db_error_is_retryable(err) || attempt > conn->deadlock_retries)
		return false;
	/* Inside a transaction a retry would run the statement without what came before it. */
	if (conn->mysql == NULL || (server_status(conn->mysql) & SERVER_STATUS_IN_TRANS))
		return false;
	/* A lock wait that used the statement's whole budget is an answer, not a hiccup. */
	if (err == ER_LOCK_WAIT_TIMEOUT && (budget == 0 || spent >= (long long)budget))
		return false;
	if (budget > 0 && spent >= (long long)budget)
		return false;
	backoff = (1u << attempt) + (unsigned)(rng_unit() * 5.0 * attempt);
	log_info("db: %s (%u); retry %u of %u in %u ms",
		 err == ER_LOCK_DEADLOCK ? "deadlock" : "lock wait timeout", err, attempt,
		 conn->deadlock_retries, backoff);
	clock_sleep_ms(backoff);
	return true;
}

/* ---- waiting with a deadline ------------------------------------------------------ */

/*
 * One wait of a non-blocking Connector/C call: polls the socket for the
 * events in status until deadline_ms (or the library's own timeout) and
 * returns what happened, to pass to the call's _cont. Past the deadline it
 * shuts the socket down and sets *late: the call then fails at its next
 * read or write, and unwinds inside the library as after any lost
 * connection (its state freed, the handle closable).
 */
static int await_io(MYSQL *mysql, int status, long long deadline_ms, bool *late)
{
	struct pollfd p = { .fd = (int)mysql_get_socket(mysql), .events = 0 };
	int timeout, rc, ready = 0;

	if (!*late) {
		timeout = db_poll_timeout_ms(deadline_ms, clock_ms(), status,
					     (status & MYSQL_WAIT_TIMEOUT) ? mysql_get_timeout_value_ms(mysql) : 0);
		if (status & MYSQL_WAIT_READ)
			p.events |= POLLIN;
		if (status & MYSQL_WAIT_WRITE)
			p.events |= POLLOUT;
		if (status & MYSQL_WAIT_EXCEPT)
			p.events |= POLLPRI;
		do
			rc = poll(&p, 1, timeout);
		while (rc < 0 && errno == EINTR);
		if (rc > 0) {
			if (p.revents & (POLLIN | POLLHUP | POLLERR))
				ready |= MYSQL_WAIT_READ;
			if (p.revents & (POLLOUT | POLLHUP | POLLERR))
				ready |= MYSQL_WAIT_WRITE;
			if (p.revents & POLLPRI)
				ready |= MYSQL_WAIT_EXCEPT;
			return ready & status ? ready & status : status;
		}
		if (rc < 0 || deadline_ms == 0 || clock_ms() < deadline_ms)
			return MYSQL_WAIT_TIMEOUT; /* the library's own timeout (or poll failed) */
		*late = true;
	}
	if (p.fd >= 0)
		shutdown(p.fd, SHUT_RDWR);
	return status;
}

/* ---- opening ------------------------------------------------------------------- */

static bool nonempty(const char *s)
{
	return s != NULL && s[0] != '\0';
}

void db_tls_plan(const struct db_options *opt, struct db_tls_plan *plan)
{
	memset(plan, 0, sizeof *plan);
	plan->tls = nonempty(opt->ssl_ca) || nonempty(opt->ssl_cert);
	if (!plan->tls)
		return;
	if (nonempty(opt->ssl_cert)) {
		plan->cert = opt->ssl_cert;
		plan->key = nonempty(opt->ssl_key) ? opt->ssl_key : opt->ssl_cert;
	}
	plan->verify = opt->ssl_verify_server_cert;
	/* Connector/C checks the chain of any CA it is given: none, when nothing is to be checked. */
	if (plan->verify && nonempty(opt->ssl_ca))
		plan->ca = opt->ssl_ca;
}

/* What a failed TLS handshake under plan means, for the log: which check, and what to fix. */
static void tls_hint(const struct db_tls_plan *plan, const char *name, char *out, size_t outlen)
{
	if (!plan->verify)
		snprintf(out, outlen, "; TLS without verification (database.ssl_verify_server_cert = false)");
	else if (plan->ca != NULL)
		snprintf(out, outlen, "; TLS with verification: the server's certificate must be signed by "
			 "database.ssl_ca '%s' and name '%s' (database.ssl_verify_server_cert = false gives "
			 "up both checks)", plan->ca, name);
	else
		snprintf(out, outlen, "; TLS with verification: the server's certificate must be signed by a "
			 "CA of the system's store (no database.ssl_ca) and name '%s'", name);
}

/*
 * Hands the TLS plan to Connector/C. A CA file that cannot be read fails
 * here, with its name, rather than as an opaque handshake error.
 */
static int set_tls(MYSQL *mysql, const struct db_tls_plan *plan, char *err, size_t errlen)
{
	my_bool on = 1, verify = plan->verify ? 1 : 0;
	const char *files[][2] = { { "database.ssl_ca", plan->ca },
				   { "database.ssl_cert", plan->cert },
				   { "database.ssl_key", plan->key } };
	FILE *f;

	if (!plan->tls)
		return 0;
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		if (files[i][1] == NULL)
			continue;
		f = fopen(files[i][1], "r");
		if (f == NULL) {
			snprintf(err, errlen, "cannot read %s '%s': %s", files[i][0], files[i][1],
				 strerror(errno));
			return -1;
		}
		fclose(f);
	}
	if (mysql_optionsv(mysql, MYSQL_OPT_SSL_ENFORCE, &on) != 0 ||
	    mysql_optionsv(mysql, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify) != 0 ||
	    (plan->ca != NULL && mysql_optionsv(mysql, MYSQL_OPT_SSL_CA, plan->ca) != 0) ||
	    (plan->cert != NULL && mysql_optionsv(mysql, MYSQL_OPT_SSL_CERT, plan->cert) != 0) ||
	    (plan->key != NULL && mysql_optionsv(mysql, MYSQL_OPT_SSL_KEY, plan->key) != 0)) {
		snprintf(err, errlen, "cannot set up TLS on a MariaDB handle: %s", mysql_error(mysql));
		return -1;
	}
	return 0;
}

/*
 * The session settings, in one statement: UTC, and the statement time limit
 * (MariaDB: max_statement_time in seconds for every statement; Oracle MySQL:
 * max_execution_time in ms, SELECT only) with a lock wait no longer than it.
 */
static int set_session(MYSQL *mysql, const struct db_options *opt, long long deadline_ms,
		       char *err, size_t errlen)
{
	unsigned ms = opt->statement_timeout_ms;
	char sql[300];
	int n = snprintf(sql, sizeof sql, "SET time_zone = '+00:00'");
	int rc = 0, status;
	bool late = false;

	if (ms > 0 && strstr(mysql_get_server_info(mysql), "MariaDB") != NULL)
		n += snprintf(sql + n, sizeof sql - (size_t)n, ", max_statement_time = %u.%03u", ms / 1000,
			      ms % 1000);
	else if (ms > 0)
		n += snprintf(sql + n, sizeof sql - (size_t)n, ", max_execution_time = %u", ms);
	if (ms > 0)
		n += snprintf(sql + n, sizeof sql - (size_t)n, ", innodb_lock_wait_timeout = %u",
			      (ms + 999) / 1000);
	if (opt->session_sql != NULL && opt->session_sql[0] != '\0')
		n += snprintf(sql + n, sizeof sql - (size_t)n, ", %s", opt->session_sql);
	if (n >= (int)sizeof sql) {
		snprintf(err, errlen, "the session settings are too long");
		return -1;
	}
	if (deadline_ms == 0) {
		rc = mysql_real_query(mysql, sql, (unsigned long)n);
	} else {
		status = mysql_real_query_start(&rc, mysql, sql, (unsigned long)n);
		while (status != 0)
			status = mysql_real_query_cont(&rc, mysql, await_io(mysql, status, deadline_ms, &late));
	}
	if (rc != 0 || late) {
		snprintf(err, errlen, "cannot set up the MariaDB session (%s): %s (%u)", sql,
			 late ? "no answer before the deadline" : mysql_error(mysql), mysql_errno(mysql));
		return -1;
	}
	return 0;
}

MYSQL *db_connect(const struct db_options *opt, char *err, size_t errlen)
{
	return db_connect_by(opt, 0, err, errlen);
}

MYSQL *db_connect_by(const struct db_options *opt, long long deadline_ms, char *err, size_t errlen)
{
	MYSQL *mysql = mysql_init(NULL);
	const char *socket = opt->socket && *opt->socket ? opt->socket : NULL;
	const char *host = socket ? NULL : opt->host;
	unsigned port = socket ? 0 : opt->port;
	MYSQL *ret = NULL;
	my_bool off = 0;
	struct db_tls_plan tls;
	char where[300];

	if (mysql == NULL) {
		snprintf(err, errlen, "out of memory creating a MariaDB handle");
		return NULL;
	}
	if (socket)
		snprintf(where, sizeof where, "%s", socket);
	else
		snprintf(where, sizeof where, "%s:%u", host, port);
	db_tls_plan(opt, &tls);
	if (set_tls(mysql, &tls, err, errlen) < 0)
		goto fail;
	mysql_options(mysql, MYSQL_OPT_CONNECT_TIMEOUT, &opt->connect_timeout_s);
	mysql_options(mysql, MYSQL_OPT_READ_TIMEOUT, &opt->read_timeout_s);
	mysql_options(mysql, MYSQL_OPT_WRITE_TIMEOUT, &opt->write_timeout_s);
	/* Never: a reconnect would lose the session silently and could replay a write. */
	mysql_options(mysql, MYSQL_OPT_RECONNECT, &off);
	mysql_options(mysql, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	/* The non-blocking calls (db_conn_ping's, the bounded connect) need it; blocking ones still work. */
	if (mysql_options(mysql, MYSQL_OPT_NONBLOCK, 0) != 0) {
		snprintf(err, errlen, "out of memory setting up a MariaDB handle");
		goto fail;
	}
	/*
	 * The connect itself blocks, bounded by the deadline in whole seconds
	 * (MYSQL_OPT_CONNECT_TIMEOUT, which also bounds the handshake). Not the
	 * non-blocking mysql_real_connect_start: when the connection is refused
	 * (the server down), Connector/C 3.3 closes the socket twice, and in a
	 * threaded server the second close() hits whatever descriptor took that
	 * number meanwhile — a FastCGI connection, reset under nginx's request
	 * (seen as a 502 in e2e 75; strace: close(3) = 0, close(3) = EBADF).
	 */
	if (deadline_ms != 0) {
		long long left_ms = deadline_ms - clock_ms();
		unsigned bound = left_ms <= 1000 ? 1 : (unsigned)((left_ms + 999) / 1000);

		if (bound < opt->connect_timeout_s)
			mysql_options(mysql, MYSQL_OPT_CONNECT_TIMEOUT, &bound);
	}
	ret = mysql_real_connect(mysql, host, opt->user, opt->password, opt->database, port, socket,
				 opt->client_flags);
	if (ret == NULL) {
		bool late = deadline_ms != 0 && clock_ms() >= deadline_ms;

		int n = snprintf(err, errlen, "cannot connect to MariaDB at %s as '%s': %s%s (%u)", where,
				 opt->user,
				 late ? "no answer before the deadline (database.acquire_timeout_ms): " : "",
				 mysql_error(mysql), mysql_errno(mysql));

		if (mysql_errno(mysql) == CR_SSL_CONNECTION_ERROR && n > 0 && (size_t)n < errlen)
			tls_hint(&tls, socket ? "localhost" : host, err + n, errlen - (size_t)n);
		goto fail;
	}
	/* Connector/C 3.3 goes on in clear when the server offers no TLS and nothing is verified. */
	if (tls.tls && mysql_get_ssl_cipher(mysql) == NULL) {
		snprintf(err, errlen, "cannot connect to MariaDB at %s as '%s': the server does not offer TLS, "
			 "which database.ssl_ca (or ssl_cert) requires; refused rather than used in clear",
			 where, opt->user);
		goto fail;
	}
	if (set_session(mysql, opt, deadline_ms, err, errlen) < 0)
		goto fail;
	return mysql;
fail:
	mysql_close(mysql);
	return NULL;
}

struct db_conn *db_conn_new(unsigned deadlock_retries, unsigned statement_timeout_ms)
{
	struct db_conn *conn = xcalloc(1, sizeof *conn);

	conn->deadlock_retries = deadlock_retries;
	conn->statement_timeout_ms = statement_timeout_ms;
	pthread_mutex_init(&conn->cut_lock, NULL);
	conn->cut_fd = -1;
	return conn;
}

void db_conn_free(struct db_conn *conn)
{
	if (conn == NULL)
		return;
	db_conn_close(conn);
	pthread_mutex_destroy(&conn->cut_lock);
	free(conn);
}

int db_conn_open(struct db_conn *conn, const struct db_options *opt, unsigned max_lifetime_ms,
		 char *err, size_t errlen)
{
	return db_conn_open_by(conn, opt, max_lifetime_ms, 0, err, errlen);
}

int db_conn_open_by(struct db_conn *conn, const struct db_options *opt, unsigned max_lifetime_ms,
		    long long deadline_ms, char *err, size_t errlen)
{
	long long now;
	unsigned lifetime;

	conn->mysql = db_connect_by(opt, deadline_ms, err, errlen);
	if (conn->mysql == NULL)
		return -1;
	now = clock_ms();
	lifetime = db_lifetime_with_jitter(max_lifetime_ms, rng_unit());
	conn->last_used_ms = now;
	conn->expires_ms = lifetime > 0 ? now + lifetime : 0;
	conn->last_error = 0;
	return 0;
}

void db_conn_close(struct db_conn *conn)
{
	/* Disarmed before the socket closes: the watchdog never shuts down a reused descriptor. */
	pthread_mutex_lock(&conn->cut_lock);
	conn->cut_fd = -1;
	conn->cut_deadline_ms = 0;
	__atomic_store_n(&conn->cut, false, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&conn->cut_lock);
	for (unsigned i = 0; i < DB_MAX_STMTS; i++) {
		if (conn->stmts[i] != NULL)
			mysql_stmt_close(conn->stmts[i]);
		conn->stmts[i] = NULL;
	}
	if (conn->mysql != NULL)
		mysql_close(conn->mysql);
	conn->mysql = NULL;
	conn->broken = false;
	conn->expires_ms = 0;
}

/* ---- state ----------------------------------------------------------------------- */

bool db_conn_is_open(const struct db_conn *conn)
{
	return conn->mysql != NULL;
}

bool db_conn_is_broken(const struct db_conn *conn)
{
	return conn->broken || db_conn_was_cut(conn);
}

bool db_conn_expired(const struct db_conn *conn, long long now_ms)
{
	return conn->mysql != NULL && conn->expires_ms != 0 && now_ms >= conn->expires_ms;
}

long long db_conn_last_used(const struct db_conn *conn)
{
	return conn->last_used_ms;
}

void db_conn_touch(struct db_conn *conn, long long now_ms)
{
	conn->last_used_ms = now_ms;
}

MYSQL *db_conn_mysql(struct db_conn *conn)
{
	return conn->mysql;
}

unsigned db_conn_last_error(const struct db_conn *conn)
{
	return conn->last_error;
}

/* ---- checks ------------------------------------------------------------------------ */

int db_conn_ping(struct db_conn *conn, const char *who, long long deadline_ms)
{
	MYSQL *mysql = conn->mysql;
	bool late = false;
	int rc = 0, status;

	if (deadline_ms == 0) {
		rc = mysql_ping(mysql);
	} else {
		status = mysql_ping_start(&rc, mysql);
		while (status != 0)
			status = mysql_ping_cont(&rc, mysql, await_io(mysql, status, deadline_ms, &late));
	}
	if (rc == 0 && !late)
		return 0;
	if (late)
		log_info("db_pool: discarding a connection that failed %s: no answer before the deadline", who);
	else
		log_info("db_pool: discarding a connection that failed %s: %s (%u)", who, mysql_error(mysql),
			 mysql_errno(mysql));
	db_conn_close(conn);
	return -1;
}

void db_conn_arm(struct db_conn *conn, long long deadline_ms)
{
	pthread_mutex_lock(&conn->cut_lock);
	if (deadline_ms != 0 && conn->mysql != NULL && !__atomic_load_n(&conn->cut, __ATOMIC_RELAXED)) {
		conn->cut_fd = (int)mysql_get_socket(conn->mysql);
		conn->cut_deadline_ms = deadline_ms;
	} else {
		conn->cut_fd = -1;
		conn->cut_deadline_ms = 0;
	}
	pthread_mutex_unlock(&conn->cut_lock);
}

bool db_conn_cut_if_overdue(struct db_conn *conn, long long now_ms, long long *next_ms,
			    unsigned long long *cuts)
{
	bool cut = false;

	pthread_mutex_lock(&conn->cut_lock);
	if (conn->cut_deadline_ms != 0 && now_ms >= conn->cut_deadline_ms) {
		if (cuts != NULL)
			__atomic_add_fetch(cuts, 1, __ATOMIC_RELEASE);
		__atomic_store_n(&conn->cut, true, __ATOMIC_RELEASE);
		if (conn->cut_fd >= 0)
			shutdown(conn->cut_fd, SHUT_RDWR);
		conn->cut_fd = -1;
		conn->cut_deadline_ms = 0;
		cut = true;
	} else if (conn->cut_deadline_ms != 0 && conn->cut_deadline_ms < *next_ms) {
		*next_ms = conn->cut_deadline_ms;
	}
	pthread_mutex_unlock(&conn->cut_lock);
	return cut;
}

bool db_conn_was_cut(const struct db_conn *conn)
{
	return __atomic_load_n(&conn->cut, __ATOMIC_ACQUIRE);
}

/*
 * Whether a result is still waiting to be read. Connector/C has no public
 * getter for this client-side state (mysql_more_results only sees further
 * result sets of a multi-statement), so this is the one place that reads a
 * field of MYSQL; asking the server instead would cost a round trip on every
 * return.
 */
static bool results_pending(const MYSQL *mysql)
{
	return mysql->status != MYSQL_STATUS_READY;
}

const char *db_conn_reset(struct db_conn *conn, bool *rolled_back)
{
	MYSQL *mysql = conn->mysql;
	unsigned status;

	*rolled_back = false;
	if (results_pending(mysql))
		return "results left unread";
	status = server_status(mysql);
	if (!(status & SERVER_STATUS_IN_TRANS) && (status & SERVER_STATUS_AUTOCOMMIT))
		return NULL;
	*rolled_back = true;
	if (mysql_rollback(mysql) != 0)
		return "rollback failed";
	if (!(server_status(mysql) & SERVER_STATUS_AUTOCOMMIT) && mysql_autocommit(mysql, 1) != 0)
		return "autocommit could not be restored";
	log_warn("db_pool: a connection came back inside a transaction or with autocommit off: rolled back");
	return NULL;
}

/* ---- statements and errors ------------------------------------------------------- */

MYSQL_STMT *db_conn_stmt(struct db_conn *conn, unsigned id, const char *sql)
{
	MYSQL_STMT *stmt;

	if (id >= DB_MAX_STMTS)
		return NULL;
	if (conn->stmts[id] != NULL)
		return conn->stmts[id];
	stmt = mysql_stmt_init(conn->mysql);
	if (stmt == NULL) {
		db_conn_note_error(conn, mysql_errno(conn->mysql));
		return NULL;
	}
	if (mysql_stmt_prepare(stmt, sql, strlen(sql)) != 0) {
		log_debug("db: cannot prepare statement %u: %s (%u)", id, mysql_stmt_error(stmt),
			  mysql_stmt_errno(stmt));
		db_conn_note_error(conn, mysql_stmt_errno(stmt));
		mysql_stmt_close(stmt);
		return NULL;
	}
	conn->stmts[id] = stmt;
	return stmt;
}

void db_conn_clear_error(struct db_conn *conn)
{
	conn->last_error = 0;
}

void db_conn_note_error(struct db_conn *conn, unsigned err)
{
	conn->last_error = err;
	if (db_error_is_connection_lost(err))
		conn->broken = true;
}
