#include "idem_store.h"

#include <mysqld_error.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "token_store.h"
#include "trace.h"

enum {
	STMT_CLAIM = IDEM_STORE_FIRST_STMT,
	STMT_READ,
	STMT_RECLAIM,
	STMT_SAVE,
	STMT_PURGE,
	STMT_END
};

_Static_assert(STMT_END - IDEM_STORE_FIRST_STMT == IDEM_STORE_STMTS, "IDEM_STORE_STMTS counts them");
_Static_assert(STMT_END <= TOKEN_STORE_FIRST_STMT, "idem_store's statements stay below token_store's");

#define S(id) ((id) - IDEM_STORE_FIRST_STMT)
#define STR_(x) #x
#define STR(x) STR_(x)

/* Oracle MySQL's max_execution_time ran out (SELECT only; not in MariaDB's headers). */
#define ER_MYSQL_QUERY_TIMEOUT 3024

static const char *const sql_text[IDEM_STORE_STMTS] = {
	[S(STMT_CLAIM)] = "INSERT INTO idempotency_keys (owner, idem_key, fingerprint, status, created_at, expires_at) "
			  "VALUES (?, ?, ?, 0, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6) + INTERVAL ? SECOND)",
	/*
	 * A shared lock, as the failed insert took: two retries reading the
	 * same key at once do not block each other (an exclusive one would
	 * deadlock them, each holding the shared lock the other needs).
	 */
	[S(STMT_READ)] = "SELECT fingerprint, status, location, etag, body, expires_at <= UTC_TIMESTAMP(6) "
			 "FROM idempotency_keys WHERE owner = ? AND idem_key = ? LOCK IN SHARE MODE",
	[S(STMT_RECLAIM)] = "UPDATE idempotency_keys SET fingerprint = ?, status = 0, location = NULL, etag = NULL, "
			    "body = NULL, created_at = UTC_TIMESTAMP(6), "
			    "expires_at = UTC_TIMESTAMP(6) + INTERVAL ? SECOND "
			    "WHERE owner = ? AND idem_key = ? AND expires_at <= UTC_TIMESTAMP(6)",
	[S(STMT_SAVE)] = "UPDATE idempotency_keys SET status = ?, location = ?, etag = ?, body = ? "
			 "WHERE owner = ? AND idem_key = ?",
	/* Served by ix_idempotency_keys_expires; bounded, so no purge holds locks for long. */
	[S(STMT_PURGE)] = "DELETE FROM idempotency_keys WHERE expires_at < UTC_TIMESTAMP(6) "
			  "ORDER BY expires_at LIMIT " STR(IDEM_PURGE_BATCH),
};

static const char *const stmt_name[IDEM_STORE_STMTS] = {
	[S(STMT_CLAIM)] = "idem_claim",
	[S(STMT_READ)] = "idem_read",
	[S(STMT_RECLAIM)] = "idem_reclaim",
	[S(STMT_SAVE)] = "idem_save",
	[S(STMT_PURGE)] = "idem_purge",
};

/* ---- helpers ------------------------------------------------------------- */

/* Errors that mean "another transaction held the row too long", not a broken database. */
static bool is_lock_wait(unsigned err)
{
	return err == ER_LOCK_WAIT_TIMEOUT || err == ER_STATEMENT_TIMEOUT || err == ER_QUERY_INTERRUPTED ||
	       err == ER_MYSQL_QUERY_TIMEOUT || err == ER_LOCK_DEADLOCK;
}

/* Maps a failed statement (stmt NULL: the prepare or a plain query failed) to a status. */
static enum store_status failure(struct db_conn *conn, MYSQL_STMT *stmt, const char *what)
{
	MYSQL *mysql = db_conn_mysql(conn);
	unsigned err = stmt ? mysql_stmt_errno(stmt) : mysql ? mysql_errno(mysql) : 0;
	const char *msg = stmt ? mysql_stmt_error(stmt) : mysql ? mysql_error(mysql) : "no connection";

	if (err == 0)
		err = db_conn_last_error(conn);
	db_conn_note_error(conn, err);
	/* ... and a Galera node outside the primary component (1047): nothing ran; another node may. */
	if (db_conn_is_broken(conn) || is_lock_wait(err) || err == ER_CON_COUNT_ERROR || err == ER_UNKNOWN_COM_ERROR) {
		log_warn("db: %s gave up: %s (%u)", what, msg, err);
		return STORE_UNAVAILABLE;
	}
	log_error("db: %s failed: %s (%u)", what, msg, err);
	return STORE_ERROR;
}

static MYSQL_STMT *prepared(struct db_conn *conn, unsigned id)
{
	return db_conn_stmt(conn, id, sql_text[S(id)]);
}

/* Binds and executes once: inside a transaction there is no retrying a statement alone. */
static int run(MYSQL_STMT *stmt, unsigned id, MYSQL_BIND *params)
{
	/* The name only: a key is the client's secret-ish handle, not for the SQL echo. */
	trace_sql(stmt_name[S(id)], sql_text[S(id)], NULL, 0);
	if (params != NULL && mysql_stmt_bind_param(stmt, params) != 0)
		return -1;
	return mysql_stmt_execute(stmt);
}

/* A plain statement without parameters (START TRANSACTION). */
static int query(struct db_conn *conn, const char *name, const char *sql)
{
	MYSQL *mysql = db_conn_mysql(conn);

	trace_sql(name, sql, NULL, 0);
	return mysql != NULL && mysql_real_query(mysql, sql, (unsigned long)strlen(sql)) == 0 ? 0 : -1;
}

/* MYSQL_BIND wants a mutable pointer for input it only reads. */
static void bind_in(MYSQL_BIND *b, enum enum_field_types type, const void *data, unsigned long *len,
		    my_bool *is_null)
{
	b->buffer_type = type;
	memcpy(&b->buffer, &data, sizeof data);
	b->buffer_length = *len;
	b->length = len;
	b->is_null = is_null;
}

static void bind_u32(MYSQL_BIND *b, unsigned *v)
{
	b->buffer_type = MYSQL_TYPE_LONG;
	b->buffer = v;
	b->is_unsigned = 1;
}

/* The slot's owner and key as the two parameters of a WHERE; lens is caller storage. */
static void bind_slot(MYSQL_BIND *b, const struct idem_slot *slot, unsigned long lens[2])
{
	lens[0] = slot->owner->len;
	lens[1] = slot->key_len;
	bind_in(&b[0], MYSQL_TYPE_STRING, slot->owner->name, &lens[0], NULL);
	bind_in(&b[1], MYSQL_TYPE_STRING, slot->key, &lens[1], NULL);
}

/* Copies a fetched string column into out (size bytes), NUL-terminated; "" when NULL. */
static void finish_text(char *out, size_t size, unsigned long len, my_bool is_null)
{
	if (is_null || len >= size)
		len = 0;
	out[len] = '\0';
}

/* ---- claiming ------------------------------------------------------------ */

/*
 * Reads the row under the key into *found. Returns 1 when it is there and
 * live, 0 when it is gone or expired (*expired tells which), -1 on failure.
 */
static int read_answer(struct db_conn *conn, const struct idem_slot *slot, struct idem_answer *found,
		       bool *expired, enum store_status *status)
{
	MYSQL_STMT *stmt = prepared(conn, STMT_READ);
	MYSQL_BIND params[2], res[6];
	unsigned long lens[2], fp_len = 0, loc_len = 0, etag_len = 0, body_len = 0;
	my_bool loc_null = 0, etag_null = 0, body_null = 0;
	unsigned st = 0;
	signed char gone = 0;
	int rc, found_row = -1;

	*expired = false;
	if (stmt == NULL) {
		*status = failure(conn, NULL, stmt_name[S(STMT_READ)]);
		return -1;
	}
	memset(params, 0, sizeof params);
	bind_slot(params, slot, lens);
	memset(res, 0, sizeof res);
	res[0].buffer_type = MYSQL_TYPE_BLOB;
	res[0].buffer = found->fingerprint;
	res[0].buffer_length = sizeof found->fingerprint;
	res[0].length = &fp_len;
	bind_u32(&res[1], &st);
	res[2].buffer_type = MYSQL_TYPE_STRING;
	res[2].buffer = found->location;
	res[2].buffer_length = sizeof found->location - 1;
	res[2].length = &loc_len;
	res[2].is_null = &loc_null;
	res[3].buffer_type = MYSQL_TYPE_STRING;
	res[3].buffer = found->etag;
	res[3].buffer_length = sizeof found->etag - 1;
	res[3].length = &etag_len;
	res[3].is_null = &etag_null;
	/* No room for the body: the fetch reports its length, fetched below into found->body. */
	res[4].buffer_type = MYSQL_TYPE_BLOB;
	res[4].buffer = NULL;
	res[4].buffer_length = 0;
	res[4].length = &body_len;
	res[4].is_null = &body_null;
	res[5].buffer_type = MYSQL_TYPE_TINY;
	res[5].buffer = &gone;
	if (run(stmt, STMT_READ, params) != 0 || mysql_stmt_bind_result(stmt, res) != 0) {
		*status = failure(conn, stmt, stmt_name[S(STMT_READ)]);
		return -1;
	}
	rc = mysql_stmt_fetch(stmt);
	if (rc == MYSQL_NO_DATA) {
		found_row = 0;
	} else if (rc == 0 || rc == MYSQL_DATA_TRUNCATED) {
		found_row = 1;
		buf_reset(&found->body);
		found->has_body = !body_null;
		if (!body_null && body_len > 0) {
			MYSQL_BIND col;

			buf_reserve(&found->body, body_len);
			memset(&col, 0, sizeof col);
			col.buffer_type = MYSQL_TYPE_BLOB;
			col.buffer = found->body.data;
			col.buffer_length = body_len;
			col.length = &body_len;
			if (mysql_stmt_fetch_column(stmt, &col, 4, 0) != 0) {
				*status = failure(conn, stmt, stmt_name[S(STMT_READ)]);
				found_row = -1;
			} else {
				found->body.len = body_len;
				found->body.data[body_len] = '\0';
			}
		}
		finish_text(found->location, sizeof found->location, loc_len, loc_null);
		finish_text(found->etag, sizeof found->etag, etag_len, etag_null);
		found->status = (int)st;
		if (fp_len != IDEM_FINGERPRINT_SIZE)
			memset(found->fingerprint, 0, sizeof found->fingerprint);
	} else {
		*status = failure(conn, stmt, stmt_name[S(STMT_READ)]);
	}
	trace_rows(found_row > 0 ? 1 : 0);
	mysql_stmt_free_result(stmt);
	if (found_row == 1 && gone) {
		*expired = true;
		return 0;
	}
	return found_row;
}

/* Takes over an expired row. 1 when this transaction now holds it, 0 when it was not expired. */
static int reclaim(struct db_conn *conn, const struct idem_slot *slot, const unsigned char *fp,
		   unsigned retention_s, enum store_status *status, unsigned *err)
{
	MYSQL_STMT *stmt = prepared(conn, STMT_RECLAIM);
	MYSQL_BIND params[4];
	unsigned long fp_len = IDEM_FINGERPRINT_SIZE, lens[2];

	*err = 0;
	if (stmt == NULL) {
		*status = failure(conn, NULL, stmt_name[S(STMT_RECLAIM)]);
		return -1;
	}
	memset(params, 0, sizeof params);
	bind_in(&params[0], MYSQL_TYPE_BLOB, fp, &fp_len, NULL);
	bind_u32(&params[1], &retention_s);
	bind_slot(&params[2], slot, lens);
	if (run(stmt, STMT_RECLAIM, params) != 0) {
		*err = mysql_stmt_errno(stmt);
		*status = failure(conn, stmt, stmt_name[S(STMT_RECLAIM)]);
		return -1;
	}
	return mysql_stmt_affected_rows(stmt) == 1 ? 1 : 0;
}

/* One try of idem_store_claim; *err is the error of a lock wait or deadlock, else 0. */
static enum idem_claim claim_once(struct db_conn *conn, const struct idem_slot *slot,
				  const unsigned char *fp, unsigned retention_s, struct idem_answer *found,
				  enum store_status *status, unsigned *err)
{
	MYSQL_STMT *stmt;
	MYSQL_BIND params[4];
	unsigned long fp_len = IDEM_FINGERPRINT_SIZE, lens[2];
	bool expired;
	int got;

	*err = 0;
	if (query(conn, "begin", "START TRANSACTION") != 0) {
		*status = failure(conn, NULL, "begin");
		return IDEM_FAILED;
	}
	stmt = prepared(conn, STMT_CLAIM);
	if (stmt == NULL) {
		*status = failure(conn, NULL, stmt_name[S(STMT_CLAIM)]);
		return IDEM_FAILED;
	}
	/* Twice at most: a row read as gone (purged in between) is inserted again once. */
	for (int attempt = 0; attempt < 2; attempt++) {
		unsigned e;

		memset(params, 0, sizeof params);
		bind_slot(params, slot, lens);
		bind_in(&params[2], MYSQL_TYPE_BLOB, fp, &fp_len, NULL);
		bind_u32(&params[3], &retention_s);
		if (run(stmt, STMT_CLAIM, params) == 0)
			return IDEM_CLAIMED;
		e = mysql_stmt_errno(stmt);
		if (e != ER_DUP_ENTRY) {
			*status = failure(conn, stmt, stmt_name[S(STMT_CLAIM)]);
			if (!is_lock_wait(e) || db_conn_is_broken(conn))
				return IDEM_FAILED;
			*err = e;
			return IDEM_BUSY;
		}
		got = read_answer(conn, slot, found, &expired, status);
		if (got < 0)
			return IDEM_FAILED;
		if (got == 1)
			return found->status == 0 ? IDEM_BUSY : IDEM_FOUND;
		if (!expired)
			continue;
		/* Expired and not purged yet: absent, as far as the client can tell. */
		got = reclaim(conn, slot, fp, retention_s, status, &e);
		if (got == 1)
			return IDEM_CLAIMED;
		if (got < 0) {
			if (!is_lock_wait(e) || db_conn_is_broken(conn))
				return IDEM_FAILED;
			*err = e;
			return IDEM_BUSY;
		}
	}
	/* Taken and released under our feet twice: someone else is working on this key. */
	return IDEM_BUSY;
}

enum idem_claim idem_store_claim(struct db_conn *conn, const struct idem_slot *slot,
				 const unsigned char fp[IDEM_FINGERPRINT_SIZE], unsigned retention_s,
				 struct idem_answer *found, enum store_status *status)
{
	long long started = clock_ms();
	enum idem_claim claim;
	unsigned err;

	/*
	 * Waiters for a key whose holder rolled back all hold a shared lock on its
	 * row and all want to insert it: InnoDB lets one in and rolls the others
	 * back as deadlock victims. A victim starts over (the claim is its
	 * transaction's first statement: nothing else is lost), after the usual
	 * random back-off and within database.deadlock_retries, and then waits
	 * for the one that got in and replays its answer.
	 */
	*status = STORE_OK;
	for (unsigned attempt = 1;; attempt++) {
		claim = claim_once(conn, slot, fp, retention_s, found, status, &err);
		if (claim != IDEM_BUSY || err != ER_LOCK_DEADLOCK)
			return claim;
		idem_store_rollback(conn);
		if (!db_conn_retry_after(conn, err, attempt, started))
			return claim;
		*status = STORE_OK;
	}
}

/* ---- storing and ending -------------------------------------------------- */

enum store_status idem_store_save(struct db_conn *conn, const struct idem_slot *slot, int status,
				  const char *location, const char *etag, const char *body, size_t body_len)
{
	MYSQL_STMT *stmt = prepared(conn, STMT_SAVE);
	MYSQL_BIND params[6];
	unsigned st = (unsigned)status;
	unsigned long loc_len = location ? strlen(location) : 0, etag_len = etag ? strlen(etag) : 0;
	unsigned long blen = body_len, lens[2];
	my_bool loc_null = loc_len == 0, etag_null = etag_len == 0, body_null = body == NULL;

	if (stmt == NULL)
		return failure(conn, NULL, stmt_name[S(STMT_SAVE)]);
	memset(params, 0, sizeof params);
	bind_u32(&params[0], &st);
	bind_in(&params[1], MYSQL_TYPE_STRING, location ? location : "", &loc_len, &loc_null);
	bind_in(&params[2], MYSQL_TYPE_STRING, etag ? etag : "", &etag_len, &etag_null);
	bind_in(&params[3], MYSQL_TYPE_BLOB, body ? body : "", &blen, &body_null);
	bind_slot(&params[4], slot, lens);
	if (run(stmt, STMT_SAVE, params) != 0)
		return failure(conn, stmt, stmt_name[S(STMT_SAVE)]);
	if (mysql_stmt_affected_rows(stmt) != 1) {
		log_error("db: %s changed %llu rows, not the claimed one", stmt_name[S(STMT_SAVE)],
			  (unsigned long long)mysql_stmt_affected_rows(stmt));
		return STORE_ERROR;
	}
	return STORE_OK;
}

enum store_status idem_store_commit(struct db_conn *conn)
{
	MYSQL *mysql = db_conn_mysql(conn);
	enum store_status status;

	trace_sql("commit", "COMMIT", NULL, 0);
	if (mysql != NULL && mysql_commit(mysql) == 0)
		return STORE_OK;
	status = failure(conn, NULL, "commit");
	if (db_conn_is_broken(conn)) {
		log_warn("db: the connection was lost during a commit: it may have been applied");
		return STORE_UNKNOWN_OUTCOME;
	}
	/* The server answered with an error: the transaction did not commit. */
	return status == STORE_ERROR ? STORE_UNAVAILABLE : status;
}

void idem_store_rollback(struct db_conn *conn)
{
	MYSQL *mysql = db_conn_mysql(conn);

	if (mysql == NULL || db_conn_is_broken(conn))
		return; /* the server rolls back a transaction whose connection is gone */
	trace_sql("rollback", "ROLLBACK", NULL, 0);
	if (mysql_rollback(mysql) != 0)
		db_conn_note_error(conn, mysql_errno(mysql));
}

/* ---- purging ------------------------------------------------------------- */

enum store_status idem_store_purge(struct db_conn *conn, unsigned long long *deleted)
{
	MYSQL_STMT *stmt = prepared(conn, STMT_PURGE);

	*deleted = 0;
	if (stmt == NULL)
		return failure(conn, NULL, stmt_name[S(STMT_PURGE)]);
	if (run(stmt, STMT_PURGE, NULL) != 0)
		return failure(conn, stmt, stmt_name[S(STMT_PURGE)]);
	*deleted = (unsigned long long)mysql_stmt_affected_rows(stmt);
	return STORE_OK;
}
