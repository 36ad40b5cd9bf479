#ifndef TASKAPI_REQUEST_H
#define TASKAPI_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/*
 * An HTTP request as taskapi sees it: FastCGI params turned into a struct.
 * Nothing here knows about libfcgi; params arrive through a getter so the
 * parser is unit-tested without a socket.
 *
 * Header strings (content_type, request_id, ...) are borrowed from the
 * params and valid until the FastCGI request is finished. Path, query and
 * body are decoded into buffers the request owns and reuses across requests.
 */

enum http_method {
	HTTP_OTHER = 0,
	HTTP_GET = 1 << 0,
	HTTP_HEAD = 1 << 1,
	HTTP_POST = 1 << 2,
	HTTP_PUT = 1 << 3,
	HTTP_PATCH = 1 << 4,
	HTTP_DELETE = 1 << 5,
	HTTP_OPTIONS = 1 << 6,
};

#define REQUEST_MAX_QUERY_PARAMS 32

/* A decoded query parameter; name and value are NUL-terminated, without inner NULs. */
struct query_param {
	const char *name;
	const char *value;
	size_t value_len;
};

struct request {
	enum http_method method;
	const char *method_name;
	struct buf path;        /* percent-decoded, without the query */
	struct buf query_store; /* storage for decoded names and values */
	size_t query_offsets[REQUEST_MAX_QUERY_PARAMS][3]; /* name, value, value length */
	struct query_param query[REQUEST_MAX_QUERY_PARAMS];
	size_t n_query;
	const char *content_type; /* NULL when absent */
	long content_length;      /* -1 when absent */
	const char *request_id;   /* nginx's $request_id, or NULL */
	const char *if_match;
	const char *if_none_match;
	const char *authorization; /* the Authorization header (HTTP_AUTHORIZATION), or NULL */
	const char *remote_user;   /* REMOTE_USER: who the web server authenticated, or NULL */
	/* The Idempotency-Key header (HTTP_IDEMPOTENCY_KEY), unchecked (idem_key_check), or NULL */
	const char *idempotency_key;
	/* CORS (cors.h): Origin, Access-Control-Request-Method and -Headers, or NULL. */
	const char *origin;
	const char *cors_request_method;
	const char *cors_request_headers;
	/* SCRIPT_NAME and PATH_INFO as the web server set them (CGI, RFC 3875 4.1.13, 4.1.5), or NULL. */
	const char *script_name;
	const char *path_info;
	/*
	 * The prefix the API is served under ("/api"), without a trailing
	 * slash; empty when there is none. path never includes it: Location,
	 * Link, the OpenAPI servers and the /docs pages put it back.
	 */
	struct buf root_path;
	struct buf body;
};

/* Returns a FastCGI param by name, or NULL. */
typedef const char *(*request_param_fn)(void *ctx, const char *name);
/* Reads up to n body bytes; returns the count, 0 at end of body, -1 on error. */
typedef long (*request_read_fn)(void *ctx, char *buf, size_t n);

enum request_status {
	REQUEST_OK = 0,
	REQUEST_BAD,          /* 400: malformed path, query or length */
	REQUEST_TOO_LARGE,    /* 413: body over the cap */
	REQUEST_IO_ERROR      /* the peer went away while we read */
};

void request_init(struct request *req);
void request_release(struct request *req);
/* Forgets the previous request but keeps the buffers' storage. */
void request_reset(struct request *req);

enum http_method request_method_parse(const char *name);
const char *request_method_name(enum http_method method);

/*
 * Where the API sits in the URL space: what request_parse strips from the
 * path into req->root_path.
 *
 * root_path is [api] root_path, "" or "/a/b" (request_root_path_ok). When
 * set, a path that starts with it (followed by '/' or its end) is served
 * without it; any other path is served as it is (a proxy already stripped
 * it); either way req->root_path is root_path.
 *
 * When empty and script_is_program is true, the prefix is derived from the
 * CGI variables (RFC 3875 4.1.5, 4.1.13): with PATH_INFO at the end of the
 * path, what precedes it (/api/tasks/1 with PATH_INFO /tasks/1: "/api",
 * the rewrite of shared hosting; /cgi-bin/taskapi/tasks/1: the script);
 * else SCRIPT_NAME when the path starts with it. script_is_program must be
 * true only where SCRIPT_NAME names taskapi itself, as under CGI: FastCGI
 * servers fill SCRIPT_NAME and PATH_INFO from the whole path (nginx) or a
 * walk of their document root (Apache's mod_proxy_fcgi and mod_fcgid at "/"
 * send SCRIPT_NAME /tasks, PATH_INFO /1 for /tasks/1), a false prefix.
 * There the prefix is root_path or none.
 */
struct request_root {
	const char *root_path;
	bool script_is_program;
};

/*
 * A path prefix as [api] root_path takes it, and as one derived from the
 * CGI variables must be to be used: p[0..len) starts with '/', does not end
 * with '/', and holds no space, control character, '?', '#' or '%', nor
 * anything but UTF-8 (it goes into headers, URLs and JSON as it is).
 */
bool request_root_path_ok(const char *p, size_t len);

/*
 * Fills method, path, query, headers and root_path from the params; root
 * says where the API sits (NULL: at the root, nothing derived). On
 * REQUEST_BAD, err holds a message fit for a client.
 */
enum request_status request_parse(struct request *req, const struct request_root *root,
				  request_param_fn get, void *ctx, char *err, size_t errlen);

/*
 * request_parse for a FastCGI/CGI environment array ("NAME=value" strings,
 * NULL-terminated): picks the params taskapi reads in one pass over it, instead
 * of one scan per name. Same results and ownership as request_parse.
 */
enum request_status request_parse_envp(struct request *req, const struct request_root *root,
				       char *const *envp, char *err, size_t errlen);

/*
 * Decodes an application/x-www-form-urlencoded query string into req->query.
 * Returns -1 when there are more than REQUEST_MAX_QUERY_PARAMS parameters.
 */
int request_parse_query(struct request *req, const char *qs, size_t len);

/* The last value given for a query parameter (FastAPI's rule), or NULL. */
const struct query_param *request_query_get(const struct request *req, const char *name);

/*
 * Reads the body into req->body, at most cap bytes. REQUEST_TOO_LARGE when
 * the declared or the actual length exceeds cap (the rest is left unread:
 * the caller must not reuse the connection), REQUEST_BAD when fewer bytes
 * arrived than CONTENT_LENGTH promised.
 */
enum request_status request_read_body(struct request *req, long cap, request_read_fn read,
				      void *ctx);

/*
 * Percent-decodes in[0..len) onto out. With plus_is_space, '+' becomes ' '
 * (query strings). Like Starlette, a malformed escape ("%zz", a trailing
 * "%") is kept as it is; "%00" is kept encoded too, so the result never holds
 * a NUL. The validators then refuse such values with a 422.
 */
void request_percent_decode(const char *in, size_t len, bool plus_is_space, struct buf *out);

#endif
