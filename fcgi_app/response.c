#include "response.h"

#include <stdarg.h>
#include <string.h>

#include "jsonw.h"

/* A response nobody finished is a server error: handlers raise it to success last. */
#define RESPONSE_UNFINISHED 500
/* Room for the Status, Content-Type, Content-Length, Cache-Control and nosniff lines. */
#define RESPONSE_HEAD_RESERVE 200

void response_init(struct response *resp)
{
	buf_init(&resp->headers);
	buf_init(&resp->body);
	resp->status = RESPONSE_UNFINISHED;
	resp->has_body = false;
	resp->content_type = NULL;
}

void response_release(struct response *resp)
{
	buf_release(&resp->headers);
	buf_release(&resp->body);
	response_init(resp);
}

void response_reset(struct response *resp)
{
	buf_reset(&resp->headers);
	buf_reset(&resp->body);
	resp->status = RESPONSE_UNFINISHED;
	resp->has_body = false;
}

void response_header(struct response *resp, const char *name, const char *value)
{
	buf_puts(&resp->headers, name);
	buf_append(&resp->headers, ": ", 2);
	buf_puts(&resp->headers, value);
	buf_append(&resp->headers, "\r\n", 2);
}

void response_headerf(struct response *resp, const char *name, const char *fmt, ...)
{
	va_list ap;

	buf_puts(&resp->headers, name);
	buf_append(&resp->headers, ": ", 2);
	va_start(ap, fmt);
	buf_vprintf(&resp->headers, fmt, ap);
	va_end(ap);
	buf_append(&resp->headers, "\r\n", 2);
}

static int dump_to_buf(const char *data, size_t size, void *ctx)
{
	buf_append(ctx, data, size);
	return 0;
}

void response_dump_json(const json_t *json, struct buf *out)
{
	/* Compact separators and raw UTF-8, as FastAPI's JSONResponse writes. */
	json_dump_callback(json, dump_to_buf, out, JSON_COMPACT | JSON_ENCODE_ANY);
}

void response_json(struct response *resp, int status, json_t *json)
{
	buf_reset(&resp->body);
	resp->status = status;
	resp->has_body = true;
	resp->content_type = NULL;
	if (json == NULL) { /* jansson returns NULL only when it ran out of memory */
		resp->status = 500;
		buf_puts(&resp->body, "{\"detail\":\"Internal Server Error\"}");
		return;
	}
	response_dump_json(json, &resp->body);
	json_decref(json);
}

struct buf *response_body(struct response *resp, int status)
{
	buf_reset(&resp->body);
	resp->status = status;
	resp->has_body = true;
	resp->content_type = NULL;
	return &resp->body;
}

void response_raw_json(struct response *resp, int status, const char *json, size_t len)
{
	buf_reset(&resp->body);
	buf_append(&resp->body, json, len);
	resp->status = status;
	resp->has_body = true;
	resp->content_type = NULL;
}

void response_text(struct response *resp, int status, const char *content_type,
		   const char *text, size_t len)
{
	response_raw_json(resp, status, text, len);
	resp->content_type = content_type;
}

void response_error(struct response *resp, int status, const char *detail)
{
	response_json(resp, status, json_pack("{s:s}", "detail", detail));
}

void response_empty(struct response *resp, int status)
{
	buf_reset(&resp->body);
	resp->status = status;
	resp->has_body = false;
}

void response_copy(struct response *to, const struct response *from)
{
	buf_reset(&to->headers);
	buf_append(&to->headers, from->headers.data, from->headers.len);
	buf_reset(&to->body);
	buf_append(&to->body, from->body.data, from->body.len);
	to->status = from->status;
	to->has_body = from->has_body;
	to->content_type = from->content_type;
}

const char *response_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 428: return "Precondition Required";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Unknown";
	}
}

void response_serialize(const struct response *resp, bool head_only, struct buf *out)
{
	buf_reset(out);
	buf_reserve(out, RESPONSE_HEAD_RESERVE + resp->headers.len + resp->body.len);
	/* By hand rather than printf: this runs for every response. */
	jsonw_lit(out, "Status: ");
	jsonw_uint(out, (uint64_t)resp->status);
	buf_putc(out, ' ');
	buf_puts(out, response_reason(resp->status));
	jsonw_lit(out, "\r\n");
	if (resp->has_body) {
		if (resp->content_type) {
			jsonw_lit(out, "Content-Type: ");
			buf_puts(out, resp->content_type);
			jsonw_lit(out, "\r\nContent-Length: ");
		} else {
			jsonw_lit(out, "Content-Type: application/json; charset=utf-8\r\nContent-Length: ");
		}
		jsonw_uint(out, resp->body.len);
		jsonw_lit(out, "\r\n");
	}
	/* nosniff: a browser must never read a JSON answer (client text inside) as HTML or script. */
	jsonw_lit(out, "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n");
	buf_append(out, resp->headers.data ? resp->headers.data : "", resp->headers.len);
	buf_append(out, "\r\n", 2);
	if (resp->has_body && !head_only)
		buf_append(out, resp->body.data, resp->body.len);
}
