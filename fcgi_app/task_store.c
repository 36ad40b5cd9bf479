#include "task_store.h"

#include <mysqld_error.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "trace.h"

/* Statement ids index the per-connection cache in db_conn. */
enum {
	STMT_LIST = 0,
	STMT_LIST_BY_STATUS,
	STMT_GET,
	STMT_INSERT,
	STMT_INSERT_WITHIN_QUOTA,
	STMT_UPDATE,
	STMT_DELETE,
	STMT_SCHEMA_VERSION,
	STMT_COUNT
};

#define TASK_COLUMNS "id, title, description, is_completed, version, created_at, updated_at"

static const char *const sql_text[STMT_COUNT] = {
	/* Served by the (owner, id) index. */
	[STMT_LIST] = "SELECT " TASK_COLUMNS " FROM tasks WHERE owner = ? AND id > ? "
		      "ORDER BY id LIMIT ? OFFSET ?",
	/* Served by the (owner, is_completed, id) index. */
	[STMT_LIST_BY_STATUS] = "SELECT " TASK_COLUMNS " FROM tasks WHERE owner = ? AND is_completed = ? AND id > ? "
				"ORDER BY id LIMIT ? OFFSET ?",
	[STMT_GET] = "SELECT " TASK_COLUMNS " FROM tasks WHERE id = ? AND owner = ?",
	[STMT_INSERT] = "INSERT INTO tasks (owner, title, description, is_completed, version, created_at, updated_at) "
			"VALUES (?, ?, ?, ?, 1, ?, ?)",
	/*
	 * The count and the insert in one statement: under REPEATABLE READ the
	 * count's shared locks on the owner's index range make two concurrent
	 * creates at the limit deadlock, and the retry (execute_retrying) then
	 * counts the other's row. No row inserted: the quota is reached.
	 */
	[STMT_INSERT_WITHIN_QUOTA] = "INSERT INTO tasks (owner, title, description, is_completed, version, created_at, updated_at) "
				     "SELECT ?, ?, ?, ?, 1, ?, ? FROM DUAL "
				     "WHERE (SELECT COUNT(*) FROM tasks WHERE owner = ?) < ?",
	/* One statement, so concurrent PATCHes of different fields never undo each other. */
	[STMT_UPDATE] = "UPDATE tasks SET title = IF(?, ?, title), description = IF(?, ?, description), "
			"is_completed = IF(?, ?, is_completed), version = version + 1, updated_at = ? "
			"WHERE id = ? AND owner = ? AND version = IF(?, ?, version)",
	[STMT_DELETE] = "DELETE FROM tasks WHERE id = ? AND owner = ? AND version = IF(?, ?, version)",
	[STMT_SCHEMA_VERSION] = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
};

/* Statement names for the slow log and SQL echo (log.sql_echo). */
static const char *const stmt_name[STMT_COUNT] = {
	[STMT_LIST] = "list",
	[STMT_LIST_BY_STATUS] = "list_by_status",
	[STMT_GET] = "get",
	[STMT_INSERT] = "insert",
	[STMT_INSERT_WITHIN_QUOTA] = "insert_within_quota",
	[STMT_UPDATE] = "update",
	[STMT_DELETE] = "delete",
	[STMT_SCHEMA_VERSION] = "schema_version",
};

const char *store_strerror(enum store_status status)
{
	switch (status) {
	case STORE_OK: return "ok";
	case STORE_NOT_FOUND: return "not found";
	case STORE_CONFLICT: return "version conflict";
	case STORE_QUOTA: return "task quota reached";
	case STORE_UNAVAILABLE: return "database unavailable";
	case STORE_UNKNOWN_OUTCOME: return "database lost during a write";
	case STORE_ERROR: return "database error";
	}
	return "unknown";
}

/* Maps a failed statement to a status, marking the connection broken when needed. */
static enum store_status stmt_failure(struct db_conn *conn, MYSQL_STMT *stmt, unsigned id)
{
	unsigned err = stmt ? mysql_stmt_errno(stmt) : db_conn_last_error(conn);
	const char *msg = stmt ? mysql_stmt_error(stmt) : "prepare failed";

	if (stmt != NULL)
		db_conn_note_error(conn, err);
	if (db_conn_is_broken(conn)) {
		log_warn("db: statement %u lost its connection: %s (%u)", id, msg, err);
		return STORE_UNAVAILABLE;
	}
	/* Time limits, lock waits and deadlocks that outlived their retries: retry later. */
	/*
	 * ... and a Galera node outside the primary component (1047, or 1180
	 * when it refuses a COMMIT): nothing was applied; another node may.
	 */
	if (err == ER_STATEMENT_TIMEOUT || err == ER_QUERY_INTERRUPTED || err == ER_LOCK_WAIT_TIMEOUT ||
	    err == ER_LOCK_DEADLOCK || err == ER_CON_COUNT_ERROR || err == ER_UNKNOWN_COM_ERROR ||
	    err == ER_ERROR_DURING_COMMIT) {
		log_warn("db: statement %u gave up: %s (%u)", id, msg, err);
		return STORE_UNAVAILABLE;
	}
	log_error("db: statement %u failed: %s (%u)", id, msg, err);
	return STORE_ERROR;
}

/*
 * A write whose statement failed: as stmt_failure, except that a connection
 * lost once the statement was on its way (a server gone silent, or the cut
 * at the statement deadline) leaves the outcome unknown: the server may
 * have committed it just before.
 */
static enum store_status write_failure(struct db_conn *conn, MYSQL_STMT *stmt, unsigned id)
{
	enum store_status status = stmt_failure(conn, stmt, id);

	if (status != STORE_UNAVAILABLE || !db_conn_is_broken(conn))
		return status;
	log_warn("db: write statement %u lost its connection: it may have been applied", id);
	return STORE_UNKNOWN_OUTCOME;
}

/*
 * Executes a bound statement; again, after a short pause, when InnoDB
 * answered with a deadlock or a lock wait timeout (only writes see those: a
 * plain SELECT takes no locks). Safe for a single-statement write: in
 * autocommit mode InnoDB rolled it back before answering, so it happens once
 * or not at all (db_conn_retry_after bounds the tries). A lost connection is
 * never retried: whether the write happened is unknown.
 */
static int execute_retrying(struct db_conn *conn, MYSQL_STMT *stmt)
{
	long long started = clock_ms();

	for (unsigned attempt = 1;; attempt++) {
		if (mysql_stmt_execute(stmt) == 0)
			return 0;
		if (!db_conn_retry_after(conn, mysql_stmt_errno(stmt), attempt, started))
			return -1;
	}
}

static MYSQL_STMT *prepared(struct db_conn *conn, unsigned id)
{
	return db_conn_stmt(conn, id, sql_text[id]);
}

/*
 * Binds params (none when NULL) and executes (retrying deadlocks, see
 * execute_retrying); the request's trace records every statement.
 */
static int bind_execute(struct db_conn *conn, MYSQL_STMT *stmt, unsigned id, MYSQL_BIND *params)
{
	trace_sql(stmt_name[id], sql_text[id], params, params ? (unsigned)mysql_stmt_param_count(stmt) : 0);
	if (params != NULL && mysql_stmt_bind_param(stmt, params) != 0)
		return -1;
	return execute_retrying(conn, stmt);
}

static void put_digits(char *out, unsigned value, int width)
{
	while (width-- > 0) {
		out[width] = (char)('0' + value % 10);
		value /= 10;
	}
}

/* "2026-11-25T12:00:00Z"; by hand, since snprintf here cost more than the row's fetch. */
static void format_time(const MYSQL_TIME *t, char *out, size_t len)
{
	if (len < 21)
		return;
	memcpy(out, "0000-00-00T00:00:00Z", 21);
	put_digits(out, t->year, 4);
	put_digits(out + 5, t->month, 2);
	put_digits(out + 8, t->day, 2);
	put_digits(out + 11, t->hour, 2);
	put_digits(out + 14, t->minute, 2);
	put_digits(out + 17, t->second, 2);
}

static void now_utc(MYSQL_TIME *t)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	memset(t, 0, sizeof *t);
	t->year = (unsigned)tm.tm_year + 1900;
	t->month = (unsigned)tm.tm_mon + 1;
	t->day = (unsigned)tm.tm_mday;
	t->hour = (unsigned)tm.tm_hour;
	t->minute = (unsigned)tm.tm_min;
	t->second = (unsigned)tm.tm_sec;
	t->time_type = MYSQL_TIMESTAMP_DATETIME;
}

/* ---- binding helpers ----------------------------------------------------- */

static void bind_u64(MYSQL_BIND *b, uint64_t *v)
{
	b->buffer_type = MYSQL_TYPE_LONGLONG;
	b->buffer = v;
	b->is_unsigned = 1;
}

static void bind_u32(MYSQL_BIND *b, unsigned *v)
{
	b->buffer_type = MYSQL_TYPE_LONG;
	b->buffer = v;
	b->is_unsigned = 1;
}

static void bind_tiny(MYSQL_BIND *b, signed char *v)
{
	b->buffer_type = MYSQL_TYPE_TINY;
	b->buffer = v;
}

/* MYSQL_BIND wants a mutable pointer for input strings it only reads. */
static void bind_text(MYSQL_BIND *b, const char *s, unsigned long *len, my_bool *is_null)
{
	b->buffer_type = MYSQL_TYPE_STRING;
	memcpy(&b->buffer, &s, sizeof s);
	b->buffer_length = *len;
	b->length = len;
	b->is_null = is_null;
}

static void bind_time(MYSQL_BIND *b, MYSQL_TIME *t)
{
	b->buffer_type = MYSQL_TYPE_DATETIME;
	b->buffer = t;
}

/* The owner as a binary string parameter; *len is the caller's storage for its length. */
static void bind_owner(MYSQL_BIND *b, const struct task_owner *owner, unsigned long *len)
{
	*len = owner->len;
	b->buffer_type = MYSQL_TYPE_STRING;
	memcpy(&b->buffer, &owner->name, sizeof owner->name);
	b->buffer_length = *len;
	b->length = len;
}

/* Result columns of every statement that returns tasks (TASK_COLUMNS, in order). */
struct task_row {
	MYSQL_BIND bind[7];
	struct task task;
	my_bool description_null;
	signed char completed;
	MYSQL_TIME created, updated;
};

static void task_row_bind(struct task_row *r)
{
	memset(r->bind, 0, sizeof r->bind);
	bind_u64(&r->bind[0], &r->task.id);
	r->bind[1].buffer_type = MYSQL_TYPE_STRING;
	r->bind[1].buffer = r->task.title;
	r->bind[1].buffer_length = sizeof r->task.title - 1;
	r->bind[1].length = &r->task.title_len;
	r->bind[2].buffer_type = MYSQL_TYPE_STRING;
	r->bind[2].buffer = r->task.description;
	r->bind[2].buffer_length = sizeof r->task.description - 1;
	r->bind[2].length = &r->task.description_len;
	r->bind[2].is_null = &r->description_null;
	bind_tiny(&r->bind[3], &r->completed);
	bind_u32(&r->bind[4], &r->task.version);
	bind_time(&r->bind[5], &r->created);
	bind_time(&r->bind[6], &r->updated);
}

/* Turns the fetched columns into a complete task (NUL-terminated strings, RFC 3339 times). */
static void task_row_finish(struct task_row *r)
{
	r->task.title[r->task.title_len] = '\0';
	r->task.description_null = r->description_null;
	if (r->description_null)
		r->task.description_len = 0;
	r->task.description[r->task.description_len] = '\0';
	r->task.is_completed = r->completed != 0;
	format_time(&r->created, r->task.created_at, sizeof r->task.created_at);
	format_time(&r->updated, r->task.updated_at, sizeof r->task.updated_at);
}

/* Executes a bound SELECT of tasks and hands each row to on_row. */
static enum store_status run_select(struct db_conn *conn, MYSQL_STMT *stmt, unsigned id,
				    MYSQL_BIND *params, task_row_fn on_row, void *ctx, size_t *rows)
{
	struct task_row row;
	enum store_status status = STORE_OK;
	int rc;

	*rows = 0;
	task_row_bind(&row);
	if (bind_execute(conn, stmt, id, params) != 0 ||
	    mysql_stmt_bind_result(stmt, row.bind) != 0)
		return stmt_failure(conn, stmt, id);
	while ((rc = mysql_stmt_fetch(stmt)) == 0) {
		task_row_finish(&row);
		(*rows)++;
		if (on_row(ctx, &row.task) != 0)
			break;
	}
	if (rc == 1) {
		status = stmt_failure(conn, stmt, id);
	} else if (rc == MYSQL_DATA_TRUNCATED) {
		log_error("db: a task row did not fit its buffers");
		status = STORE_ERROR;
	}
	trace_rows(*rows);
	/* Discards rows left unread when on_row stopped early. */
	mysql_stmt_free_result(stmt);
	return status;
}

/* ---- statements ---------------------------------------------------------- */

enum store_status task_store_list(struct db_conn *conn, const struct task_owner *owner,
				  const struct task_list_query *q, task_row_fn on_row, void *ctx)
{
	unsigned id = q->completed >= 0 ? STMT_LIST_BY_STATUS : STMT_LIST;
	MYSQL_STMT *stmt = prepared(conn, id);
	MYSQL_BIND params[5], *p = params;
	unsigned long owner_len;
	uint64_t after = q->after_id, limit = q->limit, skip = q->skip;
	signed char completed = (signed char)(q->completed > 0);
	size_t rows;

	if (stmt == NULL)
		return stmt_failure(conn, NULL, id);
	memset(params, 0, sizeof params);
	bind_owner(p++, owner, &owner_len);
	if (q->completed >= 0)
		bind_tiny(p++, &completed);
	bind_u64(p++, &after);
	bind_u64(p++, &limit);
	bind_u64(p, &skip);
	return run_select(conn, stmt, id, params, on_row, ctx, &rows);
}

static int copy_task(void *ctx, const struct task *task)
{
	memcpy(ctx, task, sizeof *task);
	return 1;
}

enum store_status task_store_get(struct db_conn *conn, const struct task_owner *owner, uint64_t id,
				 struct task *out)
{
	MYSQL_STMT *stmt = prepared(conn, STMT_GET);
	MYSQL_BIND params[2];
	unsigned long owner_len;
	size_t rows;
	enum store_status status;

	if (stmt == NULL)
		return stmt_failure(conn, NULL, STMT_GET);
	memset(params, 0, sizeof params);
	bind_u64(&params[0], &id);
	bind_owner(&params[1], owner, &owner_len);
	status = run_select(conn, stmt, STMT_GET, params, copy_task, out, &rows);
	if (status == STORE_OK && rows == 0)
		return STORE_NOT_FOUND;
	return status;
}

enum store_status task_store_create(struct db_conn *conn, const struct task_owner *owner,
				    const struct task_fields *in, long max_tasks, struct task *out)
{
	unsigned id = max_tasks > 0 ? STMT_INSERT_WITHIN_QUOTA : STMT_INSERT;
	MYSQL_STMT *stmt = prepared(conn, id);
	MYSQL_BIND params[8];
	unsigned long owner_len, count_owner_len;
	uint64_t limit = max_tasks > 0 ? (uint64_t)max_tasks : 0;
	unsigned long title_len = in->title_len, description_len = in->description_len;
	my_bool description_null = in->description == NULL;
	signed char completed = in->is_completed;
	MYSQL_TIME now;

	/* *out is answered from the input, so the input must fit it, whoever validated it. */
	if (in->title_len > TASK_TITLE_MAX_BYTES || in->description_len > TASK_DESCRIPTION_MAX_BYTES) {
		log_error("db: a task's title (%zu bytes) or description (%zu bytes) exceeds its buffer",
			  in->title_len, in->description_len);
		return STORE_ERROR;
	}
	if (stmt == NULL)
		return stmt_failure(conn, NULL, id);
	now_utc(&now);
	memset(params, 0, sizeof params);
	bind_owner(&params[0], owner, &owner_len);
	bind_text(&params[1], in->title, &title_len, NULL);
	bind_text(&params[2], in->description ? in->description : "", &description_len, &description_null);
	bind_tiny(&params[3], &completed);
	bind_time(&params[4], &now);
	bind_time(&params[5], &now);
	if (id == STMT_INSERT_WITHIN_QUOTA) {
		bind_owner(&params[6], owner, &count_owner_len);
		bind_u64(&params[7], &limit);
	}
	if (bind_execute(conn, stmt, id, params) != 0)
		return write_failure(conn, stmt, id);
	if (mysql_stmt_affected_rows(stmt) == 0)
		return STORE_QUOTA;

	/* The row is exactly what was sent: answer from it instead of reading it back. */
	memset(out, 0, sizeof *out);
	out->id = mysql_stmt_insert_id(stmt);
	memcpy(out->title, in->title, in->title_len);
	out->title_len = in->title_len;
	out->description_null = in->description == NULL;
	if (in->description != NULL)
		memcpy(out->description, in->description, in->description_len);
	out->description_len = in->description ? in->description_len : 0;
	out->is_completed = in->is_completed;
	out->version = 1;
	format_time(&now, out->created_at, sizeof out->created_at);
	memcpy(out->updated_at, out->created_at, sizeof out->updated_at);
	return STORE_OK;
}

/* After a guarded write touched no row: was the task missing, or at another version? */
static enum store_status explain_miss(struct db_conn *conn, const struct task_owner *owner, uint64_t id)
{
	struct task current;
	enum store_status status = task_store_get(conn, owner, id, &current);

	return status == STORE_OK ? STORE_CONFLICT : status;
}

enum store_status task_store_update(struct db_conn *conn, const struct task_owner *owner, uint64_t id,
				    const struct task_fields *in, const unsigned *expected_version,
				    struct task *out)
{
	MYSQL_STMT *stmt;
	MYSQL_BIND params[11];
	unsigned long owner_len;
	signed char set_title = in->set_title, set_description = in->set_description;
	signed char set_completed = in->set_completed, completed = in->is_completed;
	signed char check_version = expected_version != NULL;
	unsigned version = expected_version ? *expected_version : 0;
	unsigned long title_len = in->title_len, description_len = in->description_len;
	my_bool description_null = in->description == NULL;
	MYSQL_TIME now;
	enum store_status status;

	if (!in->set_title && !in->set_description && !in->set_completed) {
		/* Nothing to change: the answer is the task as it is. */
		status = task_store_get(conn, owner, id, out);
		if (status == STORE_OK && expected_version != NULL && out->version != *expected_version)
			return STORE_CONFLICT;
		return status;
	}
	stmt = prepared(conn, STMT_UPDATE);
	if (stmt == NULL)
		return stmt_failure(conn, NULL, STMT_UPDATE);
	now_utc(&now);
	memset(params, 0, sizeof params);
	bind_tiny(&params[0], &set_title);
	bind_text(&params[1], in->title ? in->title : "", &title_len, NULL);
	bind_tiny(&params[2], &set_description);
	bind_text(&params[3], in->description ? in->description : "", &description_len, &description_null);
	bind_tiny(&params[4], &set_completed);
	bind_tiny(&params[5], &completed);
	bind_time(&params[6], &now);
	bind_u64(&params[7], &id);
	bind_owner(&params[8], owner, &owner_len);
	bind_tiny(&params[9], &check_version);
	bind_u32(&params[10], &version);
	if (bind_execute(conn, stmt, STMT_UPDATE, params) != 0)
		return write_failure(conn, stmt, STMT_UPDATE);
	if (mysql_stmt_affected_rows(stmt) == 0)
		return explain_miss(conn, owner, id);
	status = task_store_get(conn, owner, id, out);
	/*
	 * Deleted between our update and the read: the update happened, the task
	 * is gone. The read lost its connection: the update happened, which the
	 * client must not take for "nothing was written".
	 */
	return status == STORE_UNAVAILABLE ? STORE_UNKNOWN_OUTCOME : status;
}

enum store_status task_store_delete(struct db_conn *conn, const struct task_owner *owner, uint64_t id,
				    const unsigned *expected_version)
{
	MYSQL_STMT *stmt = prepared(conn, STMT_DELETE);
	MYSQL_BIND params[4];
	unsigned long owner_len;
	signed char check_version = expected_version != NULL;
	unsigned version = expected_version ? *expected_version : 0;

	if (stmt == NULL)
		return stmt_failure(conn, NULL, STMT_DELETE);
	memset(params, 0, sizeof params);
	bind_u64(&params[0], &id);
	bind_owner(&params[1], owner, &owner_len);
	bind_tiny(&params[2], &check_version);
	bind_u32(&params[3], &version);
	if (bind_execute(conn, stmt, STMT_DELETE, params) != 0)
		return write_failure(conn, stmt, STMT_DELETE);
	if (mysql_stmt_affected_rows(stmt) == 0)
		return explain_miss(conn, owner, id);
	return STORE_OK;
}

enum store_status task_store_schema_version(struct db_conn *conn, unsigned *version)
{
	MYSQL_STMT *stmt = prepared(conn, STMT_SCHEMA_VERSION);
	MYSQL_BIND result;
	long long value = 0;
	enum store_status status = STORE_OK;

	*version = 0;
	if (stmt == NULL) {
		/* No schema_migrations table yet means nothing was migrated. */
		if (db_conn_last_error(conn) == ER_NO_SUCH_TABLE)
			return STORE_OK;
		return stmt_failure(conn, NULL, STMT_SCHEMA_VERSION);
	}
	memset(&result, 0, sizeof result);
	result.buffer_type = MYSQL_TYPE_LONGLONG;
	result.buffer = &value;
	if (bind_execute(conn, stmt, STMT_SCHEMA_VERSION, NULL) != 0 || mysql_stmt_bind_result(stmt, &result) != 0)
		return stmt_failure(conn, stmt, STMT_SCHEMA_VERSION);
	switch (mysql_stmt_fetch(stmt)) {
	case 0:
		*version = value > 0 ? (unsigned)value : 0;
		break;
	case MYSQL_NO_DATA:
		break;
	default:
		status = stmt_failure(conn, stmt, STMT_SCHEMA_VERSION);
	}
	mysql_stmt_free_result(stmt);
	return status;
}
