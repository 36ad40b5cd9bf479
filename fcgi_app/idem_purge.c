#include "idem_purge.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "idem_store.h"
#include "log.h"
#include "metrics.h"
#include "rng.h"
#include "xalloc.h"

/* Batches one round deletes at most: a backlog is worked off over several rounds. */
#define PURGE_MAX_BATCHES 100

/*
 * What this process stored (monotonic ms): the expiry of the first key not
 * purged yet, 0 when none, and of the last one.
 */
static struct {
	pthread_mutex_t lock;
	long long first_ms, last_ms;
} due = { PTHREAD_MUTEX_INITIALIZER, 0, 0 };

struct idem_purge {
	struct db_cluster *db;
	unsigned interval_ms;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake; /* CLOCK_MONOTONIC */
	bool stopping;
};

/*
 * One batch on a borrowed connection to the writer: the only place the purge
 * touches the database servers. Returns the rows deleted, or -1 when there
 * was no connection or the statement failed (logged).
 */
static long long purge_batch(struct idem_purge *p)
{
	struct db_lease lease;
	unsigned long long deleted = 0;
	enum store_status status;
	char err[256];

	if (db_cluster_acquire(p->db, DB_WRITE, &lease, err, sizeof err) != DB_ACQUIRED) {
		log_info("idempotency: expired keys not purged this time: %s", err);
		return -1;
	}
	status = idem_store_purge(lease.conn, &deleted);
	db_cluster_release(p->db, &lease);
	if (status != STORE_OK) {
		log_warn("idempotency: expired keys not purged: %s", store_strerror(status));
		return -1;
	}
	return (long long)deleted;
}

/*
 * Deletes batches while they come back full, and counts the rows. Returns 0
 * when no expired row is left, -1 when a batch failed or rows remain.
 */
static int purge_round(struct idem_purge *p)
{
	unsigned long long total = 0;
	int rc = -1;

	for (int i = 0; i < PURGE_MAX_BATCHES; i++) {
		long long n = purge_batch(p);

		if (n < 0)
			break;
		total += (unsigned long long)n;
		if (n < IDEM_PURGE_BATCH) {
			rc = 0;
			break;
		}
	}
	metrics_idempotency_purged(total);
	if (total > 0)
		log_debug("idempotency: purged %llu expired keys", total);
	return rc;
}

/* Sleeps about interval_ms (90 to 110 %); false when asked to stop. */
static bool pause_round(struct idem_purge *p)
{
	unsigned ms = (unsigned)((double)p->interval_ms * (0.9 + 0.2 * rng_unit()));
	struct timespec until;
	bool go_on;

	clock_deadline_after(&until, ms);
	pthread_mutex_lock(&p->lock);
	while (!p->stopping && pthread_cond_timedwait(&p->wake, &p->lock, &until) != ETIMEDOUT)
		;
	go_on = !p->stopping;
	pthread_mutex_unlock(&p->lock);
	return go_on;
}

void idem_purge_note_stored(unsigned retention_s)
{
	long long at = clock_ms() + (long long)retention_s * 1000;

	pthread_mutex_lock(&due.lock);
	if (due.first_ms == 0)
		due.first_ms = at;
	due.last_ms = at;
	pthread_mutex_unlock(&due.lock);
}

/* True when a key this process stored has expired and may not be purged yet. */
static bool round_due(long long now)
{
	bool go;

	pthread_mutex_lock(&due.lock);
	go = due.first_ms != 0 && now >= due.first_ms;
	pthread_mutex_unlock(&due.lock);
	return go;
}

/*
 * After a round that started at started_ms: once every key stored had
 * expired a while before it, idle. The while (a second) covers the database's
 * clock, which stamped expires_at a little before this process noted it.
 */
static void round_done(long long started_ms)
{
	pthread_mutex_lock(&due.lock);
	if (due.first_ms != 0 && due.last_ms + 1000 < started_ms)
		due.first_ms = 0;
	pthread_mutex_unlock(&due.lock);
}

static void *purge_main(void *arg)
{
	struct idem_purge *p = arg;

	while (pause_round(p)) {
		long long now = clock_ms();

		if (!round_due(now))
			continue;
		if (purge_round(p) == 0)
			round_done(now);
	}
	return NULL;
}

struct idem_purge *idem_purge_start(const struct config *cfg, struct db_cluster *db)
{
	struct idem_purge *p = xcalloc(1, sizeof *p);
	pthread_condattr_t attr;
	sigset_t all, old;
	int rc;

	p->db = db;
	p->interval_ms = (unsigned)cfg->idempotency.purge_interval_s * 1000u;
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&p->wake, &attr);
	pthread_condattr_destroy(&attr);
	/* No signals here: the worker's own threads take them, as they always did. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&p->thread, NULL, purge_main, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		log_warn("idempotency: cannot start the purge thread (%s): expired keys stay until a restart",
			 strerror(rc));
		pthread_cond_destroy(&p->wake);
		pthread_mutex_destroy(&p->lock);
		free(p);
		return NULL;
	}
	return p;
}

void idem_purge_stop(struct idem_purge *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
