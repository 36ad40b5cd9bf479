#include "request.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "utf8.h"

/* A body is read in pieces of at most this many bytes (libfcgi buffers its own). */
#define REQUEST_READ_CHUNK 16384

static const struct {
	enum http_method method;
	const char *name;
} methods[] = {
	{ HTTP_GET, "GET" },       { HTTP_HEAD, "HEAD" },     { HTTP_POST, "POST" },
	{ HTTP_PUT, "PUT" },       { HTTP_PATCH, "PATCH" },   { HTTP_DELETE, "DELETE" },
	{ HTTP_OPTIONS, "OPTIONS" },
};

void request_init(struct request *req)
{
	memset(req, 0, sizeof *req);
	buf_init(&req->path);
	buf_init(&req->query_store);
	buf_init(&req->root_path);
	buf_init(&req->body);
	req->content_length = -1;
}

void request_release(struct request *req)
{
	buf_release(&req->path);
	buf_release(&req->query_store);
	buf_release(&req->root_path);
	buf_release(&req->body);
	request_init(req);
}

void request_reset(struct request *req)
{
	buf_reset(&req->path);
	buf_reset(&req->query_store);
	buf_reset(&req->root_path);
	buf_reset(&req->body);
	req->method = HTTP_OTHER;
	req->method_name = NULL;
	req->n_query = 0;
	req->content_type = NULL;
	req->content_length = -1;
	req->request_id = NULL;
	req->if_match = NULL;
	req->if_none_match = NULL;
	req->authorization = NULL;
	req->remote_user = NULL;
	req->origin = NULL;
	req->cors_request_method = NULL;
	req->cors_request_headers = NULL;
	req->script_name = NULL;
	req->path_info = NULL;
	req->idempotency_key = NULL;
}

enum http_method request_method_parse(const char *name)
{
	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
		if (strcmp(name, methods[i].name) == 0)
			return methods[i].method;
	return HTTP_OTHER;
}

const char *request_method_name(enum http_method method)
{
	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
		if (methods[i].method == method)
			return methods[i].name;
	return "OTHER";
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void request_percent_decode(const char *in, size_t len, bool plus_is_space, struct buf *out)
{
	buf_reserve(out, len);
	for (size_t i = 0; i < len; i++) {
		char c = in[i];

		if (c == '%' && i + 2 < len) {
			int hi = hexval(in[i + 1]), lo = hexval(in[i + 2]);

			/* "%00" stays encoded: decoded values are C strings and must not be cut short. */
			if (hi >= 0 && lo >= 0 && (hi | lo) != 0) {
				c = (char)(hi * 16 + lo);
				i += 2;
			}
		} else if (c == '+' && plus_is_space) {
			c = ' ';
		} else if (c == '\0') {
			c = '?'; /* a raw NUL cannot reach here from a C string; be safe anyway */
		}
		out->data[out->len++] = c;
	}
	out->data[out->len] = '\0';
}

int request_parse_query(struct request *req, const char *qs, size_t len)
{
	size_t i = 0;

	req->n_query = 0;
	buf_reset(&req->query_store);
	while (i < len) {
		size_t end = i, eq;
		size_t name_off, value_off, value_len;

		while (end < len && qs[end] != '&')
			end++;
		if (end == i) { /* "a=1&&b=2": empty pieces are ignored, as browsers do */
			i++;
			continue;
		}
		if (req->n_query == REQUEST_MAX_QUERY_PARAMS)
			return -1;
		eq = i;
		while (eq < end && qs[eq] != '=')
			eq++;
		name_off = req->query_store.len;
		request_percent_decode(qs + i, eq - i, true, &req->query_store);
		buf_putc(&req->query_store, '\0');
		value_off = req->query_store.len;
		if (eq < end)
			request_percent_decode(qs + eq + 1, end - eq - 1, true, &req->query_store);
		value_len = req->query_store.len - value_off;
		buf_putc(&req->query_store, '\0');
		/* Offsets, not pointers: the store may move while it grows. */
		req->query_offsets[req->n_query][0] = name_off;
		req->query_offsets[req->n_query][1] = value_off;
		req->query_offsets[req->n_query][2] = value_len;
		req->n_query++;
		i = end + 1;
	}
	for (size_t k = 0; k < req->n_query; k++) {
		req->query[k].name = req->query_store.data + req->query_offsets[k][0];
		req->query[k].value = req->query_store.data + req->query_offsets[k][1];
		req->query[k].value_len = req->query_offsets[k][2];
	}
	return 0;
}

const struct query_param *request_query_get(const struct request *req, const char *name)
{
	/* The last occurrence wins, as in Starlette/FastAPI: ?limit=1&limit=5 means 5. */
	for (size_t i = req->n_query; i-- > 0;)
		if (strcmp(req->query[i].name, name) == 0)
			return &req->query[i];
	return NULL;
}

static int parse_content_length(const char *text, long *out)
{
	char *end;
	long v;

	if (text == NULL || *text == '\0') {
		*out = -1;
		return 0;
	}
	if (*text < '0' || *text > '9')
		return -1;
	errno = 0;
	v = strtol(text, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

bool request_root_path_ok(const char *p, size_t len)
{
	if (len == 0 || p[0] != '/' || p[len - 1] == '/')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c <= ' ' || c == 0x7f || c == '?' || c == '#' || c == '%')
			return false;
	}
	return utf8_is_valid(p, len); /* it is written into JSON (the OpenAPI servers) as it is */
}

/* True when path starts with prefix[0..n) followed by '/' or its end (/api, not /apix). */
static bool path_has_prefix(const struct buf *path, const char *prefix, size_t n)
{
	return n > 0 && path->len >= n && memcmp(path->data, prefix, n) == 0 &&
	       (path->len == n || path->data[n] == '/');
}

/* Moves the path's first n bytes to root_path; an empty rest is "/". */
static void move_prefix(struct request *req, size_t n)
{
	buf_append(&req->root_path, req->path.data, n);
	memmove(req->path.data, req->path.data + n, req->path.len - n + 1);
	req->path.len -= n;
	if (req->path.len == 0)
		buf_putc(&req->path, '/');
}

/* The prefix from SCRIPT_NAME and PATH_INFO, for a path taken from REQUEST_URI (request.h). */
static void derive_root(struct request *req, const char *script, const char *info)
{
	size_t n = info ? strlen(info) : 0;

	/* PATH_INFO ends the path: what comes before it is where the API sits. */
	if (n > 0 && info[0] == '/' && n <= req->path.len &&
	    memcmp(req->path.data + req->path.len - n, info, n) == 0) {
		size_t before = req->path.len - n;

		if (before == 0 || request_root_path_ok(req->path.data, before)) {
			move_prefix(req, before);
			return;
		}
	}
	n = script ? strlen(script) : 0;
	if (path_has_prefix(&req->path, script, n) && request_root_path_ok(script, n))
		move_prefix(req, n);
}

static void apply_root(struct request *req, const struct request_root *root, const char *script,
		       const char *info)
{
	const char *conf = root && root->root_path ? root->root_path : "";
	size_t n = strlen(conf);

	if (n > 0) {
		if (path_has_prefix(&req->path, conf, n))
			move_prefix(req, n);
		else
			buf_append(&req->root_path, conf, n);
	} else if (root && root->script_is_program) {
		derive_root(req, script, info);
	}
}

enum request_status request_parse(struct request *req, const struct request_root *root,
				  request_param_fn get, void *ctx, char *err, size_t errlen)
{
	const char *method = get(ctx, "REQUEST_METHOD");
	const char *uri = get(ctx, "REQUEST_URI");
	const char *script = get(ctx, "SCRIPT_NAME");
	const char *info = get(ctx, "PATH_INFO");
	bool cgi_paths = root && root->script_is_program && !(root->root_path && root->root_path[0]);
	const char *qs;
	size_t path_len;

	request_reset(req);
	req->method_name = method ? method : "";
	req->method = request_method_parse(req->method_name);

	/* REQUEST_URI is what the client sent (nginx, Apache); CGI hosts may give only PATH_INFO. */
	if (uri == NULL || *uri == '\0') {
		if (cgi_paths) {
			/* RFC 3875 3.3: the URL path is SCRIPT_NAME, then PATH_INFO. */
			buf_puts(&req->path, info && *info ? info : "/");
			if (script && request_root_path_ok(script, strlen(script)))
				buf_puts(&req->root_path, script);
		} else {
			buf_puts(&req->path, info && *info ? info : (script ? script : "/"));
		}
		qs = get(ctx, "QUERY_STRING");
	} else {
		const char *q = strchr(uri, '?');

		path_len = q ? (size_t)(q - uri) : strlen(uri);
		request_percent_decode(uri, path_len, false, &req->path);
		qs = get(ctx, "QUERY_STRING");
		if (qs == NULL && q != NULL)
			qs = q + 1;
	}
	if (req->path.len == 0 || req->path.data[0] != '/') {
		snprintf(err, errlen, "the request path must start with '/'");
		return REQUEST_BAD;
	}
	if (uri != NULL && *uri != '\0')
		apply_root(req, root, script, info);
	else if (!cgi_paths)
		apply_root(req, root, NULL, NULL); /* only a configured root_path applies */
	if (qs != NULL && request_parse_query(req, qs, strlen(qs)) < 0) {
		snprintf(err, errlen, "too many query parameters (at most %d)", REQUEST_MAX_QUERY_PARAMS);
		return REQUEST_BAD;
	}
	req->content_type = get(ctx, "CONTENT_TYPE");
	if (req->content_type != NULL && *req->content_type == '\0')
		req->content_type = NULL;
	if (parse_content_length(get(ctx, "CONTENT_LENGTH"), &req->content_length) < 0) {
		snprintf(err, errlen, "invalid Content-Length");
		return REQUEST_BAD;
	}
	req->request_id = get(ctx, "REQUEST_ID");
	req->if_match = get(ctx, "HTTP_IF_MATCH");
	req->if_none_match = get(ctx, "HTTP_IF_NONE_MATCH");
	req->authorization = get(ctx, "HTTP_AUTHORIZATION");
	req->remote_user = get(ctx, "REMOTE_USER");
	req->idempotency_key = get(ctx, "HTTP_IDEMPOTENCY_KEY");
	req->origin = get(ctx, "HTTP_ORIGIN");
	req->cors_request_method = get(ctx, "HTTP_ACCESS_CONTROL_REQUEST_METHOD");
	req->cors_request_headers = get(ctx, "HTTP_ACCESS_CONTROL_REQUEST_HEADERS");
	req->script_name = script;
	req->path_info = info;
	return REQUEST_OK;
}

/* The params request_parse asks for, found in one pass over envp. */
#define PICK(name) { name, sizeof(name) - 1 }
static const struct {
	const char *name;
	size_t len;
} picked[] = {
	PICK("REQUEST_METHOD"), PICK("REQUEST_URI"), PICK("QUERY_STRING"), PICK("CONTENT_TYPE"),
	PICK("CONTENT_LENGTH"), PICK("REQUEST_ID"), PICK("HTTP_IF_MATCH"), PICK("HTTP_IF_NONE_MATCH"),
	PICK("SCRIPT_NAME"), PICK("PATH_INFO"), PICK("HTTP_AUTHORIZATION"), PICK("REMOTE_USER"),
	PICK("HTTP_IDEMPOTENCY_KEY"), PICK("HTTP_ORIGIN"), PICK("HTTP_ACCESS_CONTROL_REQUEST_METHOD"),
	PICK("HTTP_ACCESS_CONTROL_REQUEST_HEADERS"),
};
#define N_PICKED (sizeof picked / sizeof picked[0])

static const char *picked_get(void *ctx, const char *name)
{
	const char *const *values = ctx;

	for (size_t i = 0; i < N_PICKED; i++)
		if (strcmp(name, picked[i].name) == 0)
			return values[i];
	return NULL;
}

enum request_status request_parse_envp(struct request *req, const struct request_root *root,
				       char *const *envp, char *err, size_t errlen)
{
	const char *values[N_PICKED] = { NULL };
	size_t found = 0;

	for (char *const *e = envp; e != NULL && *e != NULL && found < N_PICKED; e++) {
		const char *entry = *e;

		for (size_t i = 0; i < N_PICKED; i++) {
			const char *name = picked[i].name;
			size_t n = picked[i].len;

			/* The first two letters rule out almost every other param without a call. */
			if (entry[0] != name[0] || entry[1] != name[1] || values[i] != NULL)
				continue;
			if (strncmp(entry, name, n) == 0 && entry[n] == '=') { /* stops at a shorter entry's NUL */
				values[i] = entry + n + 1;
				found++;
				break;
			}
		}
	}
	return request_parse(req, root, picked_get, (void *)values, err, errlen);
}

enum request_status request_read_body(struct request *req, long cap, request_read_fn read,
				      void *ctx)
{
	buf_reset(&req->body);
	if (req->content_length > cap)
		return REQUEST_TOO_LARGE;
	for (;;) {
		long n;

		/* Ask for one byte more than the cap so an oversized body is noticed. */
		size_t want = (size_t)(cap + 1) - req->body.len;

		if (want > REQUEST_READ_CHUNK)
			want = REQUEST_READ_CHUNK;
		buf_reserve(&req->body, want);
		n = read(ctx, req->body.data + req->body.len, want);
		if (n < 0)
			return REQUEST_IO_ERROR;
		if (n == 0)
			break;
		req->body.len += (size_t)n;
		req->body.data[req->body.len] = '\0';
		if (req->body.len > (size_t)cap)
			return REQUEST_TOO_LARGE;
	}
	if (req->content_length >= 0 && req->body.len < (size_t)req->content_length)
		return REQUEST_BAD;
	return REQUEST_OK;
}
