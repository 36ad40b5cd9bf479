#include "token_store.h"

#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "buf.h"
#include "log.h"
#include "trace.h"
#include "xalloc.h"

enum {
	STMT_LOOKUP = TOKEN_STORE_FIRST_STMT,
	STMT_TOUCH,
	STMT_CREATE,
	STMT_LIST,
	STMT_REVOKE,
	STMT_REVOKED_AT,
	STMT_END
};

_Static_assert(STMT_END == DB_MAX_STMTS, "token_store's statements are the last of the cache");
_Static_assert(TOKEN_STORE_FIRST_STMT >= 8, "task_store's statements keep room below token_store's");

#define S(id) ((id) - TOKEN_STORE_FIRST_STMT)

static const char *const sql_text[TOKEN_STORE_STMTS] = {
	/* The expiry as seconds left by the database's clock: no clock of ours to disagree with. */
	[S(STMT_LOOKUP)] = "SELECT id, owner, scopes, revoked_at IS NOT NULL, "
			   "TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), expires_at) "
			   "FROM api_tokens WHERE token_hash = ?",
	[S(STMT_TOUCH)] = "UPDATE api_tokens SET last_used_at = UTC_TIMESTAMP() WHERE id = ?",
	[S(STMT_CREATE)] = "INSERT INTO api_tokens (token_hash, prefix, owner, scopes, note, created_at, expires_at) "
			   "VALUES (?, ?, ?, ?, ?, UTC_TIMESTAMP(), UTC_TIMESTAMP() + INTERVAL ? SECOND)",
	[S(STMT_LIST)] = "SELECT id, owner, scopes, prefix, note, created_at, expires_at, last_used_at, revoked_at "
			 "FROM api_tokens WHERE ? = '' OR owner = ? ORDER BY id",
	[S(STMT_REVOKE)] = "UPDATE api_tokens SET revoked_at = UTC_TIMESTAMP() WHERE id = ? AND revoked_at IS NULL",
	[S(STMT_REVOKED_AT)] = "SELECT revoked_at IS NOT NULL FROM api_tokens WHERE id = ?",
};

static const char *const stmt_name[TOKEN_STORE_STMTS] = {
	[S(STMT_LOOKUP)] = "token_lookup",
	[S(STMT_TOUCH)] = "token_touch",
	[S(STMT_CREATE)] = "token_create",
	[S(STMT_LIST)] = "token_list",
	[S(STMT_REVOKE)] = "token_revoke",
	[S(STMT_REVOKED_AT)] = "token_revoked_at",
};

int token_scopes_parse(const char *text, unsigned *mask)
{
	const char *p = text;
	unsigned m = 0;

	while (*p != '\0') {
		size_t n;

		p += strspn(p, ", ");
		n = strcspn(p, ", ");
		if (n == 0)
			break;
		if (n == 10 && strncmp(p, "tasks:read", n) == 0)
			m |= AUTH_SCOPE_READ;
		else if (n == 11 && strncmp(p, "tasks:write", n) == 0)
			m |= AUTH_SCOPE_WRITE | AUTH_SCOPE_READ;
		else
			return -1;
		p += n;
	}
	if (m == 0)
		return -1;
	*mask = m;
	return 0;
}

const char *token_scopes_text(unsigned mask)
{
	return (mask & AUTH_SCOPE_WRITE) ? "tasks:read,tasks:write" : "tasks:read";
}

/* Maps a failed statement to a status, marking the connection broken when needed. */
static enum store_status failure(struct db_conn *conn, MYSQL_STMT *stmt, unsigned id)
{
	unsigned err = stmt ? mysql_stmt_errno(stmt) : db_conn_last_error(conn);
	const char *msg = stmt ? mysql_stmt_error(stmt) : "prepare failed";

	if (stmt != NULL)
		db_conn_note_error(conn, err);
	if (db_conn_is_broken(conn) || err == ER_STATEMENT_TIMEOUT || err == ER_QUERY_INTERRUPTED ||
	    err == ER_LOCK_WAIT_TIMEOUT || err == ER_LOCK_DEADLOCK || err == ER_CON_COUNT_ERROR) {
		log_warn("db: %s gave up: %s (%u)", stmt_name[S(id)], msg, err);
		return STORE_UNAVAILABLE;
	}
	log_error("db: %s failed: %s (%u)", stmt_name[S(id)], msg, err);
	return STORE_ERROR;
}

static MYSQL_STMT *prepared(struct db_conn *conn, unsigned id)
{
	return db_conn_stmt(conn, id, sql_text[S(id)]);
}

/*
 * Binds and executes. The trace gets the statement's name only: parameters
 * here are a token's hash, which the SQL echo has no business printing.
 */
static int run(MYSQL_STMT *stmt, unsigned id, MYSQL_BIND *params)
{
	trace_sql(stmt_name[S(id)], sql_text[S(id)], NULL, 0);
	if (params != NULL && mysql_stmt_bind_param(stmt, params) != 0)
		return -1;
	return mysql_stmt_execute(stmt);
}

static void bind_u64(MYSQL_BIND *b, uint64_t *v)
{
	b->buffer_type = MYSQL_TYPE_LONGLONG;
	b->buffer = v;
	b->is_unsigned = 1;
}

static void bind_ll(MYSQL_BIND *b, long long *v, my_bool *is_null)
{
	b->buffer_type = MYSQL_TYPE_LONGLONG;
	b->buffer = v;
	b->is_null = is_null;
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

static void bind_out(MYSQL_BIND *b, char *buf, size_t size, unsigned long *len, my_bool *is_null)
{
	b->buffer_type = MYSQL_TYPE_STRING;
	b->buffer = buf;
	b->buffer_length = size - 1; /* room for the NUL */
	b->length = len;
	b->is_null = is_null;
}

enum store_status token_store_lookup(struct db_conn *conn, const unsigned char hash[TOKEN_HASH_LEN],
				     struct token_found *out)
{
	MYSQL_STMT *stmt = prepared(conn, STMT_LOOKUP);
	MYSQL_BIND param, res[5];
	unsigned long hash_len = TOKEN_HASH_LEN, owner_len = 0, scopes_len = 0;
	char scopes[TOKEN_SCOPES_MAX + 1];
	long long revoked = 0, left = 0;
	my_bool left_null = 0;
	enum store_status status = STORE_OK;
	int rc;

	memset(out, 0, sizeof *out);
	if (stmt == NULL)
		return failure(conn, NULL, STMT_LOOKUP);
	memset(&param, 0, sizeof param);
	bind_in(&param, MYSQL_TYPE_BLOB, hash, &hash_len, NULL);
	memset(res, 0, sizeof res);
	bind_u64(&res[0], &out->id);
	bind_out(&res[1], out->owner, sizeof out->owner, &owner_len, NULL);
	bind_out(&res[2], scopes, sizeof scopes, &scopes_len, NULL);
	bind_ll(&res[3], &revoked, NULL);
	bind_ll(&res[4], &left, &left_null);
	if (run(stmt, STMT_LOOKUP, &param) != 0 || mysql_stmt_bind_result(stmt, res) != 0)
		return failure(conn, stmt, STMT_LOOKUP);
	rc = mysql_stmt_fetch(stmt);
	if (rc == 0) {
		out->owner[owner_len] = '\0';
		out->owner_len = owner_len;
		scopes[scopes_len] = '\0';
		/* A row whose scopes we cannot read grants nothing. */
		if (token_scopes_parse(scopes, &out->scopes) < 0)
			out->scopes = 0;
		out->revoked = revoked != 0;
		out->expires_in_s = left_null ? 0 : left;
		trace_rows(1);
	} else if (rc == MYSQL_NO_DATA) {
		status = STORE_NOT_FOUND;
	} else if (rc == MYSQL_DATA_TRUNCATED) {
		log_error("db: an api_tokens row did not fit its buffers (token %llu)", (unsigned long long)out->id);
		status = STORE_ERROR;
	} else {
		status = failure(conn, stmt, STMT_LOOKUP);
	}
	mysql_stmt_free_result(stmt);
	return status;
}

enum store_status token_store_touch(struct db_conn *conn, uint64_t id)
{
	MYSQL_STMT *stmt = prepared(conn, STMT_TOUCH);
	MYSQL_BIND param;

	if (stmt == NULL)
		return failure(conn, NULL, STMT_TOUCH);
	memset(&param, 0, sizeof param);
	bind_u64(&param, &id);
	if (run(stmt, STMT_TOUCH, &param) != 0)
		return failure(conn, stmt, STMT_TOUCH);
	return STORE_OK;
}

enum store_status token_store_create(struct db_conn *conn, const struct token_new *t, uint64_t *id)
{
	MYSQL_STMT *stmt = prepared(conn, STMT_CREATE);
	MYSQL_BIND params[6];
	const char *scopes = token_scopes_text(t->scopes);
	unsigned long hash_len = TOKEN_HASH_LEN, prefix_len = strlen(t->prefix), owner_len = strlen(t->owner);
	unsigned long scopes_len = strlen(scopes), note_len = t->note ? strlen(t->note) : 0;
	my_bool note_null = t->note == NULL;
	long long lifetime = t->lifetime_s;

	*id = 0;
	if (stmt == NULL)
		return failure(conn, NULL, STMT_CREATE);
	memset(params, 0, sizeof params);
	bind_in(&params[0], MYSQL_TYPE_BLOB, t->hash, &hash_len, NULL);
	bind_in(&params[1], MYSQL_TYPE_STRING, t->prefix, &prefix_len, NULL);
	bind_in(&params[2], MYSQL_TYPE_BLOB, t->owner, &owner_len, NULL);
	bind_in(&params[3], MYSQL_TYPE_STRING, scopes, &scopes_len, NULL);
	bind_in(&params[4], MYSQL_TYPE_STRING, t->note ? t->note : "", &note_len, &note_null);
	bind_ll(&params[5], &lifetime, NULL);
	if (run(stmt, STMT_CREATE, params) != 0)
		return failure(conn, stmt, STMT_CREATE);
	*id = mysql_stmt_insert_id(stmt);
	return STORE_OK;
}

static void format_time(const MYSQL_TIME *t, bool is_null, char *out, size_t len)
{
	if (is_null) {
		out[0] = '\0';
		return;
	}
	snprintf(out, len, "%04u-%02u-%02uT%02u:%02u:%02uZ", t->year, t->month, t->day, t->hour, t->minute,
		 t->second);
}

enum store_status token_store_list(struct db_conn *conn, const char *owner, token_row_fn on_row, void *ctx)
{
	MYSQL_STMT *stmt = prepared(conn, STMT_LIST);
	MYSQL_BIND params[2], res[9];
	const char *who = owner ? owner : "";
	unsigned long who_len = strlen(who), owner_len, scopes_len, prefix_len, note_len;
	my_bool note_null, tnull[4];
	MYSQL_TIME times[4];
	struct token_row *row = xcalloc(1, sizeof *row);
	enum store_status status = STORE_OK;
	unsigned long long rows = 0;
	int rc;

	if (stmt == NULL) {
		status = failure(conn, NULL, STMT_LIST);
		goto out;
	}
	memset(params, 0, sizeof params);
	bind_in(&params[0], MYSQL_TYPE_BLOB, who, &who_len, NULL);
	bind_in(&params[1], MYSQL_TYPE_BLOB, who, &who_len, NULL);
	memset(res, 0, sizeof res);
	bind_u64(&res[0], &row->id);
	bind_out(&res[1], row->owner, sizeof row->owner, &owner_len, NULL);
	bind_out(&res[2], row->scopes, sizeof row->scopes, &scopes_len, NULL);
	bind_out(&res[3], row->prefix, sizeof row->prefix, &prefix_len, NULL);
	bind_out(&res[4], row->note, sizeof row->note, &note_len, &note_null);
	for (int i = 0; i < 4; i++) {
		res[5 + i].buffer_type = MYSQL_TYPE_DATETIME;
		res[5 + i].buffer = &times[i];
		res[5 + i].is_null = &tnull[i];
	}
	if (run(stmt, STMT_LIST, params) != 0 || mysql_stmt_bind_result(stmt, res) != 0) {
		status = failure(conn, stmt, STMT_LIST);
		goto out;
	}
	while ((rc = mysql_stmt_fetch(stmt)) == 0) {
		row->owner[owner_len] = '\0';
		row->scopes[scopes_len] = '\0';
		row->prefix[prefix_len] = '\0';
		row->note[note_null ? 0 : note_len] = '\0';
		format_time(&times[0], tnull[0], row->created_at, sizeof row->created_at);
		format_time(&times[1], tnull[1], row->expires_at, sizeof row->expires_at);
		format_time(&times[2], tnull[2], row->last_used_at, sizeof row->last_used_at);
		format_time(&times[3], tnull[3], row->revoked_at, sizeof row->revoked_at);
		rows++;
		if (on_row(ctx, row) != 0)
			break;
	}
	if (rc == 1)
		status = failure(conn, stmt, STMT_LIST);
	else if (rc == MYSQL_DATA_TRUNCATED)
		status = STORE_ERROR;
	trace_rows(rows);
	mysql_stmt_free_result(stmt);
out:
	free(row);
	return status;
}

enum store_status token_store_revoke(struct db_conn *conn, uint64_t id)
{
	MYSQL_STMT *stmt = prepared(conn, STMT_REVOKE);
	MYSQL_BIND param, res;
	long long revoked = 0;
	enum store_status status;
	int rc;

	if (stmt == NULL)
		return failure(conn, NULL, STMT_REVOKE);
	memset(&param, 0, sizeof param);
	bind_u64(&param, &id);
	if (run(stmt, STMT_REVOKE, &param) != 0)
		return failure(conn, stmt, STMT_REVOKE);
	if (mysql_stmt_affected_rows(stmt) == 1)
		return STORE_OK;
	/* Nothing changed: no such token, or revoked before. */
	stmt = prepared(conn, STMT_REVOKED_AT);
	if (stmt == NULL)
		return failure(conn, NULL, STMT_REVOKED_AT);
	memset(&res, 0, sizeof res);
	bind_ll(&res, &revoked, NULL);
	if (run(stmt, STMT_REVOKED_AT, &param) != 0 || mysql_stmt_bind_result(stmt, &res) != 0)
		return failure(conn, stmt, STMT_REVOKED_AT);
	rc = mysql_stmt_fetch(stmt);
	if (rc == 0)
		status = STORE_CONFLICT;
	else if (rc == MYSQL_NO_DATA)
		status = STORE_NOT_FOUND;
	else
		status = failure(conn, stmt, STMT_REVOKED_AT);
	mysql_stmt_free_result(stmt);
	return status;
}

static void hex(struct buf *b, const void *data, size_t len)
{
	static const char digits[] = "0123456789ABCDEF";
	const unsigned char *p = data;

	buf_append(b, "X'", 2);
	for (size_t i = 0; i < len; i++) {
		char two[2] = { digits[p[i] >> 4], digits[p[i] & 15] };

		buf_append(b, two, 2);
	}
	buf_append(b, "'", 1);
}

char *token_store_insert_sql(const struct token_new *t)
{
	struct buf b = BUF_INIT;

	/* Every value a literal that needs no escaping: hex for bytes, the rest ASCII we made. */
	buf_puts(&b, "INSERT INTO api_tokens (token_hash, prefix, owner, scopes, note, created_at, "
			   "expires_at) VALUES (");
	hex(&b, t->hash, TOKEN_HASH_LEN);
	buf_puts(&b, ", '");
	buf_puts(&b, t->prefix);
	buf_puts(&b, "', ");
	hex(&b, t->owner, strlen(t->owner));
	buf_puts(&b, ", '");
	buf_puts(&b, token_scopes_text(t->scopes));
	buf_puts(&b, "', ");
	if (t->note != NULL) {
		buf_puts(&b, "CONVERT(");
		hex(&b, t->note, strlen(t->note));
		buf_puts(&b, " USING utf8mb4)");
	} else {
		buf_puts(&b, "NULL");
	}
	buf_printf(&b, ", UTC_TIMESTAMP(), UTC_TIMESTAMP() + INTERVAL %lld SECOND);", t->lifetime_s);
	return b.data; /* always NUL-terminated */
}
