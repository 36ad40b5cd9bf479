/*
 * fuzz_query: the query string, from request_parse_query to the
 * validation of GET /tasks's skip, limit, after_id and completed and PATCH
 * /tasks/{id}?completed=, answered through the pipeline with the store
 * stubbed in memory (fake_store.h).
 *
 * Input: the query string (up to a NUL byte: a FastCGI param is a C string).
 * Checked beyond "no crash":
 * - request_parse_query agrees with a decoder written here from the
 *   contract (pieces split at '&', empty ones skipped, name and value split
 *   at the first '=', percent-decoding with '+' as space, malformed escapes
 *   and %00 kept as they are): the same names and values, and -1 exactly
 *   when there are more than REQUEST_MAX_QUERY_PARAMS;
 * - GET /tasks answers 200, 400 (too many parameters) or 422, nothing else;
 *   a 200 is a list of at most api.max_limit tasks in ascending id order,
 *   all above a valid after_id and all with the asked completed value; a
 *   422 names only query parameters;
 * - PATCH /tasks/1?... answers 200, 400 or 422;
 * - every answer is well-formed (fuzz_check_answer).
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_store.h"
#include "fuzz_check.h"
#include "fuzz_serve.h"
#include "request.h"

#define SEEDED_TASKS 40
#define MAX_LIMIT 100 /* config.c's default api.max_limit */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int hex(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The contract's decoding of in[0..len) into out (NUL-terminated); returns its length. */
static size_t decode(const char *in, size_t len, char *out)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		if (in[i] == '+') {
			out[n++] = ' ';
		} else if (in[i] == '%' && i + 2 < len && hex(in[i + 1]) >= 0 && hex(in[i + 2]) >= 0 &&
			   (hex(in[i + 1]) | hex(in[i + 2])) != 0) {
			out[n++] = (char)(hex(in[i + 1]) * 16 + hex(in[i + 2]));
			i += 2;
		} else {
			out[n++] = in[i];
		}
	}
	out[n] = '\0';
	return n;
}

static void check_parse(const char *qs, size_t len)
{
	static struct request req;
	static bool ready;
	char *scratch = malloc(len + 1);
	size_t pieces = 0, i = 0;
	int rc;

	FUZZ_CHECK(scratch != NULL, "out of memory");
	if (!ready) {
		request_init(&req);
		ready = true;
	}
	rc = request_parse_query(&req, qs, len);
	while (i < len) {
		size_t end = i, eq;

		while (end < len && qs[end] != '&')
			end++;
		if (end == i) {
			i++;
			continue;
		}
		pieces++;
		if (pieces <= REQUEST_MAX_QUERY_PARAMS && rc == 0) {
			const struct query_param *q = &req.query[pieces - 1];
			size_t n;

			for (eq = i; eq < end && qs[eq] != '='; eq++)
				;
			decode(qs + i, eq - i, scratch);
			FUZZ_CHECK(strcmp(q->name, scratch) == 0, "param %zu named \"%s\", expected \"%s\"", pieces - 1,
				   q->name, scratch);
			n = eq < end ? decode(qs + eq + 1, end - eq - 1, scratch) : decode("", 0, scratch);
			FUZZ_CHECK(q->value_len == n && memcmp(q->value, scratch, n) == 0,
				   "param %zu's value \"%s\", expected \"%s\"", pieces - 1, q->value, scratch);
		}
		i = end + 1;
	}
	FUZZ_CHECK((rc < 0) == (pieces > REQUEST_MAX_QUERY_PARAMS), "%zu pieces, request_parse_query %d", pieces,
		   rc);
	if (rc == 0)
		FUZZ_CHECK(req.n_query == pieces, "%zu params parsed of %zu", req.n_query, pieces);
	free(scratch);
}

/*
 * The last value of a query parameter, decoded into value (as large as qs):
 * its number when it is 1 to 18 digits, -1 when it is something else, -2
 * when the parameter is absent.
 */
static long long last_number(const char *qs, const char *name, char *value)
{
	const char *p = qs, *found = NULL;
	size_t found_len = 0;

	while (*p) {
		const char *end = strchr(p, '&');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		size_t name_len = eq ? (size_t)(eq - p) : len;

		if (len > 0) {
			decode(p, name_len, value);
			if (strcmp(value, name) == 0) {
				found = eq ? eq + 1 : p + len;
				found_len = eq ? len - name_len - 1 : 0;
			}
		}
		p += len + (end ? 1 : 0);
	}
	value[0] = '\0';
	if (found == NULL)
		return -2;
	decode(found, found_len, value);
	if (value[0] == '\0' || strspn(value, "0123456789") != strlen(value) || strlen(value) > 18)
		return -1;
	return atoll(value);
}

static void check_list(const char *qs, const struct fuzz_answer *a, int status)
{
	char *value = malloc(strlen(qs) + 1);
	const char *body = strstr(a->out, "\r\n\r\n") + 4;
	json_t *list, *task;
	long long after_id, limit;
	int completed = -1;
	json_int_t last = 0;
	size_t i;

	FUZZ_CHECK(value != NULL, "out of memory");
	after_id = last_number(qs, "after_id", value);
	limit = last_number(qs, "limit", value);
	last_number(qs, "completed", value);
	if (strcmp(value, "true") == 0 || strcmp(value, "1") == 0)
		completed = 1;
	else if (strcmp(value, "false") == 0 || strcmp(value, "0") == 0)
		completed = 0;
	list = json_loads(body, 0, NULL);
	if (status == 422) {
		json_array_foreach(json_object_get(list, "detail"), i, task)
			FUZZ_CHECK(fuzz_json_is(json_array_get(json_object_get(task, "loc"), 0), "query"),
				   "a 422 for GET /tasks?%s names something else than the query", qs);
	}
	if (status == 200) {
		FUZZ_CHECK(json_is_array(list) && json_array_size(list) <= MAX_LIMIT, "GET /tasks?%s: not a page", qs);
		if (limit > 0)
			FUZZ_CHECK((long long)json_array_size(list) <= limit, "GET /tasks?%s: %zu tasks", qs,
				   json_array_size(list));
		json_array_foreach(list, i, task) {
			json_int_t id = json_integer_value(json_object_get(task, "id"));

			FUZZ_CHECK(id > last && (after_id < 0 || id > after_id), "GET /tasks?%s: id %lld out of order",
				   qs, (long long)id);
			FUZZ_CHECK(completed < 0 || json_is_true(json_object_get(task, "is_completed")) == completed,
				   "GET /tasks?%s: task %lld of the other completed value", qs, (long long)id);
			last = id;
		}
	}
	json_decref(list);
	free(value);
}

static void serve(const char *method, const char *path, const char *qs, struct fuzz_answer *a)
{
	size_t n = strlen(qs) + 64;
	char *method_param = malloc(n), *uri = malloc(n);
	char *envp[] = { method_param, uri, NULL };

	FUZZ_CHECK(method_param && uri, "out of memory");
	snprintf(method_param, n, "REQUEST_METHOD=%s", method);
	snprintf(uri, n, "REQUEST_URI=%s?%s", path, qs);
	fuzz_serve(envp, "", 0, true, LOG_FORMAT_TEXT, a);
	free(method_param);
	free(uri);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	char *qs = malloc(size + 1);
	struct fuzz_answer a;
	int status;

	FUZZ_CHECK(qs != NULL, "out of memory");
	if (!ready) {
		fuzz_serve_init(4096);
		ready = true;
	}
	memcpy(qs, data, size);
	qs[size] = '\0';
	check_parse(qs, strlen(qs));

	fake_store_reset(SEEDED_TASKS, FAKE_FAIL_NONE);
	serve("GET", "/tasks", qs, &a);
	status = fuzz_check_answer(a.out, a.len, false, false);
	FUZZ_CHECK(status == 200 || status == 400 || status == 422, "GET /tasks?%s: %d", qs, status);
	check_list(qs, &a, status);

	serve("PATCH", "/tasks/1", qs, &a);
	status = fuzz_check_answer(a.out, a.len, false, false);
	FUZZ_CHECK(status == 200 || status == 400 || status == 422, "PATCH /tasks/1?%s: %d", qs, status);
	FUZZ_CHECK(fake_store_in_use() == 0, "a connection not given back");
	free(qs);
	return 0;
}
