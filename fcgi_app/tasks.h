#ifndef TASKAPI_TASKS_H
#define TASKAPI_TASKS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "app.h"
#include "task_store.h"
#include "validate.h"

/*
 * The /tasks resource: input validation and HTTP semantics (status codes,
 * ETag/If-Match/If-None-Match, Location, Link). Storage goes through
 * task_store; no SQL here.
 */

void tasks_list(struct handler_ctx *ctx);   /* GET /tasks/ */
void tasks_create(struct handler_ctx *ctx); /* POST /tasks/ */
void tasks_get(struct handler_ctx *ctx);    /* GET /tasks/{id} */
void tasks_patch(struct handler_ctx *ctx);  /* PATCH /tasks/{id} */
void tasks_delete(struct handler_ctx *ctx); /* DELETE /tasks/{id} */

/* Appends the task's JSON object (the API's representation) to b. */
void task_write_json(struct buf *b, const struct task *task);

/*
 * Validates a create (for_create) or merge-patch body object into fields.
 * Strings in *out are borrowed from body. Problems go to v; returns 0 when
 * the body is valid. is_completed is read by mode (validate.h). An unknown
 * key of a create body is ignored in VALIDATE_LAX, as the seed's model does
 * (extra="ignore": id, created_at, updated_at and version included), and
 * extra_forbidden in VALIDATE_STRICT; in a merge-patch body it is
 * extra_forbidden in both, since an ignored typo would silently change nothing.
 */
int tasks_parse_fields(struct validation *v, json_t *body, bool for_create,
		       enum validate_mode mode, struct task_fields *out);

/* The input rules of the configuration (config.h api.strict). */
enum validate_mode tasks_input_mode(const struct config *cfg);

/*
 * Entity tags: a task's ETag is its version, strong ("\"3\""); If-Match and
 * If-None-Match are parsed and compared by etag.h (RFC 9110 §13.1).
 */
/* Longest query ?skip= taken; deeper pages are read with ?after_id= (keyset). */
#define TASKS_MAX_SKIP 100000

#endif
