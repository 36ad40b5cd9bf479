#include "idem.h"

#include <string.h>
#include <strings.h>

#include "auth.h"
#include "idem_purge.h"
#include "log.h"
#include "metrics.h"

int idem_check_key(const struct request *req, struct validation *v)
{
	const char *why;

	if (req->idempotency_key == NULL || idem_key_check(req->idempotency_key, &why) == 0)
		return 0;
	/* No "input": the value is not text we can echo as JSON (control or non-ASCII bytes). */
	validation_add(v, "header", "Idempotency-Key", "idempotency_key", NULL, "%s", why);
	return -1;
}

/* ---- answers ------------------------------------------------------------- */

/*
 * The value of header name in the response's extra header lines
 * ("Name: value\r\n"), copied into out; "" when absent or too long.
 */
static void header_value(const struct response *resp, const char *name, char *out, size_t size)
{
	const char *p = resp->headers.data, *end = p + resp->headers.len;
	size_t n = strlen(name);

	out[0] = '\0';
	while (p != NULL && p < end) {
		const char *eol = memchr(p, '\r', (size_t)(end - p));

		if (eol == NULL)
			eol = end;
		if ((size_t)(eol - p) > n + 2 && strncasecmp(p, name, n) == 0 && p[n] == ':' && p[n + 1] == ' ') {
			size_t len = (size_t)(eol - p) - n - 2;

			if (len < size) {
				memcpy(out, p + n + 2, len);
				out[len] = '\0';
			}
			return;
		}
		p = eol + 2;
	}
}

/* Replaces the response with the answer stored under the key. */
static void replay(struct handler_ctx *ctx, const struct idem_answer *a)
{
	buf_reset(&ctx->resp->headers);
	if (a->has_body)
		response_raw_json(ctx->resp, a->status, a->body.data, a->body.len);
	else
		response_empty(ctx->resp, a->status);
	if (a->location[0] != '\0')
		response_header(ctx->resp, "Location", a->location);
	if (a->etag[0] != '\0')
		response_header(ctx->resp, "ETag", a->etag);
	response_header(ctx->resp, "Idempotent-Replayed", "true");
}

static void respond_mismatch(struct handler_ctx *ctx)
{
	struct validation v;

	validation_init(&v);
	validation_add(&v, "header", "Idempotency-Key", "idempotency_key_reused", NULL,
		       "This Idempotency-Key was already used with a different request (method, task, body "
		       "or preconditions); use a new key for a new request");
	response_json(ctx->resp, 422, validation_to_json(&v));
	validation_release(&v);
}

static void respond_busy(struct handler_ctx *ctx)
{
	response_error(ctx->resp, 409, "A request with this Idempotency-Key is still in progress; "
		       "retry shortly to get its answer");
	response_header(ctx->resp, "Retry-After", "1");
}

/* A database failure in place of whatever the handler had answered. */
static void respond_failure(struct handler_ctx *ctx, enum store_status status)
{
	buf_reset(&ctx->resp->headers);
	app_store_failure(ctx, status);
}

/* ---- the flow ------------------------------------------------------------ */

bool idem_begin(struct idem_write *w, struct handler_ctx *ctx, struct db_conn *conn,
		const struct idem_request *r)
{
	const char *key = ctx->req->idempotency_key;
	unsigned char fp[IDEM_FINGERPRINT_SIZE];
	struct idem_answer found;
	enum store_status status = STORE_OK;
	bool run = false;

	memset(w, 0, sizeof *w);
	if (key == NULL)
		return true;
	w->owner.name = ctx->who->owner;
	w->owner.len = ctx->who->owner_len;
	w->slot.owner = &w->owner;
	w->slot.key = key;
	w->slot.key_len = strlen(key);
	if (idem_fingerprint(r, fp) < 0) {
		log_error("idempotency: cannot fingerprint the request");
		response_error(ctx->resp, 500, "Internal Server Error");
		return false;
	}
	memset(&found, 0, sizeof found);
	buf_init(&found.body);
	switch (idem_store_claim(conn, &w->slot, fp, (unsigned)ctx->app->cfg->idempotency.retention_s,
				 &found, &status)) {
	case IDEM_CLAIMED:
		w->conn = conn;
		run = true;
		goto out; /* the transaction stays open for the write */
	case IDEM_FOUND:
		if (memcmp(found.fingerprint, fp, sizeof fp) != 0) {
			metrics_idempotency(METRICS_IDEM_MISMATCH);
			respond_mismatch(ctx);
		} else {
			metrics_idempotency(METRICS_IDEM_REPLAYED);
			replay(ctx, &found);
		}
		break;
	case IDEM_BUSY:
		metrics_idempotency(METRICS_IDEM_BUSY);
		respond_busy(ctx);
		break;
	case IDEM_FAILED:
		app_store_failure(ctx, status);
		break;
	}
	/* Only read: nothing to keep, and the shared lock on the row goes at once. */
	idem_store_rollback(conn);
out:
	buf_release(&found.body);
	return run;
}

void idem_end(struct idem_write *w, struct handler_ctx *ctx)
{
	struct response *resp = ctx->resp;
	char location[IDEM_LOCATION_SIZE], etag[IDEM_ETAG_SIZE];
	enum store_status status;

	if (w->conn == NULL)
		return;
	/* A 5xx is the database's or ours, not the request's: not the answer to keep. */
	if (resp->status >= 500) {
		idem_store_rollback(w->conn);
		w->conn = NULL;
		return;
	}
	header_value(resp, "Location", location, sizeof location);
	header_value(resp, "ETag", etag, sizeof etag);
	status = idem_store_save(w->conn, &w->slot, resp->status, location, etag,
				 resp->has_body ? resp->body.data : NULL, resp->has_body ? resp->body.len : 0);
	if (status == STORE_OK)
		status = idem_store_commit(w->conn);
	else
		idem_store_rollback(w->conn);
	if (status == STORE_OK) {
		metrics_idempotency(METRICS_IDEM_STORED);
		idem_purge_note_stored((unsigned)ctx->app->cfg->idempotency.retention_s);
	} else {
		respond_failure(ctx, status);
	}
	w->conn = NULL;
}
