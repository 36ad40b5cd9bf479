#ifndef TASKAPI_IDEM_PURGE_H
#define TASKAPI_IDEM_PURGE_H

#include "config.h"
#include "db_cluster.h"

/*
 * The purge of expired Idempotency-Keys: one background thread per serving
 * process deletes rows past their expires_at, IDEM_PURGE_BATCH at a time,
 * every idempotency.purge_interval_s (give or take 10 %, so the workers of
 * one taskapi spread out). The statement deletes every expired row, but a
 * process only runs it from the time the first key it stored expires until
 * every key it stored has been purged: a service whose clients send no keys
 * never runs it, and an idle one stops. Correctness does not depend on it:
 * an expired row already counts as absent when a key is claimed. The purge
 * only keeps the table small.
 */
struct idem_purge;

/*
 * Starts the thread, borrowing connections to the writer from db (borrowed:
 * it must outlive idem_purge_stop). Returns NULL when it could not start
 * (logged); the service runs on without purging.
 */
struct idem_purge *idem_purge_start(const struct config *cfg, struct db_cluster *db);

/*
 * This process stored a key that expires retention_s from now: the purge
 * has work when it does. Any thread; cheap (one mutex).
 */
void idem_purge_note_stored(unsigned retention_s);

/* Stops the thread (waiting for a batch under way) and frees it. Safe with NULL. */
void idem_purge_stop(struct idem_purge *p);

#endif
