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

	return request_parse(req, NULL, fake_get, &p, err, sizeof err);
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
	ck_assert_int_eq(request_parse_envp(&req, NULL, envp, err, sizeof err), REQUEST_OK);
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

/* Parses kv with root; checks the served path and the prefix. */
static void check_root(const struct request_root *root, const char *const *kv, const char *path,
		       const char *prefix)
{
	struct fake_params p = { kv };
	struct request req;
	char err[160];

	request_init(&req);
	ck_assert_int_eq(request_parse(&req, root, fake_get, &p, err, sizeof err), REQUEST_OK);
	ck_assert_str_eq(req.path.data, path);
	ck_assert_uint_eq(req.root_path.len, strlen(prefix));
	if (*prefix)
		ck_assert_str_eq(req.root_path.data, prefix);
	/* A next request starts without it. */
	request_reset(&req);
	ck_assert_uint_eq(req.root_path.len, 0);
	request_release(&req);
}

START_TEST(test_root_path_configured)
{
	static const struct request_root api = { "/api", false }, api_cgi = { "/api", true };
	static const char *const under[] = { "REQUEST_METHOD", "GET", "REQUEST_URI", "/api/tasks/1?x=1", NULL };
	static const char *const bare[] = { "REQUEST_METHOD", "GET", "REQUEST_URI", "/api", NULL };
	static const char *const stripped[] = { "REQUEST_METHOD", "GET", "REQUEST_URI", "/tasks/1", NULL };
	static const char *const apix[] = { "REQUEST_METHOD", "GET", "REQUEST_URI", "/apix/tasks/", NULL };
	static const char *const encoded[] = { "REQUEST_METHOD", "GET", "REQUEST_URI", "/%61pi/tasks/", NULL };
	/* The configured prefix wins over what CGI's variables would give. */
	static const char *const cgi[] = { "REQUEST_METHOD", "GET", "REQUEST_URI", "/api/v1/tasks/",
					   "SCRIPT_NAME", "/api/v1/taskapi.cgi", "PATH_INFO", "/tasks/", NULL };

	check_root(&api, under, "/tasks/1", "/api");
	check_root(&api, bare, "/", "/api");
	/* A proxy that already took the prefix away: served as it is, URLs still carry it. */
	check_root(&api, stripped, "/tasks/1", "/api");
	check_root(&api, apix, "/apix/tasks/", "/api");
	check_root(&api, encoded, "/tasks/", "/api");
	check_root(&api_cgi, cgi, "/v1/tasks/", "/api");
}
END_TEST

START_TEST(test_root_path_from_cgi)
{
	static const struct request_root cgi = { "", true };
	/* ScriptAlias /cgi-bin/taskapi: the prefix is SCRIPT_NAME. */
	static const char *const alias[] = { "REQUEST_METHOD", "GET", "REQUEST_URI", "/cgi-bin/taskapi/tasks/1",
					     "SCRIPT_NAME", "/cgi-bin/taskapi", "PATH_INFO", "/tasks/1", NULL };
	static const char *const alias_root[] = { "REQUEST_METHOD", "GET", "REQUEST_URI",
						  "/cgi-bin/taskapi?limit=1", "SCRIPT_NAME", "/cgi-bin/taskapi", NULL };
	static const char *const alias_x[] = { "REQUEST_METHOD", "GET", "REQUEST_URI", "/cgi-bin/taskapix/tasks/",
					       "SCRIPT_NAME", "/cgi-bin/taskapi", NULL };
	/* The shared-hosting rewrite in a folder: .../api/taskapi.cgi/$1. */
	static const char *const rewrite[] = { "REQUEST_METHOD", "GET", "REQUEST_URI", "/api/tasks/1",
					       "SCRIPT_NAME", "/api/taskapi.cgi", "PATH_INFO", "/tasks/1", NULL };
	static const char *const rewrite_top[] = { "REQUEST_METHOD", "GET", "REQUEST_URI", "/api/",
						   "SCRIPT_NAME", "/api/taskapi.cgi", "PATH_INFO", "/", NULL };
	/* The same at the document root, with and without PATH_INFO. */
	static const char *const rewrite_doc[] = { "REQUEST_METHOD", "GET", "REQUEST_URI", "/tasks/1",
						   "SCRIPT_NAME", "/taskapi.cgi", "PATH_INFO", "/tasks/1", NULL };
	static const char *const rewrite_bare[] = { "REQUEST_METHOD", "GET", "REQUEST_URI", "/tasks/1",
						    "SCRIPT_NAME", "/taskapi.cgi", NULL };
	/* A prefix that could not go into a header or a URL as it is: none. */
	static const char *const odd[] = { "REQUEST_METHOD", "GET", "REQUEST_URI", "/a%20b/tasks/1",
					   "SCRIPT_NAME", "/a b/taskapi.cgi", "PATH_INFO", "/tasks/1", NULL };
	/* No REQUEST_URI: the path is PATH_INFO, the prefix SCRIPT_NAME (RFC 3875 3.3). */
	static const char *const no_uri[] = { "REQUEST_METHOD", "GET", "SCRIPT_NAME", "/cgi-bin/taskapi",
					      "PATH_INFO", "/tasks", NULL };
	static const char *const no_uri_root[] = { "REQUEST_METHOD", "GET", "SCRIPT_NAME", "/cgi-bin/taskapi",
						   NULL };

	check_root(&cgi, alias, "/tasks/1", "/cgi-bin/taskapi");
	check_root(&cgi, alias_root, "/", "/cgi-bin/taskapi");
	check_root(&cgi, alias_x, "/cgi-bin/taskapix/tasks/", "");
	check_root(&cgi, rewrite, "/tasks/1", "/api");
	check_root(&cgi, rewrite_top, "/", "/api");
	check_root(&cgi, rewrite_doc, "/tasks/1", "");
	check_root(&cgi, rewrite_bare, "/tasks/1", "");
	check_root(&cgi, odd, "/a b/tasks/1", "");
	check_root(&cgi, no_uri, "/tasks", "/cgi-bin/taskapi");
	check_root(&cgi, no_uri_root, "/", "/cgi-bin/taskapi");
}
END_TEST

START_TEST(test_root_path_not_from_fastcgi)
{
	static const struct request_root fcgi = { "", false };
	/* nginx's fastcgi_params: SCRIPT_NAME is the whole path. */
	static const char *const nginx[] = { "REQUEST_METHOD", "GET", "REQUEST_URI", "/tasks/1?x=1",
					     "SCRIPT_NAME", "/tasks/1", "DOCUMENT_URI", "/tasks/1", NULL };
	/* Apache's mod_proxy_fcgi and mod_fcgid at "/": a walk of the document root. */
	static const char *const apache[] = { "REQUEST_METHOD", "GET", "REQUEST_URI", "/tasks/1",
					      "SCRIPT_NAME", "/tasks", "PATH_INFO", "/1", NULL };
	static const char *const apache_sub[] = { "REQUEST_METHOD", "GET", "REQUEST_URI", "/api/tasks/1",
						  "SCRIPT_NAME", "/api", "PATH_INFO", "/tasks/1", NULL };

	check_root(&fcgi, nginx, "/tasks/1", "");
	check_root(&fcgi, apache, "/tasks/1", "");
	check_root(&fcgi, apache_sub, "/api/tasks/1", "");
	check_root(NULL, apache_sub, "/api/tasks/1", "");
}
END_TEST

START_TEST(test_root_path_ok)
{
	ck_assert(request_root_path_ok("/api", 4));
	ck_assert(request_root_path_ok("/a/b.c-d_e~", 11));
	ck_assert(request_root_path_ok("/caf\xc3\xa9", 6));
	ck_assert(!request_root_path_ok("", 0));
	ck_assert(!request_root_path_ok("/", 1));
	ck_assert(!request_root_path_ok("api", 3));
	ck_assert(!request_root_path_ok("/api/", 5));
	ck_assert(!request_root_path_ok("/a b", 4));
	ck_assert(!request_root_path_ok("/a\r\nX: y", 8));
	ck_assert(!request_root_path_ok("/a?b", 4));
	ck_assert(!request_root_path_ok("/a#b", 4));
	ck_assert(!request_root_path_ok("/a%20", 5));
	ck_assert(!request_root_path_ok("/\xff", 2));
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
			     test_parse_envp_matches_getter, test_root_path_configured,
			     test_root_path_from_cgi, test_root_path_not_from_fastcgi,
			     test_root_path_ok);
}
