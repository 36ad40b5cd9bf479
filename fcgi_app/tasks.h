#ifndef TASKAPI_TASKS_H
#define TASKAPI_TASKS_H

#include <jansson.h>

#include "app.h"
#include "task_store.h"

/*
 * The /tasks resource: parameter validation and HTTP semantics. Storage goes
 * through task_store; no SQL here.
 */

/* GET /tasks/?skip=&limit= : a JSON array of tasks ordered by id. */
void tasks_list(struct handler_ctx *ctx);

/* The JSON object for a task; new reference (NULL only on out-of-memory). */
json_t *task_to_json(const struct task *task);

#endif
