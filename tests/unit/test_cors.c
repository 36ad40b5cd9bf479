/*
 * Unit tests for cors.c: origin normalisation, the [cors] check naming every
 * problem, the policy's comparisons, the preflight's answer and the headers
 * of an actual answer.
 */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "cors.h"
#include "request.h"
#include "response.h"
#include "unit.h"

/* The canonical form of in, or the reason it is refused (as "!reason"). */
static const char *canon(const char *in)
{
	static char out[CORS_ORIGIN_MAX + 64];
	char c[CORS_ORIGIN_MAX];
	const char *why = NULL;

	if (cors_origin_canon(in, strlen(in), c, &why) < 0) {
		snprintf(out, sizeof out, "!%s", why);
		return out;
	}
	snprintf(out, sizeof out, "%s", c);
	return out;
}

START_TEST(test_origin_canon)
{
	ck_assert_str_eq(canon("https://app.example.com"), "https://app.example.com");
	ck_assert_str_eq(canon("HTTPS://App.Example.COM"), "https://app.example.com");
	ck_assert_str_eq(canon("https://app.example.com:443"), "https://app.example.com");
	ck_assert_str_eq(canon("http://localhost:80"), "http://localhost");
	ck_assert_str_eq(canon("http://localhost:3000"), "http://localhost:3000");
	ck_assert_str_eq(canon("http://localhost:03000"), "http://localhost:3000");
	ck_assert_str_eq(canon("https://localhost:80"), "https://localhost:80");
	ck_assert_str_eq(canon("http://[::1]:8080"), "http://[::1]:8080");
	ck_assert_str_eq(canon("http://[FE80::1]"), "http://[fe80::1]");
	ck_assert_str_eq(canon("app-x+y://h"), "app-x+y://h");
	ck_assert_ptr_nonnull(strstr(canon("https://app.example.com/"), "!has a path"));
	ck_assert_ptr_nonnull(strstr(canon("https://app.example.com/x"), "!has a path"));
	ck_assert_ptr_nonnull(strstr(canon("https://app.example.com:8443/"), "!has a path"));
	ck_assert_ptr_nonnull(strstr(canon("https://a.example?x"), "!has a path"));
	ck_assert_ptr_nonnull(strstr(canon("https://u:p@a.example"), "!has user information"));
	ck_assert_ptr_nonnull(strstr(canon("https://a.example:0"), "!has an invalid port"));
	ck_assert_ptr_nonnull(strstr(canon("https://a.example:65536"), "!has an invalid port"));
	ck_assert_ptr_nonnull(strstr(canon("https://a.example:"), "!has an invalid port"));
	ck_assert_ptr_nonnull(strstr(canon("https://"), "!has an invalid host"));
	ck_assert_ptr_nonnull(strstr(canon("https://[zz]"), "!has an invalid host"));
	ck_assert_ptr_nonnull(strstr(canon("https://a b"), "!has an invalid host"));
	ck_assert_ptr_nonnull(strstr(canon("https://a\r\nX: y"), "!has an invalid host"));
	ck_assert_ptr_nonnull(strstr(canon("app.example.com"), "!is not an origin"));
	ck_assert_ptr_nonnull(strstr(canon("null"), "!is not an origin"));
	ck_assert_ptr_nonnull(strstr(canon(""), "!is not an origin"));
	ck_assert_ptr_nonnull(strstr(canon("1http://a"), "!is not an origin"));
}
END_TEST

/* A configuration of "section.key=value" pairs (NULL-terminated), checked: the problems' count. */
static size_t check(struct config_problems *pr, const char *const *pairs)
{
	struct config cfg;
	char err[CONFIG_ERR_SIZE];

	config_init(&cfg);
	for (; *pairs != NULL; pairs++)
		ck_assert_msg(config_set_pair(&cfg, *pairs, err, sizeof err) == 0, "%s: %s", *pairs, err);
	config_problems_init(pr);
	cors_check(&cfg, pr);
	config_release(&cfg);
	return config_problems_count(pr);
}

static bool says(const struct config_problems *pr, const char *text)
{
	for (size_t i = 0; i < pr->n; i++)
		if (strstr(pr->msg[i], text) != NULL)
			return true;
	return false;
}

START_TEST(test_check_names_every_problem)
{
	static const char *const off[] = { "cors.allow_headers=*", NULL };
	static const char *const good[] = { "cors.allow_origins=https://a.example, http://localhost:3000", NULL };
	static const char *const star[] = { "cors.allow_origins= * ", NULL };
	static const char *const bad[] = {
		"cors.allow_origins=https://a.example/, *, ftp//x, https://u@b.example",
		"cors.allow_methods=GET, PO ST, *",
		"cors.allow_headers=X-Ok, X:Bad",
		NULL,
	};
	static const char *const star_creds[] = { "cors.allow_origins= *", "cors.allow_credentials=true", NULL };
	static const char *const empty[] = { "cors.allow_origins= , ", NULL };
	struct config_problems pr;

	ck_assert_uint_eq(check(&pr, off), 0); /* CORS off: nothing is read */
	ck_assert_uint_eq(check(&pr, good), 0);
	ck_assert_uint_eq(check(&pr, star), 0);
	ck_assert_uint_eq(check(&pr, bad), 7);
	ck_assert(says(&pr, "cors.allow_origins: 'https://a.example/' has a path"));
	ck_assert(says(&pr, "cors.allow_origins: 'ftp//x' is not an origin"));
	ck_assert(says(&pr, "cors.allow_origins: 'https://u@b.example' has user information"));
	ck_assert(says(&pr, "'*' allows every origin and must be the only entry"));
	ck_assert(says(&pr, "cors.allow_methods: 'PO ST' is not a valid name"));
	ck_assert(says(&pr, "cors.allow_methods: '*' is not supported"));
	ck_assert(says(&pr, "cors.allow_headers: 'X:Bad' is not a valid name"));
	ck_assert_uint_eq(check(&pr, star_creds), 1);
	ck_assert(says(&pr, "cannot be used with cors.allow_credentials"));
	ck_assert_uint_eq(check(&pr, empty), 1);
	ck_assert(says(&pr, "lists no origin"));
}
END_TEST

/* config_finish reports them with the rest, so --check-config and a start refuse them. */
START_TEST(test_config_finish_refuses)
{
	struct config cfg;
	struct config_problems pr;
	char err[CONFIG_ERR_SIZE];

	config_init(&cfg);
	ck_assert_int_eq(config_set_pair(&cfg, "auth.mode=none", err, sizeof err), 0);
	ck_assert_int_eq(config_set_pair(&cfg, "cors.allow_origins=https://a.example/app", err, sizeof err), 0);
	config_problems_init(&pr);
	ck_assert_int_lt(config_finish(&cfg, &pr), 0);
	ck_assert(says(&pr, "cors.allow_origins: 'https://a.example/app' has a path"));
	config_release(&cfg);
}
END_TEST

static struct config cfg;
static struct cors_policy *pol;
static struct request req;
static struct response resp;
static struct buf out;

static void setup(void)
{
	config_init(&cfg);
	request_init(&req);
	response_init(&resp);
	buf_init(&out);
	pol = NULL;
}

static void teardown(void)
{
	cors_policy_free(pol);
	buf_release(&out);
	response_release(&resp);
	request_release(&req);
	config_release(&cfg);
}

/* The policy of these pairs (NULL-terminated). */
static void policy(const char *const *pairs)
{
	char err[CONFIG_ERR_SIZE];

	for (; *pairs != NULL; pairs++)
		ck_assert_msg(config_set_pair(&cfg, *pairs, err, sizeof err) == 0, "%s: %s", *pairs, err);
	cors_policy_free(pol);
	ck_assert_msg(cors_policy_new(&cfg, &pol, err, sizeof err) == 0, "%s", err);
}

/* The serialised answer, NUL-terminated. */
static const char *answer(void)
{
	response_serialize(&resp, false, &out);
	buf_putc(&out, '\0');
	return out.data;
}

static const char *const listed[] = {
	"cors.allow_origins=https://app.example.com, http://localhost:3000", NULL };

START_TEST(test_off_is_null)
{
	char err[CONFIG_ERR_SIZE];

	ck_assert_int_eq(cors_policy_new(&cfg, &pol, err, sizeof err), 0);
	ck_assert_ptr_null(pol);
	ck_assert(!cors_origin_allowed(NULL, "https://app.example.com"));
	req.method = HTTP_OPTIONS;
	req.origin = "https://app.example.com";
	req.cors_request_method = "GET";
	ck_assert(!cors_is_preflight(NULL, &req));
	response_error(&resp, 404, "Not Found");
	cors_decorate(NULL, &req, &resp);
	ck_assert_ptr_null(strstr(answer(), "Access-Control"));
	ck_assert_ptr_null(strstr(answer(), "Vary"));
}
END_TEST

START_TEST(test_policy_compares)
{
	policy(listed);
	ck_assert(cors_origin_allowed(pol, "https://app.example.com"));
	ck_assert(cors_origin_allowed(pol, "https://APP.example.com:443"));
	ck_assert(cors_origin_allowed(pol, "http://localhost:3000"));
	ck_assert(!cors_origin_allowed(pol, "http://localhost:3001"));
	ck_assert(!cors_origin_allowed(pol, "http://app.example.com"));
	ck_assert(!cors_origin_allowed(pol, "https://app.example.com.evil.example"));
	ck_assert(!cors_origin_allowed(pol, "https://app.example.com/"));
	ck_assert(!cors_origin_allowed(pol, "null"));
	ck_assert(!cors_origin_allowed(pol, NULL));
	ck_assert(cors_method_allowed(pol, "PATCH"));
	ck_assert(!cors_method_allowed(pol, "patch"));
	ck_assert(!cors_method_allowed(pol, "PUT"));
	ck_assert(cors_headers_allowed(pol, NULL));
	ck_assert(cors_headers_allowed(pol, ""));
	ck_assert(cors_headers_allowed(pol, "authorization,content-type , IF-MATCH,idempotency-key"));
	ck_assert(cors_headers_allowed(pol, "accept-language")); /* safelisted */
	ck_assert(!cors_headers_allowed(pol, "authorization, x-secret"));
	ck_assert(!cors_headers_allowed(pol, "authorizationx"));
}
END_TEST

START_TEST(test_methods_configured_upper_cased)
{
	static const char *const pairs[] = { "cors.allow_origins=http://a", "cors.allow_methods=get, Post", NULL };

	policy(pairs);
	ck_assert(cors_method_allowed(pol, "GET"));
	ck_assert(cors_method_allowed(pol, "POST"));
	ck_assert(!cors_method_allowed(pol, "DELETE"));
}
END_TEST

static void preflight(const char *origin, const char *method, const char *headers)
{
	req.method = HTTP_OPTIONS;
	req.origin = origin;
	req.cors_request_method = method;
	req.cors_request_headers = headers;
	ck_assert(cors_is_preflight(pol, &req));
	response_reset(&resp);
	cors_preflight(pol, &req, &resp);
}

START_TEST(test_preflight_allowed)
{
	const char *a;

	policy(listed);
	preflight("http://localhost:3000", "PATCH", "content-type,if-match");
	ck_assert_int_eq(resp.status, 204);
	a = answer();
	ck_assert_ptr_nonnull(strstr(a, "\r\nAccess-Control-Allow-Origin: http://localhost:3000\r\n"));
	ck_assert_ptr_nonnull(strstr(a, "\r\nAccess-Control-Allow-Methods: GET, HEAD, POST, PATCH, DELETE\r\n"));
	/* The requested ones, as configured: Content-Type comes from the configured list. */
	ck_assert_ptr_nonnull(strstr(a, "\r\nAccess-Control-Allow-Headers: Content-Type, If-Match\r\n"));
	ck_assert_ptr_nonnull(strstr(a, "\r\nAccess-Control-Max-Age: 600\r\n"));
	ck_assert_ptr_nonnull(strstr(a, "\r\nVary: Origin\r\n"));
	ck_assert_ptr_null(strstr(a, "Access-Control-Allow-Credentials"));
	ck_assert_ptr_null(strstr(a, "Content-Length: 1")); /* no body */

	/* Nothing asked: the whole list, safelisted names included. */
	preflight("https://app.example.com", "GET", NULL);
	ck_assert_int_eq(resp.status, 204);
	ck_assert_ptr_nonnull(strstr(answer(), "\r\nAccess-Control-Allow-Headers: Authorization, Content-Type, "
				     "If-Match, If-None-Match, Idempotency-Key, Accept, Accept-Language, "
				     "Content-Language\r\n"));
}
END_TEST

START_TEST(test_preflight_credentials_and_star)
{
	static const char *const creds[] = { "cors.allow_credentials=true", "cors.max_age=0", NULL };
	static const char *const star[] = { "cors.allow_credentials=false", "cors.allow_origins=*", NULL };
	const char *a;

	policy(listed);
	policy(creds);
	preflight("https://app.example.com", "DELETE", NULL);
	a = answer();
	ck_assert_ptr_nonnull(strstr(a, "\r\nAccess-Control-Allow-Origin: https://app.example.com\r\n"));
	ck_assert_ptr_nonnull(strstr(a, "\r\nAccess-Control-Allow-Credentials: true\r\n"));
	ck_assert_ptr_nonnull(strstr(a, "\r\nAccess-Control-Max-Age: 0\r\n"));

	policy(star);
	preflight("https://anything.example", "POST", "authorization");
	ck_assert_int_eq(resp.status, 204);
	a = answer();
	ck_assert_ptr_nonnull(strstr(a, "\r\nAccess-Control-Allow-Origin: *\r\n"));
	ck_assert_ptr_null(strstr(a, "Access-Control-Allow-Credentials"));
}
END_TEST

/* The detail of the refused preflight, and that no allow header went out. */
static void refused(const char *detail)
{
	const char *a;
	char body[128];

	ck_assert_int_eq(resp.status, 400);
	a = answer();
	snprintf(body, sizeof body, "{\"detail\":\"%s\"}", detail);
	ck_assert_msg(strstr(a, body) != NULL, "%s", a);
	ck_assert_ptr_null(strstr(a, "Access-Control-"));
	ck_assert_ptr_nonnull(strstr(a, "\r\nVary: Origin\r\n"));
}

START_TEST(test_preflight_refused)
{
	policy(listed);
	preflight("https://evil.example", "GET", NULL);
	refused("Disallowed CORS origin");
	preflight("https://app.example.com", "PUT", NULL);
	refused("Disallowed CORS method");
	preflight("https://app.example.com", "GET", "authorization, x-secret");
	refused("Disallowed CORS headers");
	preflight("https://evil.example", "PUT", "x-secret");
	refused("Disallowed CORS origin, method, headers");
	preflight("https://evil.example", "GET", "x-secret");
	refused("Disallowed CORS origin, headers");
	preflight("https://app.example.com", "PUT", "x-secret");
	refused("Disallowed CORS method, headers");
	/* A hostile Origin is never echoed. */
	preflight("https://app.example.com\r\nSet-Cookie: x=1", "GET", NULL);
	refused("Disallowed CORS origin");
}
END_TEST

START_TEST(test_not_a_preflight)
{
	policy(listed);
	req.method = HTTP_OPTIONS;
	req.origin = "https://app.example.com";
	ck_assert(!cors_is_preflight(pol, &req)); /* no Access-Control-Request-Method */
	req.cors_request_method = "GET";
	req.origin = NULL;
	ck_assert(!cors_is_preflight(pol, &req));
	req.origin = "https://app.example.com";
	req.method = HTTP_GET;
	ck_assert(!cors_is_preflight(pol, &req));
	req.method = HTTP_OPTIONS;
	ck_assert(cors_is_preflight(pol, &req));
}
END_TEST

START_TEST(test_decorate)
{
	static const char *const creds[] = { "cors.allow_credentials=true", NULL };
	static const char *const star[] = { "cors.allow_credentials=false", "cors.allow_origins=*", NULL };
	const char *a;

	policy(listed);
	req.method = HTTP_GET;
	req.origin = "https://app.example.com";
	response_error(&resp, 401, "Not authenticated");
	cors_decorate(pol, &req, &resp);
	a = answer();
	ck_assert_ptr_nonnull(strstr(a, "\r\nAccess-Control-Allow-Origin: https://app.example.com\r\n"));
	ck_assert_ptr_nonnull(strstr(a, "\r\nAccess-Control-Expose-Headers: ETag, Location, Link, "
				     "Idempotent-Replayed\r\n"));
	ck_assert_ptr_nonnull(strstr(a, "\r\nVary: Origin\r\n"));
	ck_assert_ptr_null(strstr(a, "Access-Control-Allow-Credentials"));
	ck_assert_ptr_null(strstr(a, "Access-Control-Allow-Methods")); /* preflight only */

	/* Refused or absent: Vary only, for the answer depends on the Origin. */
	req.origin = "https://evil.example";
	response_reset(&resp);
	response_error(&resp, 404, "Not Found");
	cors_decorate(pol, &req, &resp);
	a = answer();
	ck_assert_ptr_null(strstr(a, "Access-Control"));
	ck_assert_ptr_nonnull(strstr(a, "\r\nVary: Origin\r\n"));
	req.origin = NULL;
	response_reset(&resp);
	cors_decorate(pol, &req, &resp);
	ck_assert_ptr_null(strstr(answer(), "Access-Control"));

	policy(creds);
	req.origin = "http://localhost:3000";
	response_reset(&resp);
	cors_decorate(pol, &req, &resp);
	ck_assert_ptr_nonnull(strstr(answer(), "\r\nAccess-Control-Allow-Credentials: true\r\n"));

	policy(star);
	req.origin = "https://any.example";
	response_reset(&resp);
	cors_decorate(pol, &req, &resp);
	a = answer();
	ck_assert_ptr_nonnull(strstr(a, "\r\nAccess-Control-Allow-Origin: *\r\n"));
	ck_assert_ptr_null(strstr(a, "Access-Control-Allow-Credentials"));
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("cors");
	TCase *pure = unit_tcase(s, "pure");
	TCase *pol_tc = unit_tcase(s, "policy");

	unit_add_tests(pure, test_origin_canon, test_check_names_every_problem, test_config_finish_refuses);
	tcase_add_checked_fixture(pol_tc, setup, teardown);
	unit_add_tests(pol_tc, test_off_is_null, test_policy_compares, test_methods_configured_upper_cased,
		       test_preflight_allowed, test_preflight_credentials_and_star, test_preflight_refused,
		       test_not_a_preflight, test_decorate);
	return s;
}
