#ifndef TASKAPI_RESPONSE_H
#define TASKAPI_RESPONSE_H

#include <jansson.h>
#include <stdbool.h>

#include "buf.h"

/*
 * A response under construction: a status, extra header lines and a JSON
 * body, serialised by response_serialize() into one buffer so the FastCGI
 * layer writes it with a single call. Buffers are reused across requests.
 *
 * Every response is application/json; charset=utf-8 (or the static
 * content_type of response_text) with Cache-Control: no-store and
 * X-Content-Type-Options: nosniff; 204 and 304 carry no body.
 */
struct response {
	int status;
	struct buf headers; /* "Name: value\r\n" lines beyond the standard ones */
	struct buf body;
	bool has_body;
	const char *content_type; /* static text; NULL = application/json; charset=utf-8 */
};

void response_init(struct response *resp);
void response_release(struct response *resp);
/* Back to "500, no body", keeping storage: handlers raise it to success last. */
void response_reset(struct response *resp);

/* Adds a header line. name and value must not contain CR or LF. */
void response_header(struct response *resp, const char *name, const char *value);
/*
 * Adds a header line whose value is formatted (printf) straight into the
 * reused header buffer: no allocation of its own. Same rule on CR and LF.
 */
void response_headerf(struct response *resp, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Sets status and serialises json as the body. Steals the reference to json
 * (jansson's json_object_set_new convention): the caller must not use or
 * json_decref it afterwards. json may be NULL (a jansson constructor that ran
 * out of memory): the response becomes a 500.
 */
void response_json(struct response *resp, int status, json_t *json);
/*
 * Sets status and returns the emptied body buffer for the caller to write
 * JSON text into directly (jsonw.h). Borrowed: valid until the next reset.
 */
struct buf *response_body(struct response *resp, int status);

/* Sets status and a body that already is JSON text (copied). */
void response_raw_json(struct response *resp, int status, const char *json, size_t len);
/*
 * Sets status and a body of another media type (copied); content_type must
 * be a static string ("text/html; charset=utf-8").
 */
void response_text(struct response *resp, int status, const char *content_type,
		   const char *text, size_t len);
/* {"detail": "<detail>"} with the given status. */
void response_error(struct response *resp, int status, const char *detail);
/* A status without a body (204, 304). */
void response_empty(struct response *resp, int status);

/* Makes to a copy of from (status, headers, body), reusing to's storage. */
void response_copy(struct response *to, const struct response *from);

/* Appends the compact JSON text of json to out (jansson's dump, no copy). */
void response_dump_json(const json_t *json, struct buf *out);

/*
 * Writes the CGI-style response (Status line, headers, blank line, body)
 * to out. With head_only the body is left out but Content-Length kept.
 */
void response_serialize(const struct response *resp, bool head_only, struct buf *out);

/* "OK", "Not Found", ... for a status code. */
const char *response_reason(int status);

#endif
