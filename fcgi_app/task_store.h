#ifndef TASKAPI_TASK_STORE_H
#define TASKAPI_TASK_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db_pool.h"

/*
 * Every SQL statement taskapi runs against the tasks table, each prepared
 * once per connection with bound parameters. Knows nothing of HTTP.
 */

/* The schema version this build needs (the highest migration in sql/). */
#define TASK_STORE_SCHEMA_VERSION 1

#define TASK_TITLE_MAX_CHARS 50
#define TASK_DESCRIPTION_MAX_CHARS 255
/* utf8mb4: up to 4 bytes per code point */
#define TASK_TITLE_MAX_BYTES (TASK_TITLE_MAX_CHARS * 4)
#define TASK_DESCRIPTION_MAX_BYTES (TASK_DESCRIPTION_MAX_CHARS * 4)

struct task {
	uint64_t id;
	char title[TASK_TITLE_MAX_BYTES + 1];
	unsigned long title_len;
	char description[TASK_DESCRIPTION_MAX_BYTES + 1];
	unsigned long description_len;
	bool description_null;
	bool is_completed;
	char created_at[32]; /* RFC 3339, UTC: 2026-11-25T12:00:00Z */
	char updated_at[32];
};

enum store_status {
	STORE_OK = 0,
	STORE_NOT_FOUND,
	STORE_CONFLICT,
	STORE_UNAVAILABLE, /* the connection or the server is gone: 503 */
	STORE_ERROR        /* anything else: 500, cause in the error log */
};

const char *store_strerror(enum store_status status);

/* Called once per row; return non-zero to stop early. The task is borrowed. */
typedef int (*task_row_fn)(void *ctx, const struct task *task);

/* Tasks ordered by id, skipping skip rows, at most limit of them. */
enum store_status task_store_list(struct db_conn *conn, uint64_t skip, unsigned limit,
				  task_row_fn on_row, void *ctx);

/* The highest applied migration, 0 when none (or no schema_migrations table). */
enum store_status task_store_schema_version(struct db_conn *conn, unsigned *version);

#endif
