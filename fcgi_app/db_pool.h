#ifndef TASKAPI_DB_POOL_H
#define TASKAPI_DB_POOL_H

#include <mysql.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * A bounded pool of MariaDB connections (HikariCP's contract, Kore's shape):
 * fixed size, connections made lazily, a bounded wait to borrow one, a
 * liveness check only when a connection sat idle longer than a window, and
 * a connection that saw a connection-level error is thrown away, never
 * reconnected in place (MYSQL_OPT_RECONNECT stays off). Prepared statements
 * are cached per connection and die with it.
 *
 * A connection is used by one thread at a time: the borrower.
 */

#define DB_MAX_STMTS 16

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
	unsigned long client_flags; /* e.g. CLIENT_MULTI_STATEMENTS for migrations */
};

struct db_conn {
	MYSQL *mysql;                     /* NULL: slot not connected */
	MYSQL_STMT *stmts[DB_MAX_STMTS];  /* prepared lazily, owned by the connection */
	long long last_used_ms;           /* monotonic */
	bool broken;                      /* saw a connection-level error */
	unsigned last_error;              /* last error noted on this connection */
	bool in_use;
};

struct db_pool;

enum db_acquire_status {
	DB_ACQUIRED = 0,
	DB_POOL_TIMEOUT,    /* every connection stayed busy past the acquire timeout */
	DB_CONNECT_FAILED   /* the database did not answer */
};

/*
 * Opens a connection with the options' timeouts, utf8mb4 and UTC session time.
 * Returns NULL with a message in err (never containing the password).
 */
MYSQL *db_connect(const struct db_options *opt, char *err, size_t errlen);

/* A pool of size connections; options strings are copied. Caller frees with db_pool_free. */
struct db_pool *db_pool_new(const struct db_options *opt, unsigned size,
			    unsigned acquire_timeout_ms, unsigned validation_idle_ms);
/* Closes every idle connection; all borrowed ones must be back. */
void db_pool_free(struct db_pool *pool);

/*
 * Borrows a connection, waiting at most the acquire timeout. On DB_ACQUIRED
 * *out is the caller's until db_pool_release. On failure err says why
 * (for the log, not for clients).
 */
enum db_acquire_status db_pool_acquire(struct db_pool *pool, struct db_conn **out,
				       char *err, size_t errlen);
/*
 * Gives the connection back. A broken one is closed and its slot reconnects
 * on next use. Safe to call with NULL.
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

struct db_pool_stats {
	unsigned size;
	unsigned in_use;
	unsigned idle;
	unsigned waiters;
	unsigned long long timeouts;
	unsigned long long discarded;
};
void db_pool_get_stats(struct db_pool *pool, struct db_pool_stats *out);

#endif
