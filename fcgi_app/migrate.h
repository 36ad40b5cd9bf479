#ifndef TASKAPI_MIGRATE_H
#define TASKAPI_MIGRATE_H

#include <stddef.h>
#include <stdio.h>

#include "config.h"

/*
 * Schema migrations: files named NNN_description.sql in a folder, applied in
 * order, each recorded in schema_migrations(version, name, applied_at).
 */
struct migration {
	unsigned version;
	char name[128]; /* file name */
};

/*
 * Lists the migrations in dir, sorted by version. *out is caller-owned
 * (free()). Returns 0, or -1 with err (unreadable folder, duplicate version).
 */
int migrate_scan(const char *dir, struct migration **out, size_t *count, char *err, size_t errlen);

/*
 * Applies pending migrations as database.migrate_user (or database.user),
 * reporting each step on out. Returns 0 when the schema is current.
 */
int migrate_run(const struct config *cfg, FILE *out, char *err, size_t errlen);

#endif
