#ifndef TASKAPI_DB_POOL_H
#define TASKAPI_DB_POOL_H

#include <stdbool.h>
#include <stddef.h>

#include "db_conn.h"

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
 *   so a statement is never silently replayed on a new connection;
 * - deadlines that hold while the server is frozen (SIGSTOP, a network
 *   that drops everything): the validation ping and a borrower's connect
 *   end by the acquire deadline (non-blocking calls, polled), and a
 *   borrowed connection's work by the statement deadline
 *   (db_statement_deadline: statement_timeout_ms + DB_DEADLINE_GRACE_MS
 *   after the borrow), enforced by a watchdog thread that cuts the
 *   connection (db_conn_cut_if_overdue); a cut connection is discarded on
 *   return, never reused.
 *
 * The connection itself (opening, statements, errors, lifetime, reset) is
 * db_conn.c's; the pool decides when and counts. A connection is used by
 * one thread at a time: the borrower (or, for a ping, the housekeeper,
 * while no borrower can take it).
 */

/*
 * The pool's defaults, defined once: db_pool_options_init and the
 * configuration's [database] keys (config.c) both use them.
 */
#define DB_POOL_DEFAULT_ACQUIRE_TIMEOUT_MS 2000
#define DB_POOL_DEFAULT_VALIDATION_IDLE_MS 500
#define DB_POOL_DEFAULT_MAX_LIFETIME_S 1800
#define DB_POOL_DEFAULT_KEEPALIVE_S 120
#define DB_POOL_DEFAULT_DEADLOCK_RETRIES 3
#define DB_POOL_DEFAULT_WAIT_AT_START_S 0

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

struct db_pool;

enum db_acquire_status {
	DB_ACQUIRED = 0,
	DB_POOL_TIMEOUT,    /* every connection stayed busy past the acquire timeout */
	DB_CONNECT_FAILED   /* the database did not answer */
};

/* Fills *popt with the defaults for a pool of size connections. */
void db_pool_options_init(struct db_pool_options *popt, unsigned size);

/*
 * A pool; both option structs are copied (strings too). Connects nothing
 * yet. Caller frees with db_pool_free.
 */
struct db_pool *db_pool_new(const struct db_options *opt, const struct db_pool_options *popt);

/*
 * Starts the pool's housekeeping thread (keepalive, lifetime, min_idle) and
 * its watchdog (statement deadlines). Call once, in the process that
 * serves, after mysql_library_init; the threads block every signal.
 * Returns 0, or -1 when a thread cannot be created (the pool still works,
 * without background upkeep or without client-side statement deadlines:
 * read_timeout_s bounds those then).
 */
int db_pool_start_housekeeping(struct db_pool *pool);

/*
 * Stops the housekeeper and the watchdog, then closes every connection; all
 * borrowed ones must be back. Safe with NULL.
 */
void db_pool_free(struct db_pool *pool);

/*
 * Borrows a connection, waiting at most the acquire timeout, the validation
 * ping or a new connection included (a server that does not answer costs
 * no more, though the check always gets 250 ms at least). On DB_ACQUIRED
 * *out is the caller's until db_pool_release, with the statement deadline
 * armed: past it the connection is cut, and what runs on it fails as a lost
 * connection. On failure err says why (for the log, not for clients).
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
 * Gives *conn back, rolling back a transaction the borrower left open, and
 * sets *conn to NULL: the caller's pointer can no longer reach a connection
 * another thread may borrow next. A broken, expired or unclean one is
 * closed and its slot reconnects later. Does nothing when *conn is NULL, so
 * a second call is harmless.
 */
void db_pool_release(struct db_pool *pool, struct db_conn **conn);

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
	unsigned long long cuts;             /* borrowed connections cut at their statement deadline */
};

/* A consistent snapshot of the counters. */
void db_pool_get_stats(struct db_pool *pool, struct db_pool_stats *out);

#endif
