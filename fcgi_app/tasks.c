#include "tasks.h"

#include <stdint.h>

#include "validate.h"

json_t *task_to_json(const struct task *t)
{
	json_t *description = t->description_null
		? json_null()
		: json_stringn_nocheck(t->description, t->description_len);

	/* The store hands back what MariaDB holds as utf8mb4: valid UTF-8, no check needed. */
	return json_pack("{s:I, s:o, s:o, s:b, s:s, s:s}",
			 "id", (json_int_t)t->id,
			 "title", json_stringn_nocheck(t->title, t->title_len),
			 "description", description,
			 "is_completed", t->is_completed,
			 "created_at", t->created_at,
			 "updated_at", t->updated_at);
}

static int append_task(void *list, const struct task *task)
{
	return json_array_append_new(list, task_to_json(task));
}

static const char *query_value(const struct request *req, const char *name)
{
	const struct query_param *p = request_query_get(req, name);

	return p ? p->value : NULL;
}

void tasks_list(struct handler_ctx *ctx)
{
	const struct config *cfg = ctx->app->cfg;
	struct validation v;
	uint64_t skip = 0, limit = (uint64_t)cfg->api.default_limit;
	struct db_conn *conn;
	enum store_status status;
	json_t *list;

	validation_init(&v);
	validate_uint(&v, "query", "skip", query_value(ctx->req, "skip"), 0, INT64_MAX, &skip);
	/* Above the maximum a limit is clamped, not refused: clients asking for "everything" still work. */
	validate_uint(&v, "query", "limit", query_value(ctx->req, "limit"), 1, UINT64_MAX, &limit);
	if (v.n > 0) {
		response_json(ctx->resp, 422, validation_to_json(&v));
		return;
	}
	if (limit > (uint64_t)cfg->api.max_limit)
		limit = (uint64_t)cfg->api.max_limit;

	conn = app_acquire_db(ctx);
	if (conn == NULL)
		return;
	list = json_array();
	status = task_store_list(conn, skip, (unsigned)limit, append_task, list);
	db_pool_release(ctx->app->pool, conn);
	if (status != STORE_OK) {
		json_decref(list);
		app_store_failure(ctx, status);
		return;
	}
	response_json(ctx->resp, 200, list);
}
