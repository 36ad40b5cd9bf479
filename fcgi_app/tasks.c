#include "tasks.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "buf.h"
#include "etag.h"
#include "idem.h"
#include "jsonw.h"
#include "utf8.h"

/* ---- representation ------------------------------------------------------ */

void task_write_json(struct buf *b, const struct task *t)
{
	/* The store hands back what MariaDB holds as utf8mb4: valid UTF-8, written as is. */
	jsonw_lit(b, "{\"id\":");
	jsonw_uint(b, t->id);
	jsonw_lit(b, ",\"title\":");
	jsonw_string(b, t->title, t->title_len);
	jsonw_lit(b, ",\"description\":");
	if (t->description_null)
		jsonw_lit(b, "null");
	else
		jsonw_string(b, t->description, t->description_len);
	if (t->is_completed)
		jsonw_lit(b, ",\"is_completed\":true,\"created_at\":\"");
	else
		jsonw_lit(b, ",\"is_completed\":false,\"created_at\":\"");
	buf_append(b, t->created_at, strlen(t->created_at));
	jsonw_lit(b, "\",\"updated_at\":\"");
	buf_append(b, t->updated_at, strlen(t->updated_at));
	jsonw_lit(b, "\"}");
}

static void respond_task(struct handler_ctx *ctx, int status, const struct task *task)
{
	char etag[ETAG_TEXT_SIZE];

	task_write_json(response_body(ctx->resp, status), task);
	etag_format(task->version, etag, sizeof etag);
	response_header(ctx->resp, "ETag", etag);
}

static void respond_validation(struct handler_ctx *ctx, struct validation *v)
{
	response_json(ctx->resp, 422, validation_to_json(v));
	validation_release(v);
}

/* The caller's owner, for the store: every statement is scoped to it. */
static struct task_owner owner_of(const struct handler_ctx *ctx)
{
	struct task_owner owner = { ctx->who->owner, ctx->who->owner_len };

	return owner;
}

static void respond_not_found(struct handler_ctx *ctx)
{
	response_error(ctx->resp, 404, "Task not found");
}

/* ---- input --------------------------------------------------------------- */

static const char *query_value(const struct request *req, const char *name)
{
	const struct query_param *p = request_query_get(req, name);

	return p ? p->value : NULL;
}

/* The {id} path segment as a task id; records a problem and returns -1 if it is not one. */
static int path_task_id(struct handler_ctx *ctx, struct validation *v, uint64_t *id)
{
	char text[32];
	size_t len = ctx->path_arg_len < sizeof text - 1 ? ctx->path_arg_len : sizeof text - 1;

	memcpy(text, ctx->path_arg, len);
	text[len] = '\0';
	if (ctx->path_arg_len > len) {
		validation_add(v, "path", "task_id", "int_parsing", NULL,
			       "Input should be a valid integer, unable to parse string as an integer");
		return -1;
	}
	return validate_uint(v, "path", "task_id", text, 1, TASK_ID_MAX, id);
}

/* How much of a refused Content-Type the 415 quotes (bytes, with the NUL). */
#define CONTENT_TYPE_SHOWN 81

/* Refuses bodies that are not JSON by their Content-Type (415). */
static int check_media_type(struct handler_ctx *ctx, bool allow_merge_patch)
{
	enum body_media media = validate_media_type(ctx->req->content_type);
	char shown[CONTENT_TYPE_SHOWN];
	char detail[256];

	if (media == BODY_MEDIA_JSON || (media == BODY_MEDIA_MERGE_PATCH && allow_merge_patch))
		return 0;
	/* Echoed input: cut on a character boundary and repaired, so the detail is a JSON string. */
	utf8_copy_clean(shown, sizeof shown, ctx->req->content_type, strlen(ctx->req->content_type));
	snprintf(detail, sizeof detail,
		 "Unsupported Content-Type '%s': send the body as JSON with 'Content-Type: application/json'%s",
		 shown, allow_merge_patch ? " or application/merge-patch+json" : "");
	response_error(ctx->resp, 415, detail);
	return -1;
}

static int parse_title(struct validation *v, const json_t *value, struct task_fields *out)
{
	if (validate_string_field(v, "title", value, false, false, TASK_TITLE_MAX_CHARS) < 0)
		return -1;
	out->set_title = true;
	out->title = json_string_value(value);
	out->title_len = json_string_length(value);
	return 0;
}

static int parse_description(struct validation *v, const json_t *value, struct task_fields *out)
{
	if (validate_string_field(v, "description", value, true, true, TASK_DESCRIPTION_MAX_CHARS) < 0)
		return -1;
	out->set_description = true;
	out->description = json_is_null(value) ? NULL : json_string_value(value);
	out->description_len = json_is_null(value) ? 0 : json_string_length(value);
	return 0;
}

static int parse_completed(struct validation *v, const json_t *value, enum validate_mode mode,
			   struct task_fields *out)
{
	bool completed;

	if (validate_bool_json(v, "is_completed", value, mode, &completed) < 0)
		return -1;
	out->set_completed = true;
	out->is_completed = completed;
	return 0;
}

enum validate_mode tasks_input_mode(const struct config *cfg)
{
	return cfg->api.strict ? VALIDATE_STRICT : VALIDATE_LAX;
}

int tasks_parse_fields(struct validation *v, json_t *body, bool for_create,
		       enum validate_mode mode, struct task_fields *out)
{
	const char *key;
	json_t *value;
	size_t before = v->n;

	memset(out, 0, sizeof *out);
	json_object_foreach(body, key, value) {
		if (strcmp(key, "title") == 0)
			parse_title(v, value, out);
		else if (strcmp(key, "description") == 0)
			parse_description(v, value, out);
		else if (strcmp(key, "is_completed") == 0)
			parse_completed(v, value, mode, out);
		else if (!for_create || mode == VALIDATE_STRICT)
			validation_add(v, "body", key, "extra_forbidden", validate_input_copy(value),
				       "Extra inputs are not permitted");
	}
	if (for_create && json_object_get(body, "title") == NULL)
		validation_add(v, "body", "title", "missing", NULL, "Field required");
	return v->n == before ? 0 : -1;
}

/* ---- GET /tasks/ --------------------------------------------------------- */

struct list_page {
	struct buf *out; /* the response body, written row by row */
	uint64_t last_id;
	size_t count;
};

static int append_task(void *ctx, const struct task *task)
{
	struct list_page *page = ctx;

	if (page->count > 0)
		buf_putc(page->out, ',');
	task_write_json(page->out, task);
	page->last_id = task->id;
	page->count++;
	return 0;
}

static void add_next_link(struct handler_ctx *ctx, const struct task_list_query *q, uint64_t last_id)
{
	/* Keyset form whatever the client used: it stays correct while rows are added or removed. */
	response_headerf(ctx->resp, "Link", "<%s/tasks/?after_id=%" PRIu64 "&limit=%u%s>; rel=\"next\"",
			 ctx->req->root_path.len ? ctx->req->root_path.data : "", last_id, q->limit,
			 q->completed < 0 ? "" : q->completed ? "&completed=true" : "&completed=false");
}

void tasks_list(struct handler_ctx *ctx)
{
	const struct task_owner owner = owner_of(ctx);
	const struct config *cfg = ctx->app->cfg;
	struct validation v;
	struct task_list_query q = { 0, 0, 0, -1 };
	uint64_t limit = (uint64_t)cfg->api.default_limit;
	bool completed = false;
	const char *completed_text = query_value(ctx->req, "completed");
	struct list_page page = { NULL, 0, 0 };

	struct db_conn *conn;
	enum store_status status;

	validation_init(&v);
	/* A deep OFFSET scans every row it skips: past the maximum, after_id pages instead. */
	validate_uint(&v, "query", "skip", query_value(ctx->req, "skip"), 0, TASKS_MAX_SKIP, &q.skip);
	/* Above the maximum a limit is clamped, not refused: clients asking for "everything" still work. */
	validate_uint(&v, "query", "limit", query_value(ctx->req, "limit"), 1, UINT64_MAX, &limit);
	validate_uint(&v, "query", "after_id", query_value(ctx->req, "after_id"), 0, TASK_ID_MAX, &q.after_id);
	if (validate_bool_text(&v, "query", "completed", completed_text, tasks_input_mode(cfg), &completed) == 0 &&
	    completed_text)
		q.completed = completed;
	if (v.n > 0) {
		respond_validation(ctx, &v);
		return;
	}
	q.limit = (unsigned)(limit > (uint64_t)cfg->api.max_limit ? (uint64_t)cfg->api.max_limit : limit);

	conn = app_acquire_db(ctx);
	if (conn == NULL)
		return;
	page.out = response_body(ctx->resp, 200);
	buf_putc(page.out, '[');
	status = task_store_list(conn, &owner, &q, append_task, &page);
	app_release_db(ctx, &conn);
	if (status != STORE_OK) {
		app_store_failure(ctx, status); /* replaces the half-written body */
		return;
	}
	buf_putc(page.out, ']');
	if (page.count == q.limit)
		add_next_link(ctx, &q, page.last_id);
}

/* ---- POST /tasks/ -------------------------------------------------------- */

void tasks_create(struct handler_ctx *ctx)
{
	const struct task_owner owner = owner_of(ctx);
	struct validation v;
	struct task_fields fields;
	struct task task;
	struct db_conn *conn;
	struct idem_write idem;
	enum store_status status;
	json_t *body;

	if (check_media_type(ctx, false) < 0)
		return;
	validation_init(&v);
	/* fields borrow their strings from body: it lives until the one exit below. */
	body = validate_json_object(&v, ctx->req->body.data, ctx->req->body.len);
	if (body != NULL)
		tasks_parse_fields(&v, body, true, tasks_input_mode(ctx->app->cfg), &fields);
	idem_check_key(ctx->req, &v);
	if (v.n > 0) {
		respond_validation(ctx, &v);
		goto out;
	}
	if (!fields.set_completed)
		fields.is_completed = false;
	conn = app_acquire_db(ctx);
	if (conn == NULL)
		goto out; /* app_acquire_db answered 503 */
	/* With an Idempotency-Key the response is filled before the write commits (idem.h). */
	if (idem_begin(&idem, ctx, conn, &(struct idem_request){ "POST", "/tasks/", body, NULL, NULL })) {
		status = task_store_create(conn, &owner, &fields, ctx->app->cfg->auth.max_tasks_per_owner, &task);
		if (status == STORE_OK) {
			respond_task(ctx, 201, &task);
			/* Under the prefix the client used (request.h, root_path). */
			response_headerf(ctx->resp, "Location", "%s/tasks/%" PRIu64,
					 ctx->req->root_path.len ? ctx->req->root_path.data : "", task.id);
		} else {
			app_store_failure(ctx, status);
		}
		idem_end(&idem, ctx);
	}
	app_release_db(ctx, &conn);
out:
	json_decref(body);
}

/* ---- GET /tasks/{id} ----------------------------------------------------- */

/*
 * The first steps of GET and DELETE /tasks/{id}: the id from the path (and
 * the Idempotency-Key of a DELETE), then a connection. Returns the
 * connection (release with app_release_db), or NULL with the response filled
 * (422 for the id or the key, 503 without a connection).
 */
static struct db_conn *task_id_and_conn(struct handler_ctx *ctx, uint64_t *id)
{
	struct validation v;

	validation_init(&v);
	path_task_id(ctx, &v, id);
	if (ctx->req->method == HTTP_DELETE)
		idem_check_key(ctx->req, &v);
	if (v.n > 0) {
		respond_validation(ctx, &v);
		return NULL;
	}
	return app_acquire_db(ctx);
}

void tasks_get(struct handler_ctx *ctx)
{
	const struct task_owner owner = owner_of(ctx);
	struct task task;
	uint64_t id = 0;
	struct db_conn *conn = task_id_and_conn(ctx, &id);
	enum store_status status;

	if (conn == NULL)
		return;
	status = task_store_get(conn, &owner, id, &task);
	app_release_db(ctx, &conn);
	if (status == STORE_NOT_FOUND) {
		respond_not_found(ctx);
		return;
	}
	if (status != STORE_OK) {
		app_store_failure(ctx, status);
		return;
	}
	if (ctx->req->if_none_match != NULL) {
		struct etag_list tags;

		etag_parse_list(ctx->req->if_none_match, &tags);
		if (etag_list_matches(&tags, task.version, ETAG_WEAK)) {
			char etag[ETAG_TEXT_SIZE];

			response_empty(ctx->resp, 304);
			etag_format(task.version, etag, sizeof etag);
			response_header(ctx->resp, "ETag", etag);
			return;
		}
	}
	respond_task(ctx, 200, &task);
}

/* ---- preconditions of a write ------------------------------------------- */

static void respond_precondition_failed(struct handler_ctx *ctx)
{
	response_error(ctx->resp, 412, "Precondition Failed: the task has changed (ETag does not match)");
}

/*
 * Evaluates If-Match (strong comparison) and then If-None-Match (weak), in
 * RFC 9110 §13.2.2's order, for a write to task id. Returns 1 with *guard
 * set to the version the write must still find (the store checks it in the
 * same statement, so a change in between fails the write with 412), 0 when
 * the request has no precondition, -1 when the response (412, 404, 503) is
 * already written.
 */
static int write_guard(struct handler_ctx *ctx, struct db_conn *conn, uint64_t id, unsigned *guard)
{
	const struct task_owner owner = owner_of(ctx);
	const char *if_match = ctx->req->if_match;
	const char *if_none_match = ctx->req->if_none_match;
	struct etag_list match, none_match;
	struct task current;
	enum store_status status;

	if (if_match == NULL && if_none_match == NULL)
		return 0;
	etag_parse_list(if_match, &match);
	etag_parse_list(if_none_match, &none_match);
	/* The common case, one strong tag of ours: the guarded write itself compares, no read. */
	if (if_none_match == NULL && match.valid && !match.any && match.n == 1 &&
	    etag_version(&match.tags[0], guard) == 0)
		return 1;
	/* "*", a list, If-None-Match: compare with the current version, then guard the write with it. */
	status = task_store_get(conn, &owner, id, &current);
	if (status == STORE_NOT_FOUND) {
		respond_not_found(ctx); /* RFC 9110 §13.2.1: a 404 ignores the preconditions */
		return -1;
	}
	if (status != STORE_OK) {
		app_store_failure(ctx, status);
		return -1;
	}
	if ((if_match != NULL && !etag_list_matches(&match, current.version, ETAG_STRONG)) ||
	    (if_none_match != NULL && etag_list_matches(&none_match, current.version, ETAG_WEAK))) {
		respond_precondition_failed(ctx);
		return -1;
	}
	*guard = current.version;
	return 1;
}

static void respond_write_failure(struct handler_ctx *ctx, enum store_status status)
{
	if (status == STORE_NOT_FOUND)
		respond_not_found(ctx);
	else if (status == STORE_CONFLICT)
		respond_precondition_failed(ctx);
	else
		app_store_failure(ctx, status);
}

/* Room for "/tasks/<id>?completed=<value>" with the longest value a query carries. */
#define TARGET_SIZE 384

/*
 * What a write to task id addresses, for an Idempotency-Key's fingerprint:
 * the route with the id as parsed, and for a PATCH the ?completed= it was
 * given (the only query parameter that changes what a write does).
 */
static void target_of(struct handler_ctx *ctx, uint64_t id, bool with_query, char *out, size_t size)
{
	const char *completed = with_query ? query_value(ctx->req, "completed") : NULL;

	snprintf(out, size, "/tasks/%" PRIu64 "%s%s", id, completed ? "?completed=" : "",
		 completed ? completed : "");
}

/* ---- PATCH /tasks/{id} --------------------------------------------------- */

/* Reads the seed's ?completed= and the merge-patch body into fields, problems into v. */
static void parse_patch(struct handler_ctx *ctx, struct validation *v, json_t **body,
			struct task_fields *fields)
{
	const char *completed_text = query_value(ctx->req, "completed");
	const enum validate_mode mode = tasks_input_mode(ctx->app->cfg);
	bool completed = false;
	bool has_body = false;

	memset(fields, 0, sizeof *fields);
	for (size_t i = 0; i < ctx->req->body.len; i++)
		if (!isspace((unsigned char)ctx->req->body.data[i]))
			has_body = true;
	if (has_body) {
		*body = validate_json_object(v, ctx->req->body.data, ctx->req->body.len);
		if (*body != NULL)
			tasks_parse_fields(v, *body, false, mode, fields);
	}
	if (validate_bool_text(v, "query", "completed", completed_text, mode, &completed) < 0)
		return;
	if (completed_text != NULL) {
		if (fields->set_completed && fields->is_completed != completed) {
			validation_add(v, "query", "completed", "value_error", json_string(completed_text),
				       "Value error, 'completed' disagrees with 'is_completed' in the body");
			return;
		}
		fields->set_completed = true;
		fields->is_completed = completed;
	}
	if (!has_body && completed_text == NULL)
		validation_add(v, "query", "completed", "missing", NULL,
			       "Field required: give ?completed=true|false or a JSON body with the fields to change");
}

void tasks_patch(struct handler_ctx *ctx)
{
	const struct task_owner owner = owner_of(ctx);
	struct validation v;
	struct task_fields fields;
	struct task task;
	uint64_t id = 0;
	unsigned guard = 0;
	json_t *body = NULL;
	struct db_conn *conn;
	struct idem_write idem;
	enum store_status status;
	int guarded;
	char target[TARGET_SIZE];

	if (ctx->req->body.len > 0 && check_media_type(ctx, true) < 0)
		return;
	/* Path, query and body problems are reported together, as FastAPI does. */
	validation_init(&v);
	path_task_id(ctx, &v, &id);
	parse_patch(ctx, &v, &body, &fields);
	idem_check_key(ctx->req, &v);
	if (v.n > 0) {
		json_decref(body);
		respond_validation(ctx, &v);
		return;
	}
	conn = app_acquire_db(ctx);
	if (conn == NULL)
		goto out;
	target_of(ctx, id, true, target, sizeof target);
	if (idem_begin(&idem, ctx, conn, &(struct idem_request){ "PATCH", target, body, ctx->req->if_match,
								 ctx->req->if_none_match })) {
		guarded = write_guard(ctx, conn, id, &guard);
		if (guarded >= 0) {
			status = task_store_update(conn, &owner, id, &fields, guarded ? &guard : NULL, &task);
			if (status == STORE_OK)
				respond_task(ctx, 200, &task);
			else
				respond_write_failure(ctx, status);
		}
		idem_end(&idem, ctx);
	}
	app_release_db(ctx, &conn);
out:
	json_decref(body);
}

/* ---- DELETE /tasks/{id} -------------------------------------------------- */

void tasks_delete(struct handler_ctx *ctx)
{
	const struct task_owner owner = owner_of(ctx);
	uint64_t id = 0;
	unsigned guard = 0;
	struct db_conn *conn = task_id_and_conn(ctx, &id);
	struct idem_write idem;
	enum store_status status;
	int guarded;
	char target[TARGET_SIZE];

	if (conn == NULL)
		return;
	target_of(ctx, id, false, target, sizeof target);
	if (idem_begin(&idem, ctx, conn, &(struct idem_request){ "DELETE", target, NULL, ctx->req->if_match,
								 ctx->req->if_none_match })) {
		guarded = write_guard(ctx, conn, id, &guard);
		if (guarded >= 0) {
			status = task_store_delete(conn, &owner, id, guarded ? &guard : NULL);
			if (status == STORE_OK)
				response_empty(ctx->resp, 204);
			else
				respond_write_failure(ctx, status);
		}
		idem_end(&idem, ctx);
	}
	app_release_db(ctx, &conn);
}
