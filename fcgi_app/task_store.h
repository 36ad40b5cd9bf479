#ifndef TASKAPI_TASK_STORE_H
#define TASKAPI_TASK_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db_conn.h"

/*
 * Every SQL statement taskapi runs against the tasks table, each prepared
 * once per connection with bound parameters. Knows nothing of HTTP.
 * The SQL stays within what MariaDB and Oracle MySQL 5.7/8 both accept.
 */

/* The schema version this build needs (the highest migration in sql/). */
#define TASK_STORE_SCHEMA_VERSION 5

#define TASK_TITLE_MAX_CHARS 50
#define TASK_DESCRIPTION_MAX_CHARS 255
/* utf8mb4: up to 4 bytes per code point */
#define TASK_TITLE_MAX_BYTES (TASK_TITLE_MAX_CHARS * 4)
#define TASK_DESCRIPTION_MAX_BYTES (TASK_DESCRIPTION_MAX_CHARS * 4)
/* The largest id a client may name: ids are served as JSON integers (signed 64-bit). */
#define TASK_ID_MAX INT64_MAX

struct task {
	uint64_t id;
	char title[TASK_TITLE_MAX_BYTES + 1];
	unsigned long title_len;
	char description[TASK_DESCRIPTION_MAX_BYTES + 1];
	unsigned long description_len;
	bool description_null;
	bool is_completed;
	unsigned version;    /* bumped by every update; the ETag */
	char created_at[32]; /* RFC 3339, UTC: 2026-11-25T12:00:00Z */
	char updated_at[32];
};

enum store_status {
	STORE_OK = 0,
	STORE_NOT_FOUND,
	STORE_CONFLICT,    /* the row's version is not the expected one */
	STORE_QUOTA,       /* the owner has as many tasks as it may keep */
	STORE_UNAVAILABLE, /* the connection or the server is gone: 503 */
	STORE_UNKNOWN_OUTCOME, /* lost during a write, which may have been applied: 503 saying so */
	STORE_ERROR        /* anything else: 500, cause in the error log */
};

const char *store_strerror(enum store_status status);

/*
 * Whose tasks a statement sees. Every statement carries owner = ?: MariaDB
 * has no row-level security, so this is the only thing between one
 * owner's tasks and another's. Another owner's task is STORE_NOT_FOUND.
 * name is borrowed and need not be NUL-terminated.
 */
struct task_owner {
	const char *name;
	size_t len;
};

/* Called once per row; return non-zero to stop early. The task is borrowed. */
typedef int (*task_row_fn)(void *ctx, const struct task *task);

struct task_list_query {
	uint64_t skip;
	unsigned limit;
	uint64_t after_id;  /* only ids above this one (keyset paging); 0 = from the start */
	int completed;      /* -1 = any, 0 or 1 = only tasks with that is_completed */
};

/* Tasks ordered by id ascending, after the filters, skip rows skipped, at most limit. */
enum store_status task_store_list(struct db_conn *conn, const struct task_owner *owner,
				  const struct task_list_query *q, task_row_fn on_row, void *ctx);

enum store_status task_store_get(struct db_conn *conn, const struct task_owner *owner, uint64_t id,
				 struct task *out);

/* Fields of a new task; strings are borrowed and need not be NUL-terminated. */
struct task_fields {
	bool set_title;
	const char *title;
	size_t title_len;
	bool set_description;
	const char *description; /* NULL: SQL NULL */
	size_t description_len;
	bool set_completed;
	bool is_completed;
};

/*
 * Inserts a task in one statement and fills *out from the input, the id the
 * insert produced and the timestamp taskapi chose: no second round trip.
 * A title or description longer than struct task holds
 * (TASK_TITLE_MAX_BYTES, TASK_DESCRIPTION_MAX_BYTES) is refused with
 * STORE_ERROR before anything is written. With max_tasks > 0, an owner
 * who already has that many tasks gets STORE_QUOTA and nothing is written.
 */
enum store_status task_store_create(struct db_conn *conn, const struct task_owner *owner,
				    const struct task_fields *in, long max_tasks, struct task *out);

/*
 * Applies the set fields to task id in one statement (guarded by
 * *expected_version when not NULL) and reads the result back into *out.
 * STORE_NOT_FOUND when no such task, STORE_CONFLICT when its version differs.
 */
enum store_status task_store_update(struct db_conn *conn, const struct task_owner *owner, uint64_t id,
				    const struct task_fields *in, const unsigned *expected_version,
				    struct task *out);

/* Deletes task id (guarded like task_store_update). */
enum store_status task_store_delete(struct db_conn *conn, const struct task_owner *owner, uint64_t id,
				    const unsigned *expected_version);

/* The highest applied migration, 0 when none (or no schema_migrations table). */
enum store_status task_store_schema_version(struct db_conn *conn, unsigned *version);

#endif
