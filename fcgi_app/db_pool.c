#include "db_pool.h"

#include <errno.h>
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
#include "trace.h"
#include "xalloc.h"

/* The housekeeper's rhythm: keepalive and lifetime are checked this often. */
#define HOUSEKEEPING_PERIOD_MS 1000
/* db_pool_acquire_at_start: pause between two connection attempts. */
#define START_RETRY_MS 500
/*
 * The least time a borrower's ping or connect gets, even when its wait for a
 * free slot used up the acquire timeout: a live server answers in
 * milliseconds, so this only matters when it does not.
 */
#define MIN_CHECK_MS 250
/* The watchdog's longest sleep with nothing armed (arming an earlier deadline wakes it). */
#define WATCH_IDLE_MS 60000

struct db_pool_counters {
	unsigned long long timeouts, discarded, created, connect_failures, retired;
	unsigned long long validations, keepalive_pings, rollbacks, cuts;
};

/* A place for one connection: the pool's bookkeeping, apart from the connection's own state. */
struct db_slot {
	struct db_conn *conn;           /* owned; open or not */
	bool in_use;                    /* lent out, or held by the housekeeper */
};

struct db_pool {
	pthread_mutex_t lock;
	pthread_cond_t available;       /* a slot came free */
	pthread_cond_t wake;            /* the housekeeper has work, or must stop */
	struct db_options opt;          /* strings point into owned */
	struct db_options borrow_opt;   /* opt, connect timeout capped by the acquire timeout */
	struct {
		char *socket, *host, *user, *password, *database;
		char *ssl_ca, *ssl_cert, *ssl_key;
	} owned;
	struct db_pool_options popt;
	unsigned min_idle;
	struct db_slot *slots;
	unsigned in_use;                /* lent to borrowers (not the housekeeper's) */
	unsigned waiters;
	pthread_t housekeeper;
	bool housekeeping;              /* the thread runs */
	bool stopping;
	bool refill_failing;            /* the last refill failed: log only the first */
	struct db_pool_counters n;      /* updated with __atomic */
	/* The watchdog: cuts connections whose deadline passed (db_conn_cut_if_overdue). */
	pthread_mutex_t watch_lock;     /* guards the three below */
	pthread_cond_t watch_wake;      /* an earlier deadline was armed, or stop */
	long long watch_next_ms;        /* when the watchdog wakes next (monotonic) */
	bool watch_stop;
	pthread_t watchdog;
	bool watching;                  /* the thread runs */
};

/* ---- small helpers -------------------------------------------------------- */

static void bump(unsigned long long *counter)
{
	__atomic_add_fetch(counter, 1, __ATOMIC_RELAXED);
}

/* ---- one slot's connection, counted ------------------------------------------- */

/* Fills an empty slot (no lock held: the slot is reserved by the caller). */
static int slot_open(struct db_pool *pool, struct db_slot *slot, const struct db_options *opt,
		     long long deadline_ms, char *err, size_t errlen)
{
	if (db_conn_open_by(slot->conn, opt, pool->popt.max_lifetime_ms, deadline_ms, err, errlen) < 0) {
		bump(&pool->n.connect_failures);
		return -1;
	}
	bump(&pool->n.created);
	return 0;
}

static void slot_discard(struct db_pool *pool, struct db_slot *slot)
{
	db_conn_close(slot->conn);
	bump(&pool->n.discarded);
}

static void slot_retire(struct db_pool *pool, struct db_slot *slot)
{
	db_conn_close(slot->conn);
	bump(&pool->n.retired);
}

/*
 * Pings the slot's connection, waiting until deadline_ms at most; a dead or
 * silent one is closed and counted. Returns 0 when alive.
 */
static int slot_ping(struct db_pool *pool, struct db_slot *slot, const char *who, long long deadline_ms)
{
	if (db_conn_ping(slot->conn, who, deadline_ms) == 0)
		return 0;
	bump(&pool->n.discarded);
	return -1;
}

/*
 * Arms the slot's deadline (0 disarms) and wakes the watchdog when it is
 * earlier than the watchdog's next wake-up (rarely: deadlines are now plus
 * a constant, so a new one is usually the latest).
 */
static void slot_arm(struct db_pool *pool, struct db_slot *slot, long long deadline_ms)
{
	db_conn_arm(slot->conn, deadline_ms);
	if (deadline_ms == 0)
		return;
	pthread_mutex_lock(&pool->watch_lock);
	if (deadline_ms < pool->watch_next_ms)
		pthread_cond_signal(&pool->watch_wake);
	pthread_mutex_unlock(&pool->watch_lock);
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
	popt->acquire_timeout_ms = DB_POOL_DEFAULT_ACQUIRE_TIMEOUT_MS;
	popt->validation_idle_ms = DB_POOL_DEFAULT_VALIDATION_IDLE_MS;
	popt->max_lifetime_ms = DB_POOL_DEFAULT_MAX_LIFETIME_S * 1000u;
	popt->keepalive_ms = DB_POOL_DEFAULT_KEEPALIVE_S * 1000u;
	popt->deadlock_retries = DB_POOL_DEFAULT_DEADLOCK_RETRIES;
	popt->wait_at_start_ms = DB_POOL_DEFAULT_WAIT_AT_START_S * 1000u;
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
	pool->opt.ssl_ca = pool->owned.ssl_ca = dup_or_empty(opt->ssl_ca);
	pool->opt.ssl_cert = pool->owned.ssl_cert = dup_or_empty(opt->ssl_cert);
	pool->opt.ssl_key = pool->owned.ssl_key = dup_or_empty(opt->ssl_key);
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
	pthread_mutex_init(&pool->watch_lock, NULL);
	pthread_cond_init(&pool->watch_wake, &attr);
	pthread_condattr_destroy(&attr);
	pool->popt = *popt;
	if (pool->popt.size == 0)
		pool->popt.size = 1;
	pool->min_idle = popt->min_idle < 0 || (unsigned)popt->min_idle > pool->popt.size
				 ? pool->popt.size : (unsigned)popt->min_idle;
	copy_db_options(pool, opt);
	pool->slots = xcalloc(pool->popt.size, sizeof *pool->slots);
	for (unsigned i = 0; i < pool->popt.size; i++)
		pool->slots[i].conn = db_conn_new(popt->deadlock_retries, opt->statement_timeout_ms);
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
	pthread_mutex_lock(&pool->watch_lock);
	pool->watch_stop = true;
	pthread_cond_signal(&pool->watch_wake);
	pthread_mutex_unlock(&pool->watch_lock);
	if (pool->watching)
		pthread_join(pool->watchdog, NULL);
	pool->watching = false;
}

void db_pool_free(struct db_pool *pool)
{
	if (pool == NULL)
		return;
	stop_housekeeping(pool);
	for (unsigned i = 0; i < pool->popt.size; i++)
		db_conn_free(pool->slots[i].conn);
	free(pool->slots);
	free(pool->owned.socket);
	free(pool->owned.host);
	free(pool->owned.user);
	free(pool->owned.password);
	free(pool->owned.database);
	free(pool->owned.ssl_ca);
	free(pool->owned.ssl_cert);
	free(pool->owned.ssl_key);
	pthread_cond_destroy(&pool->watch_wake);
	pthread_mutex_destroy(&pool->watch_lock);
	pthread_cond_destroy(&pool->wake);
	pthread_cond_destroy(&pool->available);
	pthread_mutex_destroy(&pool->lock);
	free(pool);
}

/* ---- borrowing ------------------------------------------------------------- */

/* Picks a free slot under the lock: a connected one first, so warm connections are reused. */
static struct db_slot *take_free_slot(struct db_pool *pool)
{
	struct db_slot *cold = NULL;

	for (unsigned i = 0; i < pool->popt.size; i++) {
		struct db_slot *c = &pool->slots[i];

		if (c->in_use)
			continue;
		if (db_conn_is_open(c->conn)) {
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
static void give_back(struct db_pool *pool, struct db_slot *slot, bool borrowed)
{
	pthread_mutex_lock(&pool->lock);
	slot->in_use = false;
	if (borrowed)
		pool->in_use--;
	pthread_cond_signal(&pool->available);
	if (!db_conn_is_open(slot->conn))
		pthread_cond_signal(&pool->wake);
	pthread_mutex_unlock(&pool->lock);
}

/*
 * Makes sure a borrowed slot holds a live connection, by deadline_ms (the
 * acquire deadline): the ping and the connect wait no longer. A ping that
 * went unanswered until then means a hung server: no connect is tried after
 * it. Runs without the lock.
 */
static int ensure_live(struct db_pool *pool, struct db_slot *slot, long long deadline_ms,
		       char *err, size_t errlen)
{
	struct db_conn *conn = slot->conn;
	long long now = clock_ms();

	if (deadline_ms < now + MIN_CHECK_MS)
		deadline_ms = now + MIN_CHECK_MS;
	if (db_conn_expired(conn, now)) {
		slot_retire(pool, slot);
	} else if (db_conn_is_open(conn) &&
		   now - db_conn_last_used(conn) > (long long)pool->popt.validation_idle_ms) {
		/* Validate only after an idle window (HikariCP's alive bypass): a busy pool pays nothing. */
		bump(&pool->n.validations);
		if (slot_ping(pool, slot, "validation", deadline_ms) < 0 && clock_ms() >= deadline_ms) {
			snprintf(err, errlen, "the database did not answer a ping within %u ms (database.acquire_timeout_ms)",
				 pool->popt.acquire_timeout_ms);
			return -1;
		}
	}
	if (!db_conn_is_open(conn) && slot_open(pool, slot, &pool->borrow_opt, deadline_ms, err, errlen) < 0)
		return -1;
	db_conn_touch(conn, clock_ms());
	return 0;
}

static enum db_acquire_status acquire(struct db_pool *pool, struct db_conn **out,
				      char *err, size_t errlen)
{
	struct db_slot *slot;
	struct timespec deadline;
	long long deadline_ms = clock_ms() + pool->popt.acquire_timeout_ms;

	*out = NULL;
	clock_deadline_after(&deadline, pool->popt.acquire_timeout_ms);
	pthread_mutex_lock(&pool->lock);
	while ((slot = take_free_slot(pool)) == NULL) {
		int rc;

		pool->waiters++;
		rc = pthread_cond_timedwait(&pool->available, &pool->lock, &deadline);
		pool->waiters--;
		if (rc == ETIMEDOUT) {
			slot = take_free_slot(pool);
			if (slot != NULL)
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

	if (ensure_live(pool, slot, deadline_ms, err, errlen) < 0) {
		give_back(pool, slot, true);
		return DB_CONNECT_FAILED;
	}
	/* The borrower's work gets the statement deadline, even from a frozen server. */
	slot_arm(pool, slot, db_statement_deadline(clock_ms(), pool->opt.statement_timeout_ms));
	*out = slot->conn;
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
static void settle(struct db_pool *pool, struct db_slot *slot)
{
	struct db_conn *conn = slot->conn;
	const char *why;
	bool rolled_back;

	if (!db_conn_is_open(conn))
		return;
	if (db_conn_is_broken(conn)) { /* a cut one too: its socket is shut down */
		slot_discard(pool, slot);
		return;
	}
	why = db_conn_reset(conn, &rolled_back);
	if (rolled_back)
		bump(&pool->n.rollbacks);
	if (why != NULL) {
		log_warn("db_pool: discarding a returned connection: %s", why);
		slot_discard(pool, slot);
	} else if (db_conn_expired(conn, clock_ms())) {
		slot_retire(pool, slot);
	} else {
		db_conn_arm(conn, 0);
		/* The watchdog may have cut it between the checks above and the disarm. */
		if (db_conn_was_cut(conn))
			slot_discard(pool, slot);
		else
			db_conn_touch(conn, clock_ms());
	}
}

/* The borrowed slot holding conn; NULL when conn is not one of the pool's lent connections. */
static struct db_slot *borrowed_slot(struct db_pool *pool, const struct db_conn *conn)
{
	struct db_slot *slot = NULL;

	pthread_mutex_lock(&pool->lock);
	for (unsigned i = 0; i < pool->popt.size && slot == NULL; i++)
		if (pool->slots[i].conn == conn && pool->slots[i].in_use)
			slot = &pool->slots[i];
	pthread_mutex_unlock(&pool->lock);
	return slot;
}

void db_pool_release(struct db_pool *pool, struct db_conn **conn)
{
	struct db_slot *slot;

	if (*conn == NULL)
		return;
	slot = borrowed_slot(pool, *conn);
	/* Forget it before it is handed out again: a later release through this pointer is a no-op. */
	*conn = NULL;
	if (slot == NULL)
		return;
	settle(pool, slot);
	give_back(pool, slot, true);
}

/* ---- housekeeping ------------------------------------------------------------ */

enum upkeep { UPKEEP_NONE, UPKEEP_RETIRE, UPKEEP_PING, UPKEEP_FILL };

/* What an idle connected slot needs now. */
static enum upkeep upkeep_of(const struct db_pool *pool, const struct db_conn *c, long long now)
{
	if (db_conn_expired(c, now))
		return UPKEEP_RETIRE;
	if (pool->popt.keepalive_ms > 0 &&
	    now - db_conn_last_used(c) >= (long long)pool->popt.keepalive_ms)
		return UPKEEP_PING;
	return UPKEEP_NONE;
}

/* Under the lock: the next slot needing care, reserved for the housekeeper. */
static struct db_slot *take_upkeep_slot(struct db_pool *pool, bool may_fill, enum upkeep *what)
{
	long long now = clock_ms();
	unsigned idle = 0;
	struct db_slot *cold = NULL;

	for (unsigned i = 0; i < pool->popt.size; i++) {
		struct db_slot *c = &pool->slots[i];

		if (c->in_use)
			continue;
		if (!db_conn_is_open(c->conn)) {
			cold = cold ? cold : c;
			continue;
		}
		*what = upkeep_of(pool, c->conn, now);
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
static int refill(struct db_pool *pool, struct db_slot *slot)
{
	char err[512];

	if (slot_open(pool, slot, &pool->opt, 0, err, sizeof err) == 0) {
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
	struct db_slot *c;

	for (unsigned round = 0; round < 2 * pool->popt.size + 1; round++) {
		pthread_mutex_lock(&pool->lock);
		c = pool->stopping ? NULL : take_upkeep_slot(pool, may_fill, &what);
		pthread_mutex_unlock(&pool->lock);
		if (c == NULL)
			return;
		if (what == UPKEEP_RETIRE) {
			slot_retire(pool, c);
		} else if (what == UPKEEP_PING) {
			bump(&pool->n.keepalive_pings);
			if (slot_ping(pool, c, "keepalive", clock_ms() + pool->popt.acquire_timeout_ms) == 0)
				db_conn_touch(c->conn, clock_ms());
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

/*
 * The watchdog: sleeps until the earliest armed deadline, then cuts every
 * connection past its own. Its own thread, since the housekeeper may itself
 * wait on the database (a refill's connect).
 */
static void *watchdog_main(void *arg)
{
	struct db_pool *pool = arg;
	struct timespec until;

	pthread_mutex_lock(&pool->watch_lock);
	while (!pool->watch_stop) {
		long long now = clock_ms();
		long long next = now + WATCH_IDLE_MS;

		for (unsigned i = 0; i < pool->popt.size; i++) {
			if (!db_conn_cut_if_overdue(pool->slots[i].conn, now, &next, &pool->n.cuts))
				continue;
			log_warn("db_pool: cut a connection whose deadline passed (the database did not answer)");
		}
		pool->watch_next_ms = next;
		clock_deadline_after(&until, (unsigned)(next - now));
		pthread_cond_timedwait(&pool->watch_wake, &pool->watch_lock, &until);
	}
	pthread_mutex_unlock(&pool->watch_lock);
	return NULL;
}

/* Starts fn on pool in a thread that blocks every signal (the serving threads' business). */
static int start_thread(pthread_t *thread, void *(*fn)(void *), struct db_pool *pool, const char *what)
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(thread, NULL, fn, pool);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		log_error("db_pool: cannot start the %s thread: %s", what, strerror(rc));
		return -1;
	}
	return 0;
}

int db_pool_start_housekeeping(struct db_pool *pool)
{
	int rc = 0;

	if (!pool->housekeeping) {
		if (start_thread(&pool->housekeeper, housekeeper_main, pool, "housekeeping") == 0)
			pool->housekeeping = true;
		else
			rc = -1;
	}
	if (!pool->watching) {
		if (start_thread(&pool->watchdog, watchdog_main, pool, "watchdog") == 0)
			pool->watching = true;
		else
			rc = -1;
	}
	return rc;
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
		if (!pool->slots[i].in_use && db_conn_is_open(pool->slots[i].conn))
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
	out->cuts = load(&pool->n.cuts);
}
