/* Unit tests for request.c: FastCGI params -> struct request, query decoding, body reading. */
#include <stdlib.h>
#include <string.h>

#include "request.h"
#include "unit.h"

struct fake_params {
	const char *const *kv; /* name, value, ..., NULL */
};

static const char *fake_get(void *ctx, const char *name)
{
	const struct fake_params *p = ctx;

	for (size_t i = 0; p->kv[i] != NULL; i += 2)
		if (strcmp(p->kv[i], name) == 0)
			return p->kv[i + 1];
	return NULL;
}

static enum request_status parse(struct request *req, const char *const *kv)
{
	struct fake_params p = { kv };
	char err[160];

	return request_parse(req, fake_get, &p, err, sizeof err);
}

START_TEST(test_parse_basic)
{
	static const char *const kv[] = {
		"REQUEST_METHOD", "GET", "REQUEST_URI", "/tasks/?skip=5&limit=2",
		"QUERY_STRING", "skip=5&limit=2", "REQUEST_ID", "abc123", NULL
	};
	struct request req;

	request_init(&req);
	ck_assert_int_eq(parse(&req, kv), REQUEST_OK);
	ck_assert_int_eq(req.method, HTTP_GET);
	ck_assert_str_eq(req.path.data, "/tasks/");
	ck_assert_uint_eq(req.n_query, 2);
	ck_assert_str_eq(request_query_get(&req, "skip")->value, "5");
	ck_assert_str_eq(request_query_get(&req, "limit")->value, "2");
	ck_assert_ptr_null(request_query_get(&req, "other"));
	ck_assert_str_eq(req.request_id, "abc123");
	ck_assert_int_eq(req.content_length, -1);
	request_release(&req);
}
END_TEST

START_TEST(test_parse_decodes_path)
{
	static const char *const kv[] = { "REQUEST_METHOD", "PATCH", "REQUEST_URI", "/tasks/%31%32", NULL };
	struct request req;

	request_init(&req);
	ck_assert_int_eq(parse(&req, kv), REQUEST_OK);
	ck_assert_int_eq(req.method, HTTP_PATCH);
	ck_assert_str_eq(req.path.data, "/tasks/12");
	request_release(&req);
}
END_TEST

START_TEST(test_parse_keeps_bad_escapes)
{
	static const char *const nul[] = { "REQUEST_METHOD", "GET", "REQUEST_URI", "/tasks/%00", NULL };
	static const char *const trunc[] = { "REQUEST_METHOD", "GET", "REQUEST_URI", "/tasks/%4", NULL };
	static const char *const rel[] = { "REQUEST_METHOD", "GET", "REQUEST_URI", "tasks", NULL };
	struct request req;

	request_init(&req);
	ck_assert_int_eq(parse(&req, nul), REQUEST_OK);
	ck_assert_str_eq(req.path.data, "/tasks/%00");
	ck_assert_uint_eq(req.path.len, 10);
	ck_assert_int_eq(parse(&req, trunc), REQUEST_OK);
	ck_assert_str_eq(req.path.data, "/tasks/%4");
	ck_assert_int_eq(parse(&req, rel), REQUEST_BAD);
	request_release(&req);
}
END_TEST

START_TEST(test_parse_cgi_fallback)
{
	static const char *const kv[] = {
		"REQUEST_METHOD", "GET", "SCRIPT_NAME", "/cgi-bin/taskapi", "PATH_INFO", "/tasks",
		"QUERY_STRING", "limit=1", NULL
	};
	struct request req;

	request_init(&req);
	ck_assert_int_eq(parse(&req, kv), REQUEST_OK);
	ck_assert_str_eq(req.path.data, "/tasks");
	ck_assert_str_eq(request_query_get(&req, "limit")->value, "1");
	request_release(&req);
}
END_TEST

START_TEST(test_parse_unknown_method_and_length)
{
	static const char *const kv[] = {
		"REQUEST_METHOD", "BREW", "REQUEST_URI", "/", "CONTENT_LENGTH", "12",
		"CONTENT_TYPE", "application/json", NULL
	};
	static const char *const bad_len[] = {
		"REQUEST_METHOD", "POST", "REQUEST_URI", "/", "CONTENT_LENGTH", "-1", NULL
	};
	struct request req;

	request_init(&req);
	ck_assert_int_eq(parse(&req, kv), REQUEST_OK);
	ck_assert_int_eq(req.method, HTTP_OTHER);
	ck_assert_str_eq(req.method_name, "BREW");
	ck_assert_int_eq(req.content_length, 12);
	ck_assert_str_eq(req.content_type, "application/json");
	ck_assert_int_eq(parse(&req, bad_len), REQUEST_BAD);
	request_release(&req);
}
END_TEST

START_TEST(test_query_decoding)
{
	struct request req;
	const char *qs = "title=caf%C3%A9+au+lait&empty=&flag&x=%2B1&&y=a%3Db";

	request_init(&req);
	ck_assert_int_eq(request_parse_query(&req, qs, strlen(qs)), 0);
	ck_assert_uint_eq(req.n_query, 5);
	ck_assert_str_eq(request_query_get(&req, "title")->value, "caf\xc3\xa9 au lait");
	ck_assert_str_eq(request_query_get(&req, "empty")->value, "");
	ck_assert_uint_eq(request_query_get(&req, "empty")->value_len, 0);
	ck_assert_str_eq(request_query_get(&req, "flag")->value, "");
	ck_assert_str_eq(request_query_get(&req, "x")->value, "+1");
	ck_assert_str_eq(request_query_get(&req, "y")->value, "a=b");
	request_release(&req);
}
END_TEST

START_TEST(test_query_malformed_escapes_stay)
{
	struct request req;
	char many[32 * 4 + 16];

	request_init(&req);
	ck_assert_int_eq(request_parse_query(&req, "a=%zz", 5), 0);
	ck_assert_str_eq(request_query_get(&req, "a")->value, "%zz");
	ck_assert_int_eq(request_parse_query(&req, "a=%", 3), 0);
	ck_assert_str_eq(request_query_get(&req, "a")->value, "%");
	ck_assert_int_eq(request_parse_query(&req, "a=1%00", 6), 0);
	ck_assert_str_eq(request_query_get(&req, "a")->value, "1%00");
	ck_assert_uint_eq(request_query_get(&req, "a")->value_len, 4);
	many[0] = '\0';
	for (int i = 0; i < REQUEST_MAX_QUERY_PARAMS + 1; i++)
		strcat(many, "a=1&");
	ck_assert_int_eq(request_parse_query(&req, many, strlen(many)), -1);
	request_release(&req);
}
END_TEST

START_TEST(test_last_value_wins)
{
	struct request req;

	request_init(&req);
	ck_assert_int_eq(request_parse_query(&req, "limit=1&limit=2", 15), 0);
	ck_assert_str_eq(request_query_get(&req, "limit")->value, "2");
	request_release(&req);
}
END_TEST

struct chunked_source {
	const char *data;
	size_t len, pos, chunk;
	int fail;
};

static long chunked_read(void *ctx, char *out, size_t n)
{
	struct chunked_source *s = ctx;
	size_t take = s->len - s->pos;

	if (s->fail)
		return -1;
	if (take > n)
		take = n;
	if (take > s->chunk)
		take = s->chunk;
	memcpy(out, s->data + s->pos, take);
	s->pos += take;
	return (long)take;
}

START_TEST(test_body_reading)
{
	struct request req;
	struct chunked_source src = { "{\"title\":\"x\"}", 13, 0, 3, 0 };

	request_init(&req);
	ck_assert_int_eq(request_read_body(&req, 64, chunked_read, &src), REQUEST_OK);
	ck_assert_uint_eq(req.body.len, 13);
	ck_assert_str_eq(req.body.data, "{\"title\":\"x\"}");

	/* exactly at the cap is fine, one byte over is not */
	src.pos = 0;
	ck_assert_int_eq(request_read_body(&req, 13, chunked_read, &src), REQUEST_OK);
	src.pos = 0;
	ck_assert_int_eq(request_read_body(&req, 12, chunked_read, &src), REQUEST_TOO_LARGE);

	/* a declared length over the cap is refused before reading */
	src.pos = 0;
	req.content_length = 100;
	ck_assert_int_eq(request_read_body(&req, 64, chunked_read, &src), REQUEST_TOO_LARGE);
	ck_assert_uint_eq(src.pos, 0);

	/* fewer bytes than promised */
	req.content_length = 20;
	ck_assert_int_eq(request_read_body(&req, 64, chunked_read, &src), REQUEST_BAD);

	src.fail = 1;
	req.content_length = -1;
	ck_assert_int_eq(request_read_body(&req, 64, chunked_read, &src), REQUEST_IO_ERROR);
	request_release(&req);
}
END_TEST

START_TEST(test_parse_envp_matches_getter)
{
	static char e1[] = "HTTP_HOST=x", e2[] = "REQUEST_METHOD=PATCH", e3[] = "REMOTE_ADDR=1.2.3.4",
		    e4[] = "REQUEST_URI=/tasks/7?completed=on", e5[] = "QUERY_STRING=completed=on",
		    e6[] = "CONTENT_TYPE=application/json", e7[] = "CONTENT_LENGTH=2",
		    e8[] = "HTTP_IF_MATCH=\"3\"", e9[] = "REQUEST_ID=abc", e10[] = "REQUEST_METHODX=GET",
		    e11[] = "REQUEST_METHOD=GET", /* a duplicate: the first one counts, as in libfcgi */
		    e12[] = "HTTP_IDEMPOTENCY_KEY=k-1";
	/* Short entries on the heap, exactly sized: reading past them is what ASan catches. */
	char *short1 = strdup("RE=1"), *short2 = strdup("HT");
	char *envp[] = { e1, short1, e10, e2, short2, e3, e4, e5, e6, e7, e8, e9, e11, e12, NULL };
	struct request req;
	char err[160];

	request_init(&req);
	ck_assert_int_eq(request_parse_envp(&req, envp, err, sizeof err), REQUEST_OK);
	free(short1);
	free(short2);
	ck_assert_int_eq(req.method, HTTP_PATCH);
	ck_assert_str_eq(req.path.data, "/tasks/7");
	ck_assert_str_eq(request_query_get(&req, "completed")->value, "on");
	ck_assert_str_eq(req.content_type, "application/json");
	ck_assert_int_eq(req.content_length, 2);
	ck_assert_str_eq(req.if_match, "\"3\"");
	ck_assert_ptr_null(req.if_none_match);
	ck_assert_str_eq(req.request_id, "abc");
	ck_assert_str_eq(req.idempotency_key, "k-1");
	/* Forgotten with the request. */
	request_reset(&req);
	ck_assert_ptr_null(req.idempotency_key);
	request_release(&req);
}
END_TEST

START_TEST(test_method_names)
{
	ck_assert_int_eq(request_method_parse("DELETE"), HTTP_DELETE);
	ck_assert_int_eq(request_method_parse("get"), HTTP_OTHER);
	ck_assert_str_eq(request_method_name(HTTP_OPTIONS), "OPTIONS");
}
END_TEST

Suite *unit_suite(void)
{
	return unit_suite_of("request", NULL, NULL, test_parse_basic,
			     test_parse_decodes_path, test_parse_keeps_bad_escapes,
			     test_parse_cgi_fallback,
			     test_parse_unknown_method_and_length, test_query_decoding,
			     test_query_malformed_escapes_stay, test_last_value_wins,
			     test_body_reading, test_method_names,
			     test_parse_envp_matches_getter);
}
