#ifndef TASKAPI_DB_POOL_H
#define TASKAPI_DB_POOL_H

#include <mysql.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * A bounded pool of MariaDB connections, with HikariCP's contract in Kore's
 * shape:
 *
 * - fixed size by default: every slot is kept connected (min_idle = size);
 *   a smaller min_idle opens the rest on demand;
 * - a bounded wait to borrow one (acquire timeout);
 * - a liveness check on borrow only when the connection sat idle longer
 *   than a window: a busy pool pays no ping;
 * - a maximum lifetime, shortened by up to 2.5 % at random per connection
 *   so that connections opened together do not retire together; checked
 *   when a connection is borrowed or returned and by the housekeeper, never
 *   while it is borrowed;
 * - one housekeeping thread per pool: pings connections idle longer than
 *   the keepalive, retires expired idle ones and refills min_idle after
 *   discards;
 * - on return: an open transaction is rolled back, autocommit restored,
 *   and a connection left with unread results is closed;
 * - a connection that saw a connection-level error is thrown away and
 *   replaced, never reconnected in place (MYSQL_OPT_RECONNECT stays off),
 *   so a statement is never silently replayed on a new connection.
 *
 * Prepared statements are cached per connection and die with it. A
 * connection is used by one thread at a time: the borrower (or, for a
 * ping, the housekeeper, while no borrower can take it).
 */

#define DB_MAX_STMTS 16

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
};

/* How the pool behaves; db_pool_options_init gives the defaults. */
struct db_pool_options {
	unsigned size;                /* connections at most */
	int min_idle;                 /* kept connected; < 0 or > size: size */
	unsigned acquire_timeout_ms;  /* longest wait for a free connection */
	unsigned validation_idle_ms;  /* ping on borrow only after this much idleness */
	unsigned max_lifetime_ms;     /* 0 = forever */
	unsigned keepalive_ms;        /* ping idle connections this often; 0 = never */
	unsigned deadlock_retries;    /* see db_conn_retry_after */
	unsigned wait_at_start_ms;    /* db_pool_acquire_at_start: 0 = fail fast */
};

struct db_conn {
	MYSQL *mysql;                     /* NULL: slot not connected */
	MYSQL_STMT *stmts[DB_MAX_STMTS];  /* prepared lazily, owned by the connection */
	long long last_used_ms;           /* monotonic */
	long long expires_ms;             /* monotonic; 0 = no lifetime limit */
	bool broken;                      /* saw a connection-level error */
	unsigned last_error;              /* last error noted on this connection */
	bool in_use;                      /* lent out, or held by the housekeeper */
	unsigned deadlock_retries;        /* copied from the pool's options */
	unsigned statement_timeout_ms;    /* copied from the connection options */
};

struct db_pool;

enum db_acquire_status {
	DB_ACQUIRED = 0,
	DB_POOL_TIMEOUT,    /* every connection stayed busy past the acquire timeout */
	DB_CONNECT_FAILED   /* the database did not answer */
};

/*
 * Opens a connection with the options' timeouts, utf8mb4, UTC session time
 * and the statement time limit. Returns NULL with a message in err (never
 * containing the password). Caller closes with mysql_close.
 */
MYSQL *db_connect(const struct db_options *opt, char *err, size_t errlen);

/* Fills *popt with the defaults for a pool of size connections. */
void db_pool_options_init(struct db_pool_options *popt, unsigned size);

/*
 * A pool; both option structs are copied (strings too). Connects nothing
 * yet. Caller frees with db_pool_free.
 */
struct db_pool *db_pool_new(const struct db_options *opt, const struct db_pool_options *popt);

/*
 * Starts the pool's housekeeping thread (keepalive, lifetime, min_idle).
 * Call once, in the process that serves, after mysql_library_init; the
 * thread blocks every signal. Returns 0, or -1 when the thread cannot be
 * created (the pool still works, without background upkeep).
 */
int db_pool_start_housekeeping(struct db_pool *pool);

/*
 * Stops the housekeeper, then closes every connection; all borrowed ones
 * must be back. Safe with NULL.
 */
void db_pool_free(struct db_pool *pool);

/*
 * Borrows a connection, waiting at most the acquire timeout. On DB_ACQUIRED
 * *out is the caller's until db_pool_release. On failure err says why
 * (for the log, not for clients).
 */
enum db_acquire_status db_pool_acquire(struct db_pool *pool, struct db_conn **out,
				       char *err, size_t errlen);

/*
 * db_pool_acquire for start-up: while the database refuses connections,
 * tries again every 500 ms until wait_at_start_ms has passed (0: once, fail
 * fast). Same contract as db_pool_acquire.
 */
enum db_acquire_status db_pool_acquire_at_start(struct db_pool *pool, struct db_conn **out,
						char *err, size_t errlen);

/*
 * Gives the connection back, rolling back a transaction the borrower left
 * open. A broken, expired or unclean one is closed and its slot reconnects
 * later. Safe to call with NULL or twice.
 */
void db_pool_release(struct db_pool *pool, struct db_conn *conn);

/*
 * The cached prepared statement id, preparing sql on first use. Returns
 * NULL on failure (and marks the connection broken if the error says the
 * connection is gone). Borrowed: owned by the connection.
 */
MYSQL_STMT *db_conn_stmt(struct db_conn *conn, unsigned id, const char *sql);

/* Records an error seen on conn: connection-level errors mark it broken. */
void db_conn_note_error(struct db_conn *conn, unsigned err);

/* True for errors after which the connection cannot be trusted (2006, 2013, ...). */
bool db_error_is_connection_lost(unsigned err);

/* True for errors after which InnoDB rolled the statement back: 1213, 1205. */
bool db_error_is_retryable(unsigned err);

/*
 * For a single-statement write that failed with err after attempt tries
 * (1 = the first), started_ms (monotonic) ago: returns true, after sleeping
 * a short random back-off, when it may run again. Only for retryable errors,
 * at most conn->deadlock_retries times, and only while the statement time
 * budget is not spent (a lock wait that used it all is not retried).
 */
bool db_conn_retry_after(struct db_conn *conn, unsigned err, unsigned attempt, long long started_ms);

/*
 * A connection's lifetime: max_lifetime_ms minus up to 2.5 % (at least
 * 1 ms of room kept), chosen with r, a random number in [0, 1). 0 stays 0.
 */
unsigned db_lifetime_with_jitter(unsigned max_lifetime_ms, double r);

struct db_pool_stats {
	unsigned size;
	unsigned min_idle;
	unsigned in_use;
	unsigned idle;
	unsigned waiters;
	unsigned long long timeouts;         /* acquires that gave up */
	unsigned long long discarded;        /* evictions: broken, failed validation or keepalive, unclean */
	unsigned long long created;          /* connections opened */
	unsigned long long connect_failures; /* connection attempts that failed */
	unsigned long long retired;          /* closed at the end of their lifetime */
	unsigned long long validations;      /* pings on borrow after the idle window */
	unsigned long long keepalive_pings;  /* pings by the housekeeper */
	unsigned long long rollbacks;        /* transactions left open and rolled back on return */
};

/* A consistent snapshot of the counters. */
void db_pool_get_stats(struct db_pool *pool, struct db_pool_stats *out);

#endif
