#include "db_pool.h"

#include <errmsg.h>
#include <errno.h>
#include <mysqld_error.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "xalloc.h"

struct db_pool {
	pthread_mutex_t lock;
	pthread_cond_t available;
	struct db_options opt;          /* strings point into owned */
	struct {
		char *socket, *host, *user, *password, *database;
	} owned;
	struct db_conn *conns;
	unsigned size;
	unsigned in_use;
	unsigned waiters;
	unsigned acquire_timeout_ms;
	unsigned validation_idle_ms;
	unsigned long long timeouts;
	unsigned long long discarded;
};

static long long monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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
		return true;
	default:
		return false;
	}
}

MYSQL *db_connect(const struct db_options *opt, char *err, size_t errlen)
{
	MYSQL *mysql = mysql_init(NULL);
	const char *socket = opt->socket && *opt->socket ? opt->socket : NULL;
	/* UTC for every session: timestamps are stored and served in UTC. */
	const char *init = "SET time_zone = '+00:00'";
	my_bool off = 0;

	if (mysql == NULL) {
		snprintf(err, errlen, "out of memory creating a MariaDB handle");
		return NULL;
	}
	mysql_options(mysql, MYSQL_OPT_CONNECT_TIMEOUT, &opt->connect_timeout_s);
	mysql_options(mysql, MYSQL_OPT_READ_TIMEOUT, &opt->read_timeout_s);
	mysql_options(mysql, MYSQL_OPT_WRITE_TIMEOUT, &opt->write_timeout_s);
	mysql_options(mysql, MYSQL_OPT_RECONNECT, &off);
	mysql_options(mysql, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	mysql_options(mysql, MYSQL_INIT_COMMAND, init);
	if (mysql_real_connect(mysql, socket ? NULL : opt->host, opt->user, opt->password,
			       opt->database, socket ? 0 : opt->port, socket,
			       opt->client_flags) == NULL) {
		snprintf(err, errlen, "cannot connect to MariaDB at %s as '%s': %s (%u)",
			 socket ? socket : opt->host, opt->user, mysql_error(mysql), mysql_errno(mysql));
		mysql_close(mysql);
		return NULL;
	}
	return mysql;
}

static char *dup_or_empty(const char *s)
{
	return xstrdup(s ? s : "");
}

struct db_pool *db_pool_new(const struct db_options *opt, unsigned size,
			    unsigned acquire_timeout_ms, unsigned validation_idle_ms)
{
	struct db_pool *pool = xcalloc(1, sizeof *pool);
	pthread_condattr_t attr;

	pthread_mutex_init(&pool->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&pool->available, &attr);
	pthread_condattr_destroy(&attr);
	pool->opt = *opt;
	pool->opt.socket = pool->owned.socket = dup_or_empty(opt->socket);
	pool->opt.host = pool->owned.host = dup_or_empty(opt->host);
	pool->opt.user = pool->owned.user = dup_or_empty(opt->user);
	pool->opt.password = pool->owned.password = dup_or_empty(opt->password);
	pool->opt.database = pool->owned.database = dup_or_empty(opt->database);
	pool->size = size;
	pool->conns = xcalloc(size, sizeof *pool->conns);
	pool->acquire_timeout_ms = acquire_timeout_ms;
	pool->validation_idle_ms = validation_idle_ms;
	return pool;
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
}

void db_pool_free(struct db_pool *pool)
{
	if (pool == NULL)
		return;
	for (unsigned i = 0; i < pool->size; i++)
		conn_close(&pool->conns[i]);
	free(pool->conns);
	free(pool->owned.socket);
	free(pool->owned.host);
	free(pool->owned.user);
	free(pool->owned.password);
	free(pool->owned.database);
	pthread_cond_destroy(&pool->available);
	pthread_mutex_destroy(&pool->lock);
	free(pool);
}

/* Picks a free slot under the lock: a connected one first, so warm connections are reused. */
static struct db_conn *take_free_slot(struct db_pool *pool)
{
	struct db_conn *cold = NULL;

	for (unsigned i = 0; i < pool->size; i++) {
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

static void give_back(struct db_pool *pool, struct db_conn *conn)
{
	pthread_mutex_lock(&pool->lock);
	conn->in_use = false;
	pool->in_use--;
	pthread_cond_signal(&pool->available);
	pthread_mutex_unlock(&pool->lock);
}

/* Makes sure a borrowed slot holds a live connection. Runs without the lock. */
static int ensure_live(struct db_pool *pool, struct db_conn *conn, char *err, size_t errlen)
{
	long long now = monotonic_ms();

	/* Validate only after an idle window (HikariCP's alive bypass): a busy pool pays nothing. */
	if (conn->mysql != NULL && now - conn->last_used_ms > (long long)pool->validation_idle_ms) {
		if (mysql_ping(conn->mysql) != 0) {
			log_info("db_pool: discarding a connection that failed validation: %s (%u)",
				 mysql_error(conn->mysql), mysql_errno(conn->mysql));
			conn_close(conn);
			__atomic_add_fetch(&pool->discarded, 1, __ATOMIC_RELAXED);
		}
	}
	if (conn->mysql == NULL) {
		conn->mysql = db_connect(&pool->opt, err, errlen);
		if (conn->mysql == NULL)
			return -1;
	}
	conn->last_used_ms = now;
	return 0;
}

static void deadline_after(struct timespec *ts, unsigned ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

enum db_acquire_status db_pool_acquire(struct db_pool *pool, struct db_conn **out,
				       char *err, size_t errlen)
{
	struct db_conn *conn;
	struct timespec deadline;

	*out = NULL;
	deadline_after(&deadline, pool->acquire_timeout_ms);
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
			pool->timeouts++;
			pthread_mutex_unlock(&pool->lock);
			snprintf(err, errlen, "no database connection free within %u ms (pool size %u)",
				 pool->acquire_timeout_ms, pool->size);
			return DB_POOL_TIMEOUT;
		}
	}
	pool->in_use++;
	pthread_mutex_unlock(&pool->lock);

	if (ensure_live(pool, conn, err, errlen) < 0) {
		give_back(pool, conn);
		return DB_CONNECT_FAILED;
	}
	*out = conn;
	return DB_ACQUIRED;
}

void db_pool_release(struct db_pool *pool, struct db_conn *conn)
{
	if (conn == NULL || !conn->in_use)
		return;
	if (conn->broken) {
		conn_close(conn);
		__atomic_add_fetch(&pool->discarded, 1, __ATOMIC_RELAXED);
	} else {
		conn->last_used_ms = monotonic_ms();
	}
	give_back(pool, conn);
}

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

void db_pool_get_stats(struct db_pool *pool, struct db_pool_stats *out)
{
	unsigned connected = 0;

	pthread_mutex_lock(&pool->lock);
	for (unsigned i = 0; i < pool->size; i++)
		if (!pool->conns[i].in_use && pool->conns[i].mysql != NULL)
			connected++;
	out->size = pool->size;
	out->in_use = pool->in_use;
	out->idle = connected;
	out->waiters = pool->waiters;
	out->timeouts = pool->timeouts;
	out->discarded = __atomic_load_n(&pool->discarded, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&pool->lock);
}
