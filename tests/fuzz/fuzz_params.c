/*
 * fuzz_params: FastCGI params -> request_parse_envp / request_parse.
 *
 * The input is the params as libfcgi hands them over: "NAME=value" entries,
 * one per line (a NUL byte ends an entry early, as in a C string). Checked
 * beyond "no crash":
 * - request_parse_envp (one pass) and request_parse (one lookup per name,
 *   FCGX_GetParam's first-match rule) give the same result, as request.h
 *   promises, and parsing again into the reused buffers gives it once more;
 * - a REQUEST_BAD message is a non-empty UTF-8 text (it becomes a JSON
 *   string in the 400 answer);
 * - a parsed request is sane: the path starts with '/' and holds no NUL,
 *   at most REQUEST_MAX_QUERY_PARAMS query parameters, each value's length
 *   is its C string length, request_query_get finds the last one of a name,
 *   borrowed headers point into the params.
 */
#include <jansson.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_check.h"
#include "request.h"

#define MAX_PARAMS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* FCGX_GetParam's rule: the first entry of that name. */
static const char *envp_get(void *ctx, const char *name)
{
	char *const *envp = ctx;
	size_t n = strlen(name);

	for (char *const *e = envp; *e != NULL; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

static void same_string(const char *a, const char *b, const char *what)
{
	FUZZ_CHECK((a == NULL) == (b == NULL) && (a == NULL || a == b), "%s differs: %s / %s", what,
		   a ? a : "(null)", b ? b : "(null)");
}

static void same_request(const struct request *a, const struct request *b)
{
	FUZZ_CHECK(a->method == b->method, "method %d / %d", (int)a->method, (int)b->method);
	FUZZ_CHECK(strcmp(a->method_name, b->method_name) == 0, "method name");
	FUZZ_CHECK(a->path.len == b->path.len && memcmp(a->path.data, b->path.data, a->path.len) == 0,
		   "path differs");
	FUZZ_CHECK(a->n_query == b->n_query, "%zu / %zu query params", a->n_query, b->n_query);
	for (size_t i = 0; i < a->n_query; i++) {
		FUZZ_CHECK(strcmp(a->query[i].name, b->query[i].name) == 0, "query name %zu", i);
		FUZZ_CHECK(a->query[i].value_len == b->query[i].value_len &&
				   memcmp(a->query[i].value, b->query[i].value, a->query[i].value_len) == 0,
			   "query value %zu", i);
	}
	same_string(a->content_type, b->content_type, "content_type");
	FUZZ_CHECK(a->content_length == b->content_length, "content_length %ld / %ld", a->content_length,
		   b->content_length);
	same_string(a->request_id, b->request_id, "request_id");
	same_string(a->if_match, b->if_match, "if_match");
	same_string(a->if_none_match, b->if_none_match, "if_none_match");
}

static bool borrowed_from(const char *s, const struct fuzz_lines *l)
{
	return s == NULL || (s >= l->store && s <= l->store + l->len);
}

static void check_parsed(const struct request *req, const struct fuzz_lines *l)
{
	FUZZ_CHECK(req->path.len > 0 && req->path.data[0] == '/', "a path without '/'");
	FUZZ_CHECK(memchr(req->path.data, '\0', req->path.len) == NULL, "a NUL inside the path");
	FUZZ_CHECK(req->path.data[req->path.len] == '\0', "path not NUL-terminated");
	FUZZ_CHECK(req->n_query <= REQUEST_MAX_QUERY_PARAMS, "%zu query params", req->n_query);
	for (size_t i = 0; i < req->n_query; i++) {
		const struct query_param *q = &req->query[i];
		const struct query_param *last = request_query_get(req, q->name);

		FUZZ_CHECK(strlen(q->value) == q->value_len, "a NUL inside query value %zu", i);
		FUZZ_CHECK(last != NULL && last >= q && strcmp(last->name, q->name) == 0,
			   "request_query_get(%s) is not its last occurrence", q->name);
	}
	FUZZ_CHECK(req->content_length >= -1, "content_length %ld", req->content_length);
	FUZZ_CHECK(req->content_type == NULL || *req->content_type != '\0', "an empty Content-Type kept");
	FUZZ_CHECK(borrowed_from(req->content_type, l) && borrowed_from(req->request_id, l) &&
			   borrowed_from(req->if_match, l) && borrowed_from(req->if_none_match, l),
		   "a header not borrowed from the params");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct request one, other;
	static bool ready;
	struct fuzz_lines l;
	char err1[160] = "", err2[160] = "";
	enum request_status s1, s2, s3;

	if (!ready) { /* the buffers are reused from input to input, as a serving thread does */
		request_init(&one);
		request_init(&other);
		ready = true;
	}
	fuzz_lines_split(&l, data, size, '\n', MAX_PARAMS);
	s1 = request_parse_envp(&one, NULL, l.vec, err1, sizeof err1);
	s2 = request_parse(&other, NULL, envp_get, l.vec, err2, sizeof err2);
	FUZZ_CHECK(s1 == s2, "request_parse_envp %d, request_parse %d", (int)s1, (int)s2);
	FUZZ_CHECK(s1 == REQUEST_OK || s1 == REQUEST_BAD, "status %d from parsing params", (int)s1);
	if (s1 == REQUEST_BAD) {
		json_t *msg = json_string(err1);

		FUZZ_CHECK(strcmp(err1, err2) == 0, "messages differ: %s / %s", err1, err2);
		FUZZ_CHECK(err1[0] != '\0' && msg != NULL, "a 400 message that is empty or not UTF-8: %s", err1);
		json_decref(msg);
	} else {
		same_request(&one, &other);
		check_parsed(&one, &l);
	}
	s3 = request_parse_envp(&other, NULL, l.vec, err2, sizeof err2);
	FUZZ_CHECK(s3 == s1, "a second parse into reused buffers: %d, then %d", (int)s1, (int)s3);
	if (s3 == REQUEST_OK)
		same_request(&one, &other);
	fuzz_lines_release(&l);
	return 0;
}
