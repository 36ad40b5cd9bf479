#ifndef TASKAPI_DB_CONN_H
#define TASKAPI_DB_CONN_H

#include <mysql.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * One MariaDB connection and its own life: how it is opened (options,
 * utf8mb4, session settings), its cache of prepared statements, the errors
 * it saw, its lifetime, and how it is checked and cleaned. It knows nothing
 * of pools: db_pool.c decides when to open, ping, reset and close, and
 * counts what happened.
 *
 * A connection is opaque outside db_conn.c. It is used by one thread at a
 * time; nothing here locks.
 */

/* Statement ids a connection caches (see db_conn_stmt). */
#define DB_MAX_STMTS 24

/*
 * How long after database.statement_timeout_ms a borrowed connection's work
 * is cut from the client side (db_statement_deadline): room for the
 * server's own answer (max_statement_time, the lock wait timeout) to arrive
 * first while the server is alive.
 */
#define DB_DEADLINE_GRACE_MS 500

/* How one connection is opened. */
struct db_options {
	const char *socket;   /* used when non-empty, else host/port */
	const char *host;
	unsigned port;
	const char *user;
	const char *password;
	const char *database;
	unsigned connect_timeout_s;
	unsigned read_timeout_s;
	unsigned write_timeout_s;
	/*
	 * Per-statement time limit, 0 = none. MariaDB: max_statement_time;
	 * Oracle MySQL: max_execution_time (SELECT only). The session's
	 * innodb_lock_wait_timeout becomes this, rounded up to seconds.
	 */
	unsigned statement_timeout_ms;
	unsigned long client_flags; /* e.g. CLIENT_MULTI_STATEMENTS for migrations */
	/* More session settings ("name = value, ..."), set with the others at connect; NULL: none. Borrowed (a literal): pools copy the pointer only. */
	const char *session_sql;
	/*
	 * TLS to the server (see db_tls_plan): with ssl_ca (or a client
	 * certificate) set, every connection is encrypted or refused. Paths,
	 * "" or NULL = not set.
	 */
	const char *ssl_ca;
	const char *ssl_cert;       /* client certificate, with ssl_key */
	const char *ssl_key;
	bool ssl_verify_server_cert; /* the CA signed it and it names host (or the IP) */
};

/*
 * What db_connect asks Connector/C for, decided from the options alone.
 * Connector/C 3.3 (libmariadb/secure/openssl.c, plugins/auth/my_auth.c)
 * checks the certificate chain whenever it is given a CA, whatever
 * MYSQL_OPT_SSL_VERIFY_SERVER_CERT says, and refuses a server without TLS
 * only when that option is on. So: with verification, the CA is handed over
 * and the option set (chain, then the host name against the certificate's
 * SAN/CN with X509_check_host, or the IP with X509_check_ip_asc); without,
 * the CA is not handed over (nothing is checked), and db_connect itself
 * refuses a connection that did not end up encrypted.
 */
struct db_tls_plan {
	bool tls;          /* encrypt, or refuse to connect */
	const char *ca;    /* to MYSQL_OPT_SSL_CA; NULL = none */
	const char *cert;  /* to MYSQL_OPT_SSL_CERT / _KEY; NULL = none */
	const char *key;
	bool verify;       /* MYSQL_OPT_SSL_VERIFY_SERVER_CERT */
};

/* Fills plan from opt. The strings are opt's (borrowed). */
void db_tls_plan(const struct db_options *opt, struct db_tls_plan *plan);

struct db_conn;

/*
 * Opens a bare connection with the options' timeouts, utf8mb4, UTC session
 * time and the statement time limit, and never a silent reconnect; over TLS
 * as db_tls_plan says, a connection asked to be encrypted that is not being
 * refused. Returns NULL with a message in err (never containing the
 * password; a TLS failure names the CA file and the host the certificate
 * must name). Caller closes with mysql_close.
 */
MYSQL *db_connect(const struct db_options *opt, char *err, size_t errlen);

/*
 * A connection, not yet open. deadlock_retries bounds db_conn_retry_after;
 * statement_timeout_ms is its time budget (the one db_options asks the
 * session for). Caller frees with db_conn_free.
 */
struct db_conn *db_conn_new(unsigned deadlock_retries, unsigned statement_timeout_ms);

/* Closes the connection (if open) and frees it. Safe with NULL. */
void db_conn_free(struct db_conn *conn);

/*
 * db_connect bounded by deadline_ms (monotonic; 0: only by the options'
 * timeouts): the connect and handshake by a connect timeout of the whole
 * seconds left (at least 1), the session set-up through Connector/C's
 * non-blocking API, polled until the deadline; a server that has not
 * answered by then (a frozen one) is given up on.
 */
MYSQL *db_connect_by(const struct db_options *opt, long long deadline_ms, char *err, size_t errlen);

/*
 * Connects (db_connect). Its lifetime is max_lifetime_ms shortened at random
 * (db_lifetime_with_jitter), 0 = forever; it counts as used now. Returns 0,
 * or -1 with a message in err, the connection staying closed.
 */
int db_conn_open(struct db_conn *conn, const struct db_options *opt, unsigned max_lifetime_ms,
		 char *err, size_t errlen);

/* db_conn_open with the connect bounded by deadline_ms (see db_connect_by). */
int db_conn_open_by(struct db_conn *conn, const struct db_options *opt, unsigned max_lifetime_ms,
		    long long deadline_ms, char *err, size_t errlen);

/* Closes the connection and its statements; it may be opened again. Safe when closed. */
void db_conn_close(struct db_conn *conn);

bool db_conn_is_open(const struct db_conn *conn);

/*
 * True after a connection-level error (db_conn_note_error) or a cut
 * (db_conn_cut_if_overdue): close it, never reuse.
 */
bool db_conn_is_broken(const struct db_conn *conn);

/* True when open and past its lifetime at now_ms (monotonic). */
bool db_conn_expired(const struct db_conn *conn, long long now_ms);

/* When it was last used (monotonic ms), and marking it used at now_ms. */
long long db_conn_last_used(const struct db_conn *conn);
void db_conn_touch(struct db_conn *conn, long long now_ms);

/*
 * Pings an open connection, waiting for the answer until deadline_ms
 * (monotonic; 0: only read_timeout_s bounds it). Returns 0 when alive;
 * otherwise logs why (who names the check: "validation", "keepalive"),
 * closes it and returns -1. The wait is Connector/C's non-blocking ping
 * polled on the socket: a frozen server costs the deadline, not
 * read_timeout_s.
 */
int db_conn_ping(struct db_conn *conn, const char *who, long long deadline_ms);

/*
 * Deadlines that hold while the server is frozen. read_timeout_s bounds one
 * read() in whole seconds, not a statement; so a connection's holder arms a
 * deadline, and another thread (the pool's watchdog) calls
 * db_conn_cut_if_overdue, which shuts the socket down once the deadline has
 * passed: whatever the holder is blocked in (a statement, a fetch, a
 * rollback) fails at once with a lost connection (2013), and the connection
 * counts as broken from then on. Only the socket is touched across threads,
 * under the connection's own lock, which db_conn_close takes before it
 * closes the socket: a cut never reaches a descriptor number reused since.
 */

/* Arms (deadline_ms, monotonic) or disarms (0); by the thread that holds the connection. */
void db_conn_arm(struct db_conn *conn, long long deadline_ms);

/*
 * Any thread: when armed and now_ms is past the deadline, cuts (counts it in
 * *cuts when not NULL, marks the connection cut, then shuts the socket down,
 * so that the holder woken by the shutdown already sees both) and returns
 * true. When armed with a deadline still ahead, lowers *next_ms to it.
 */
bool db_conn_cut_if_overdue(struct db_conn *conn, long long now_ms, long long *next_ms,
			    unsigned long long *cuts);

/* True when the connection was cut since it was opened. */
bool db_conn_was_cut(const struct db_conn *conn);

/*
 * The client-side deadline for work started at now_ms under a statement time
 * limit of statement_timeout_ms: that limit plus DB_DEADLINE_GRACE_MS; 0 (no
 * deadline) when there is no limit.
 */
long long db_statement_deadline(long long now_ms, unsigned statement_timeout_ms);

/*
 * How long to poll for a non-blocking call that waits for wait_status
 * (MYSQL_WAIT_*): until deadline_ms, or the library's own timeout
 * (lib_timeout_ms, when wait_status has MYSQL_WAIT_TIMEOUT) if sooner; 0 when
 * the deadline has passed; -1 (no limit) when neither applies.
 */
int db_poll_timeout_ms(long long deadline_ms, long long now_ms, int wait_status,
		       unsigned lib_timeout_ms);

/*
 * Puts a returned open connection back into a known state: no unread
 * results, no open transaction, autocommit on. Returns NULL when it may be
 * reused, or why not (a static string). *rolled_back tells whether a
 * transaction had to be rolled back. Costs nothing on the usual path: the
 * checks read client-side state.
 */
const char *db_conn_reset(struct db_conn *conn, bool *rolled_back);

/* The open connection's handle, NULL when closed. Borrowed: valid until it is closed. */
MYSQL *db_conn_mysql(struct db_conn *conn);

/* The last error db_conn_note_error recorded (0: none since it was opened). */
unsigned db_conn_last_error(const struct db_conn *conn);

/*
 * The cached prepared statement id (< DB_MAX_STMTS), preparing sql on first
 * use. Returns NULL on failure (and notes the error, so a lost connection is
 * marked broken). Borrowed: owned by the connection, closed with it.
 */
MYSQL_STMT *db_conn_stmt(struct db_conn *conn, unsigned id, const char *sql);

/* Forgets the last error (a new borrower starts with none). */
void db_conn_clear_error(struct db_conn *conn);

/* Records an error seen on conn: connection-level errors mark it broken. */
void db_conn_note_error(struct db_conn *conn, unsigned err);

/* True for errors after which the connection cannot be trusted (2006, 2013, ...). */
bool db_error_is_connection_lost(unsigned err);

/* True for errors after which InnoDB rolled the statement back: 1213, 1205. */
bool db_error_is_retryable(unsigned err);

/*
 * For a single-statement write that failed with err after attempt tries
 * (1 = the first), started_ms (monotonic) ago: returns true, after sleeping
 * a short random back-off, when it may run again. Only for retryable errors
 * on an open connection outside a transaction, at most deadlock_retries
 * times, and only while the statement time budget is not spent (a lock wait
 * that used it all is not retried).
 */
bool db_conn_retry_after(struct db_conn *conn, unsigned err, unsigned attempt, long long started_ms);

/*
 * A connection's lifetime: max_lifetime_ms minus up to 2.5 % (at least
 * 1 ms of room kept), chosen with r, a random number in [0, 1). 0 stays 0.
 */
unsigned db_lifetime_with_jitter(unsigned max_lifetime_ms, double r);

#endif
