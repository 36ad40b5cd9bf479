#include "db_pool.h"

#include <errmsg.h>
#include <errno.h>
#include <mysqld_error.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "rng.h"
#include "trace.h"
#include "xalloc.h"

/* The housekeeper's rhythm: keepalive and lifetime are checked this often. */
#define HOUSEKEEPING_PERIOD_MS 1000
/* db_pool_acquire_at_start: pause between two connection attempts. */
#define START_RETRY_MS 500
/* MySQL 8.0.24+: "disconnected by the server because of inactivity" (not in MariaDB's headers). */
#define ER_CLIENT_INTERACTION_TIMEOUT_MYSQL 4031

struct db_pool_counters {
	unsigned long long timeouts, discarded, created, connect_failures, retired;
	unsigned long long validations, keepalive_pings, rollbacks;
};

struct db_pool {
	pthread_mutex_t lock;
	pthread_cond_t available;       /* a slot came free */
	pthread_cond_t wake;            /* the housekeeper has work, or must stop */
	struct db_options opt;          /* strings point into owned */
	struct db_options borrow_opt;   /* opt, connect timeout capped by the acquire timeout */
	struct {
		char *socket, *host, *user, *password, *database;
	} owned;
	struct db_pool_options popt;
	unsigned min_idle;
	struct db_conn *conns;
	unsigned in_use;                /* lent to borrowers (not the housekeeper's) */
	unsigned waiters;
	pthread_t housekeeper;
	bool housekeeping;              /* the thread runs */
	bool stopping;
	bool refill_failing;            /* the last refill failed: log only the first */
	struct db_pool_counters n;      /* updated with __atomic */
};

/* ---- small helpers -------------------------------------------------------- */

static void bump(unsigned long long *counter)
{
	__atomic_add_fetch(counter, 1, __ATOMIC_RELAXED);
}

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

/* ---- errors ---------------------------------------------------------------- */

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

bool db_conn_retry_after(struct db_conn *conn, unsigned err, unsigned attempt, long long started_ms)
{
	long long spent = clock_ms() - started_ms;
	unsigned budget = conn->statement_timeout_ms;
	unsigned backoff;

	if (!db_error_is_retryable(err) || attempt > conn->deadlock_retries)
		return false;
	/* Inside a transaction a retry would run the statement without what came before it. */
	if (conn->mysql == NULL || (conn->mysql->server_status & SERVER_STATUS_IN_TRANS))
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

/* ---- one connection ---------------------------------------------------------- */

/*
 * The session settings, in one statement: UTC, and the statement time limit
 * (MariaDB: max_statement_time in seconds for every statement; Oracle MySQL:
 * max_execution_time in ms, SELECT only) with a lock wait no longer than it.
 */
static int set_session(MYSQL *mysql, const struct db_options *opt, char *err, size_t errlen)
{
	unsigned ms = opt->statement_timeout_ms;
	char sql[200];
	int n = snprintf(sql, sizeof sql, "SET time_zone = '+00:00'");

	if (ms > 0 && strstr(mysql_get_server_info(mysql), "MariaDB") != NULL)
		n += snprintf(sql + n, sizeof sql - (size_t)n, ", max_statement_time = %u.%03u", ms / 1000,
			      ms % 1000);
	else if (ms > 0)
		n += snprintf(sql + n, sizeof sql - (size_t)n, ", max_execution_time = %u", ms);
	if (ms > 0)
		n += snprintf(sql + n, sizeof sql - (size_t)n, ", innodb_lock_wait_timeout = %u",
			      (ms + 999) / 1000);
	if (mysql_real_query(mysql, sql, (unsigned long)n) != 0) {
		snprintf(err, errlen, "cannot set up the MariaDB session (%s): %s (%u)", sql,
			 mysql_error(mysql), mysql_errno(mysql));
		return -1;
	}
	return 0;
}

MYSQL *db_connect(const struct db_options *opt, char *err, size_t errlen)
{
	MYSQL *mysql = mysql_init(NULL);
	const char *socket = opt->socket && *opt->socket ? opt->socket : NULL;
	my_bool off = 0;

	if (mysql == NULL) {
		snprintf(err, errlen, "out of memory creating a MariaDB handle");
		return NULL;
	}
	mysql_options(mysql, MYSQL_OPT_CONNECT_TIMEOUT, &opt->connect_timeout_s);
	mysql_options(mysql, MYSQL_OPT_READ_TIMEOUT, &opt->read_timeout_s);
	mysql_options(mysql, MYSQL_OPT_WRITE_TIMEOUT, &opt->write_timeout_s);
	/* Never: a reconnect would lose the session silently and could replay a write. */
	mysql_options(mysql, MYSQL_OPT_RECONNECT, &off);
	mysql_options(mysql, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	if (mysql_real_connect(mysql, socket ? NULL : opt->host, opt->user, opt->password,
			       opt->database, socket ? 0 : opt->port, socket,
			       opt->client_flags) == NULL) {
		snprintf(err, errlen, "cannot connect to MariaDB at %s as '%s': %s (%u)",
			 socket ? socket : opt->host, opt->user, mysql_error(mysql), mysql_errno(mysql));
		goto fail;
	}
	if (set_session(mysql, opt, err, errlen) < 0)
		goto fail;
	return mysql;
fail:
	mysql_close(mysql);
	return NULL;
}

/* Closes the connection and its statements; the slot can connect again. */
static void conn_close(struct db_conn *conn)
{
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

/* Fills an empty slot (no lock held: the slot is reserved by the caller). */
static int conn_open(struct db_pool *pool, struct db_conn *conn, const struct db_options *opt,
		     char *err, size_t errlen)
{
	long long now;
	unsigned lifetime;

	conn->mysql = db_connect(opt, err, errlen);
	if (conn->mysql == NULL) {
		bump(&pool->n.connect_failures);
		return -1;
	}
	bump(&pool->n.created);
	now = clock_ms();
	lifetime = db_lifetime_with_jitter(pool->popt.max_lifetime_ms, rng_unit());
	conn->last_used_ms = now;
	conn->expires_ms = lifetime > 0 ? now + lifetime : 0;
	conn->last_error = 0;
	return 0;
}

static bool conn_expired(const struct db_conn *conn, long long now)
{
	return conn->mysql != NULL && conn->expires_ms != 0 && now >= conn->expires_ms;
}

static void conn_discard(struct db_pool *pool, struct db_conn *conn)
{
	conn_close(conn);
	bump(&pool->n.discarded);
}

static void conn_retire(struct db_pool *pool, struct db_conn *conn)
{
	conn_close(conn);
	bump(&pool->n.retired);
}

/* Pings conn; on failure it is discarded. Returns 0 when the connection is alive. */
static int conn_ping(struct db_pool *pool, struct db_conn *conn, const char *who)
{
	if (mysql_ping(conn->mysql) == 0)
		return 0;
	log_info("db_pool: discarding a connection that failed %s: %s (%u)", who,
		 mysql_error(conn->mysql), mysql_errno(conn->mysql));
	conn_discard(pool, conn);
	return -1;
}

/*
 * Puts a returned connection back into a known state: no unread results, no
 * open transaction, autocommit on. Returns the reason it cannot be reused, or
 * NULL. Costs nothing on the usual path: both checks read client-side flags.
 */
static const char *conn_reset(struct db_pool *pool, struct db_conn *conn)
{
	MYSQL *mysql = conn->mysql;

	if (mysql->status != MYSQL_STATUS_READY)
		return "results left unread";
	if (!(mysql->server_status & SERVER_STATUS_IN_TRANS) &&
	    (mysql->server_status & SERVER_STATUS_AUTOCOMMIT))
		return NULL;
	bump(&pool->n.rollbacks);
	if (mysql_rollback(mysql) != 0)
		return "rollback failed";
	if (!(mysql->server_status & SERVER_STATUS_AUTOCOMMIT) && mysql_autocommit(mysql, 1) != 0)
		return "autocommit could not be restored";
	log_warn("db_pool: a connection came back inside a transaction or with autocommit off: rolled back");
	return NULL;
}

/* ---- the pool ---------------------------------------------------------------- */

static char *dup_or_empty(const char *s)
{
	return xstrdup(s ? s : "");
}

void db_pool_options_init(struct db_pool_options *popt, unsigned size)
{
	memset(popt, 0, sizeof *popt);
	popt->size = size;
	popt->min_idle = -1;
	popt->acquire_timeout_ms = 2000;
	popt->validation_idle_ms = 500;
	popt->max_lifetime_ms = 1800 * 1000;
	popt->keepalive_ms = 120 * 1000;
	popt->deadlock_retries = 3;
	popt->wait_at_start_ms = 0;
}

static void copy_db_options(struct db_pool *pool, const struct db_options *opt)
{
	unsigned cap_s = (pool->popt.acquire_timeout_ms + 999) / 1000;

	pool->opt = *opt;
	pool->opt.socket = pool->owned.socket = dup_or_empty(opt->socket);
	pool->opt.host = pool->owned.host = dup_or_empty(opt->host);
	pool->opt.user = pool->owned.user = dup_or_empty(opt->user);
	pool->opt.password = pool->owned.password = dup_or_empty(opt->password);
	pool->opt.database = pool->owned.database = dup_or_empty(opt->database);
	/* A borrower never waits on a connect longer than it would wait for a free connection. */
	pool->borrow_opt = pool->opt;
	if (cap_s < pool->borrow_opt.connect_timeout_s)
		pool->borrow_opt.connect_timeout_s = cap_s;
}

struct db_pool *db_pool_new(const struct db_options *opt, const struct db_pool_options *popt)
{
	struct db_pool *pool = xcalloc(1, sizeof *pool);
	pthread_condattr_t attr;

	pthread_mutex_init(&pool->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&pool->available, &attr);
	pthread_cond_init(&pool->wake, &attr);
	pthread_condattr_destroy(&attr);
	pool->popt = *popt;
	if (pool->popt.size == 0)
		pool->popt.size = 1;
	pool->min_idle = popt->min_idle < 0 || (unsigned)popt->min_idle > pool->popt.size
				 ? pool->popt.size : (unsigned)popt->min_idle;
	copy_db_options(pool, opt);
	pool->conns = xcalloc(pool->popt.size, sizeof *pool->conns);
	for (unsigned i = 0; i < pool->popt.size; i++) {
		pool->conns[i].deadlock_retries = popt->deadlock_retries;
		pool->conns[i].statement_timeout_ms = opt->statement_timeout_ms;
	}
	return pool;
}

static void stop_housekeeping(struct db_pool *pool)
{
	pthread_mutex_lock(&pool->lock);
	pool->stopping = true;
	pthread_cond_broadcast(&pool->wake);
	pthread_mutex_unlock(&pool->lock);
	if (pool->housekeeping)
		pthread_join(pool->housekeeper, NULL);
	pool->housekeeping = false;
}

void db_pool_free(struct db_pool *pool)
{
	if (pool == NULL)
		return;
	stop_housekeeping(pool);
	for (unsigned i = 0; i < pool->popt.size; i++)
		conn_close(&pool->conns[i]);
	free(pool->conns);
	free(pool->owned.socket);
	free(pool->owned.host);
	free(pool->owned.user);
	free(pool->owned.password);
	free(pool->owned.database);
	pthread_cond_destroy(&pool->wake);
	pthread_cond_destroy(&pool->available);
	pthread_mutex_destroy(&pool->lock);
	free(pool);
}

/* ---- borrowing ------------------------------------------------------------- */

/* Picks a free slot under the lock: a connected one first, so warm connections are reused. */
static struct db_conn *take_free_slot(struct db_pool *pool)
{
	struct db_conn *cold = NULL;

	for (unsigned i = 0; i < pool->popt.size; i++) {
		struct db_conn *c = &pool->conns[i];

		if (c->in_use)
			continue;
		if (c->mysql != NULL) {
			c->in_use = true;
			return c;
		}
		if (cold == NULL)
			cold = c;
	}
	if (cold != NULL)
		cold->in_use = true;
	return cold;
}

/* Unreserves a slot; a slot left empty wakes the housekeeper to refill it. */
static void give_back(struct db_pool *pool, struct db_conn *conn, bool borrowed)
{
	pthread_mutex_lock(&pool->lock);
	conn->in_use = false;
	if (borrowed)
		pool->in_use--;
	pthread_cond_signal(&pool->available);
	if (conn->mysql == NULL)
		pthread_cond_signal(&pool->wake);
	pthread_mutex_unlock(&pool->lock);
}

/* Makes sure a borrowed slot holds a live connection. Runs without the lock. */
static int ensure_live(struct db_pool *pool, struct db_conn *conn, char *err, size_t errlen)
{
	long long now = clock_ms();

	if (conn_expired(conn, now)) {
		conn_retire(pool, conn);
	} else if (conn->mysql != NULL &&
		   now - conn->last_used_ms > (long long)pool->popt.validation_idle_ms) {
		/* Validate only after an idle window (HikariCP's alive bypass): a busy pool pays nothing. */
		bump(&pool->n.validations);
		conn_ping(pool, conn, "validation");
	}
	if (conn->mysql == NULL && conn_open(pool, conn, &pool->borrow_opt, err, errlen) < 0)
		return -1;
	conn->last_used_ms = now;
	return 0;
}

static enum db_acquire_status acquire(struct db_pool *pool, struct db_conn **out,
				      char *err, size_t errlen)
{
	struct db_conn *conn;
	struct timespec deadline;

	*out = NULL;
	clock_deadline_after(&deadline, pool->popt.acquire_timeout_ms);
	pthread_mutex_lock(&pool->lock);
	while ((conn = take_free_slot(pool)) == NULL) {
		int rc;

		pool->waiters++;
		rc = pthread_cond_timedwait(&pool->available, &pool->lock, &deadline);
		pool->waiters--;
		if (rc == ETIMEDOUT) {
			conn = take_free_slot(pool);
			if (conn != NULL)
				break;
			pthread_mutex_unlock(&pool->lock);
			bump(&pool->n.timeouts);
			snprintf(err, errlen, "no database connection free within %u ms (pool size %u)",
				 pool->popt.acquire_timeout_ms, pool->popt.size);
			return DB_POOL_TIMEOUT;
		}
	}
	pool->in_use++;
	pthread_mutex_unlock(&pool->lock);

	if (ensure_live(pool, conn, err, errlen) < 0) {
		give_back(pool, conn, true);
		return DB_CONNECT_FAILED;
	}
	*out = conn;
	return DB_ACQUIRED;
}

/* The request's pool wait (access and slow logs, metrics) is the time spent here. */
enum db_acquire_status db_pool_acquire(struct db_pool *pool, struct db_conn **out,
				       char *err, size_t errlen)
{
	long long start = clock_ns();
	enum db_acquire_status status = acquire(pool, out, err, errlen);

	trace_pool_wait(clock_ns() - start);
	return status;
}

enum db_acquire_status db_pool_acquire_at_start(struct db_pool *pool, struct db_conn **out,
						char *err, size_t errlen)
{
	long long deadline = clock_ms() + pool->popt.wait_at_start_ms;
	enum db_acquire_status status;
	bool said = false;

	while ((status = db_pool_acquire(pool, out, err, errlen)) == DB_CONNECT_FAILED) {
		long long left = deadline - clock_ms();

		if (left <= 0)
			break;
		if (!said)
			log_warn("%s; waiting up to %u s for the database (database.wait_at_start_s)", err,
				 pool->popt.wait_at_start_ms / 1000);
		said = true;
		clock_sleep_ms(left < START_RETRY_MS ? (unsigned)left : START_RETRY_MS);
	}
	if (status == DB_ACQUIRED && said)
		log_info("db_pool: the database answers; starting");
	return status;
}

/* A returned connection: kept (clean, within its lifetime), or closed and counted. */
static void settle(struct db_pool *pool, struct db_conn *conn)
{
	const char *why;

	if (conn->mysql == NULL)
		return;
	if (conn->broken) {
		conn_discard(pool, conn);
		return;
	}
	why = conn_reset(pool, conn);
	if (why != NULL) {
		log_warn("db_pool: discarding a returned connection: %s", why);
		conn_discard(pool, conn);
	} else if (conn_expired(conn, clock_ms())) {
		conn_retire(pool, conn);
	} else {
		conn->last_used_ms = clock_ms();
	}
}

void db_pool_release(struct db_pool *pool, struct db_conn *conn)
{
	if (conn == NULL || !conn->in_use)
		return;
	settle(pool, conn);
	give_back(pool, conn, true);
}

/* ---- housekeeping ------------------------------------------------------------ */

enum upkeep { UPKEEP_NONE, UPKEEP_RETIRE, UPKEEP_PING, UPKEEP_FILL };

/* What an idle connected slot needs now. */
static enum upkeep upkeep_of(const struct db_pool *pool, const struct db_conn *c, long long now)
{
	if (conn_expired(c, now))
		return UPKEEP_RETIRE;
	if (pool->popt.keepalive_ms > 0 && now - c->last_used_ms >= (long long)pool->popt.keepalive_ms)
		return UPKEEP_PING;
	return UPKEEP_NONE;
}

/* Under the lock: the next slot needing care, reserved for the housekeeper. */
static struct db_conn *take_upkeep_slot(struct db_pool *pool, bool may_fill, enum upkeep *what)
{
	long long now = clock_ms();
	unsigned idle = 0;
	struct db_conn *cold = NULL;

	for (unsigned i = 0; i < pool->popt.size; i++) {
		struct db_conn *c = &pool->conns[i];

		if (c->in_use)
			continue;
		if (c->mysql == NULL) {
			cold = cold ? cold : c;
			continue;
		}
		*what = upkeep_of(pool, c, now);
		if (*what != UPKEEP_NONE) {
			c->in_use = true;
			return c;
		}
		idle++;
	}
	/* HikariCP's minimumIdle: open one more while fewer than min_idle sit idle. */
	*what = UPKEEP_FILL;
	if (!may_fill || cold == NULL || idle >= pool->min_idle)
		return NULL;
	cold->in_use = true;
	return cold;
}

/* Opens a connection for min_idle; logs the first failure of a series and the recovery. */
static int refill(struct db_pool *pool, struct db_conn *conn)
{
	char err[512];

	if (conn_open(pool, conn, &pool->opt, err, sizeof err) == 0) {
		if (pool->refill_failing)
			log_info("db_pool: the database answers again");
		pool->refill_failing = false;
		return 0;
	}
	if (!pool->refill_failing)
		log_warn("db_pool: cannot refill the pool: %s", err);
	pool->refill_failing = true;
	return -1;
}

/* One round: every idle connection checked once, empty slots filled up to min_idle. */
static void housekeep(struct db_pool *pool)
{
	bool may_fill = true;
	enum upkeep what;
	struct db_conn *c;

	for (unsigned round = 0; round < 2 * pool->popt.size + 1; round++) {
		pthread_mutex_lock(&pool->lock);
		c = pool->stopping ? NULL : take_upkeep_slot(pool, may_fill, &what);
		pthread_mutex_unlock(&pool->lock);
		if (c == NULL)
			return;
		if (what == UPKEEP_RETIRE) {
			conn_retire(pool, c);
		} else if (what == UPKEEP_PING) {
			bump(&pool->n.keepalive_pings);
			if (conn_ping(pool, c, "keepalive") == 0)
				c->last_used_ms = clock_ms();
		} else if (refill(pool, c) < 0) {
			may_fill = false; /* the database is down: try again next period */
		}
		give_back(pool, c, false);
	}
}

static void *housekeeper_main(void *arg)
{
	struct db_pool *pool = arg;
	struct timespec next;

	mysql_thread_init();
	pthread_mutex_lock(&pool->lock);
	while (!pool->stopping) {
		pthread_mutex_unlock(&pool->lock);
		housekeep(pool);
		pthread_mutex_lock(&pool->lock);
		clock_deadline_after(&next, HOUSEKEEPING_PERIOD_MS);
		if (!pool->stopping)
			pthread_cond_timedwait(&pool->wake, &pool->lock, &next);
	}
	pthread_mutex_unlock(&pool->lock);
	mysql_thread_end();
	return NULL;
}

int db_pool_start_housekeeping(struct db_pool *pool)
{
	sigset_t all, old;
	int rc;

	if (pool->housekeeping)
		return 0;
	/* The thread inherits a mask blocking everything: signals are the serving threads' business. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&pool->housekeeper, NULL, housekeeper_main, pool);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		log_error("db_pool: cannot start the housekeeping thread: %s", strerror(rc));
		return -1;
	}
	pool->housekeeping = true;
	return 0;
}

/* ---- statements and errors ----------------------------------------------------- */

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

void db_conn_note_error(struct db_conn *conn, unsigned err)
{
	conn->last_error = err;
	if (db_error_is_connection_lost(err))
		conn->broken = true;
}

static unsigned long long load(const unsigned long long *counter)
{
	return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

void db_pool_get_stats(struct db_pool *pool, struct db_pool_stats *out)
{
	unsigned connected = 0;

	pthread_mutex_lock(&pool->lock);
	for (unsigned i = 0; i < pool->popt.size; i++)
		if (!pool->conns[i].in_use && pool->conns[i].mysql != NULL)
			connected++;
	out->size = pool->popt.size;
	out->min_idle = pool->min_idle;
	out->in_use = pool->in_use;
	out->idle = connected;
	out->waiters = pool->waiters;
	pthread_mutex_unlock(&pool->lock);
	out->timeouts = load(&pool->n.timeouts);
	out->discarded = load(&pool->n.discarded);
	out->created = load(&pool->n.created);
	out->connect_failures = load(&pool->n.connect_failures);
	out->retired = load(&pool->n.retired);
	out->validations = load(&pool->n.validations);
	out->keepalive_pings = load(&pool->n.keepalive_pings);
	out->rollbacks = load(&pool->n.rollbacks);
}
