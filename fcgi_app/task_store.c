#include "task_store.h"

#include <mysqld_error.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

/* Statement ids index the per-connection cache in db_pool. */
enum {
	STMT_LIST = 0,
	STMT_SCHEMA_VERSION,
};

static const char *const sql_text[] = {
	[STMT_LIST] = "SELECT id, title, description, is_completed, created_at, updated_at "
		      "FROM tasks ORDER BY id LIMIT ? OFFSET ?",
	[STMT_SCHEMA_VERSION] = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
};

const char *store_strerror(enum store_status status)
{
	switch (status) {
	case STORE_OK: return "ok";
	case STORE_NOT_FOUND: return "not found";
	case STORE_CONFLICT: return "conflict";
	case STORE_UNAVAILABLE: return "database unavailable";
	case STORE_ERROR: return "database error";
	}
	return "unknown";
}

/* Maps a failed statement to a status, marking the connection broken when needed. */
static enum store_status stmt_failure(struct db_conn *conn, MYSQL_STMT *stmt, unsigned id)
{
	unsigned err = stmt ? mysql_stmt_errno(stmt) : conn->last_error;

	if (stmt != NULL)
		db_conn_note_error(conn, err);
	if (conn->broken) {
		log_warn("db: statement %u lost its connection: %s (%u)", id,
			 stmt ? mysql_stmt_error(stmt) : "prepare failed", err);
		return STORE_UNAVAILABLE;
	}
	log_error("db: statement %u failed: %s (%u)", id,
		  stmt ? mysql_stmt_error(stmt) : "prepare failed", err);
	return STORE_ERROR;
}

static MYSQL_STMT *prepared(struct db_conn *conn, unsigned id)
{
	return db_conn_stmt(conn, id, sql_text[id]);
}

static void format_time(const MYSQL_TIME *t, char *out, size_t len)
{
	snprintf(out, len, "%04u-%02u-%02uT%02u:%02u:%02uZ", t->year, t->month, t->day, t->hour,
		 t->minute, t->second);
}

/* Result columns of every statement that returns tasks, in this order. */
struct task_row {
	MYSQL_BIND bind[6];
	struct task task;
	my_bool description_null;
	signed char completed;
	MYSQL_TIME created, updated;
};

static void task_row_bind(struct task_row *r)
{
	memset(r->bind, 0, sizeof r->bind);
	r->bind[0].buffer_type = MYSQL_TYPE_LONGLONG;
	r->bind[0].buffer = &r->task.id;
	r->bind[0].is_unsigned = 1;
	r->bind[1].buffer_type = MYSQL_TYPE_STRING;
	r->bind[1].buffer = r->task.title;
	r->bind[1].buffer_length = sizeof r->task.title - 1;
	r->bind[1].length = &r->task.title_len;
	r->bind[2].buffer_type = MYSQL_TYPE_STRING;
	r->bind[2].buffer = r->task.description;
	r->bind[2].buffer_length = sizeof r->task.description - 1;
	r->bind[2].length = &r->task.description_len;
	r->bind[2].is_null = &r->description_null;
	r->bind[3].buffer_type = MYSQL_TYPE_TINY;
	r->bind[3].buffer = &r->completed;
	r->bind[4].buffer_type = MYSQL_TYPE_DATETIME;
	r->bind[4].buffer = &r->created;
	r->bind[5].buffer_type = MYSQL_TYPE_DATETIME;
	r->bind[5].buffer = &r->updated;
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

enum store_status task_store_list(struct db_conn *conn, uint64_t skip, unsigned limit,
				  task_row_fn on_row, void *ctx)
{
	MYSQL_STMT *stmt = prepared(conn, STMT_LIST);
	MYSQL_BIND params[2];
	unsigned long long limit_ull = limit, skip_ull = skip;
	struct task_row row;
	enum store_status status = STORE_OK;
	int rc;

	if (stmt == NULL)
		return stmt_failure(conn, NULL, STMT_LIST);
	memset(params, 0, sizeof params);
	params[0].buffer_type = MYSQL_TYPE_LONGLONG;
	params[0].buffer = &limit_ull;
	params[0].is_unsigned = 1;
	params[1].buffer_type = MYSQL_TYPE_LONGLONG;
	params[1].buffer = &skip_ull;
	params[1].is_unsigned = 1;
	task_row_bind(&row);
	if (mysql_stmt_bind_param(stmt, params) != 0 || mysql_stmt_execute(stmt) != 0 ||
	    mysql_stmt_bind_result(stmt, row.bind) != 0)
		return stmt_failure(conn, stmt, STMT_LIST);
	while ((rc = mysql_stmt_fetch(stmt)) == 0) {
		task_row_finish(&row);
		if (on_row(ctx, &row.task) != 0)
			break;
	}
	if (rc == 1) {
		status = stmt_failure(conn, stmt, STMT_LIST);
	} else if (rc == MYSQL_DATA_TRUNCATED) {
		log_error("db: a task row did not fit its buffers");
		status = STORE_ERROR;
	}
	/* Discards rows left unread when on_row stopped early. */
	mysql_stmt_free_result(stmt);
	return status;
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
		if (conn->last_error == ER_NO_SUCH_TABLE)
			return STORE_OK;
		return stmt_failure(conn, NULL, STMT_SCHEMA_VERSION);
	}
	memset(&result, 0, sizeof result);
	result.buffer_type = MYSQL_TYPE_LONGLONG;
	result.buffer = &value;
	if (mysql_stmt_execute(stmt) != 0 || mysql_stmt_bind_result(stmt, &result) != 0)
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
