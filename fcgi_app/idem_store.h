#ifndef TASKAPI_IDEM_STORE_H
#define TASKAPI_IDEM_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "db_conn.h"
#include "idem_key.h"
#include "task_store.h"

/*
 * The SQL of Idempotency-Key (the idempotency_keys table, sql/005): claiming
 * a key in a transaction, storing the answer, committing, and purging what
 * expired. Prepared statements in the connection's cache, after
 * task_store's. Knows nothing of HTTP: an answer is a status, two header
 * values and a body, as idem.c hands them over.
 */

#define IDEM_STORE_STMTS 5
#define IDEM_STORE_FIRST_STMT 8 /* task_store's are 0..7 */

/* Rows one purge statement deletes at most. */
#define IDEM_PURGE_BATCH 1000

/* Room for the header values stored with an answer (the columns' sizes, with the NUL). */
#define IDEM_LOCATION_SIZE 256
#define IDEM_ETAG_SIZE 65

/* An answer stored under a key. Strings are "" when the answer had no such header. */
struct idem_answer {
	unsigned char fingerprint[IDEM_FINGERPRINT_SIZE];
	int status;
	char location[IDEM_LOCATION_SIZE];
	char etag[IDEM_ETAG_SIZE];
	bool has_body;
	struct buf body; /* caller-owned storage: buf_init before, buf_release after */
};

/* The owner and the key a row is stored under; borrowed. */
struct idem_slot {
	const struct task_owner *owner;
	const char *key;
	size_t key_len;
};

enum idem_claim {
	IDEM_CLAIMED, /* the key is this transaction's: write, idem_store_save, idem_store_commit */
	IDEM_FOUND,   /* a live answer is stored under the key: *found is filled */
	IDEM_BUSY,    /* another transaction held the key past the lock wait bound */
	IDEM_FAILED   /* *status says why (STORE_UNAVAILABLE, STORE_ERROR) */
};

/*
 * Starts a transaction on conn and claims the key in it: inserts its row
 * with fingerprint fp, expiring retention_s from now. A row already there
 * is read (FOUND); an expired one counts as absent and is taken over
 * (CLAIMED). While another transaction holds the key's row (a concurrent
 * request with the same key, not committed yet), the insert waits for it:
 * its commit makes this FOUND, its rollback CLAIMED, and a wait past the
 * session's lock wait bound (innodb_lock_wait_timeout, max_statement_time)
 * BUSY. Whatever the result, the transaction is open: end it with
 * idem_store_commit or idem_store_rollback.
 */
enum idem_claim idem_store_claim(struct db_conn *conn, const struct idem_slot *slot,
				 const unsigned char fp[IDEM_FINGERPRINT_SIZE], unsigned retention_s,
				 struct idem_answer *found, enum store_status *status);

/*
 * Stores an answer in the claimed row: its status, Location and ETag ("" or
 * NULL: none) and body (NULL: none; borrowed). STORE_OK, or a failure, after
 * which the caller rolls back.
 */
enum store_status idem_store_save(struct db_conn *conn, const struct idem_slot *slot, int status,
				  const char *location, const char *etag, const char *body, size_t body_len);

/*
 * Commits. STORE_OK; STORE_UNKNOWN_OUTCOME when the connection was lost
 * during the commit (it may have happened: a retry with the key tells);
 * STORE_UNAVAILABLE when the server refused it (nothing was applied).
 */
enum store_status idem_store_commit(struct db_conn *conn);

/* Rolls back whatever the transaction did; errors only mark the connection. */
void idem_store_rollback(struct db_conn *conn);

/*
 * Deletes up to IDEM_PURGE_BATCH expired rows in one autocommit statement;
 * *deleted says how many (a full batch: call again).
 */
enum store_status idem_store_purge(struct db_conn *conn, unsigned long long *deleted);

#endif
