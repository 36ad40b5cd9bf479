/* Unit tests for idem_key.c: which Idempotency-Keys are taken, and what a fingerprint covers. */
#include <stdbool.h>
#include <string.h>

#include "idem_key.h"
#include "unit.h"

static bool key_ok(const char *key)
{
	const char *why = NULL;
	int rc = idem_key_check(key, &why);

	ck_assert(rc == 0 || (why != NULL && why[0] != '\0'));
	return rc == 0;
}

START_TEST(test_key_check)
{
	char key[300];

	ck_assert(key_ok("a"));
	ck_assert(key_ok("8e03978e-40d5-43e8-bc93-6894a57f9324"));
	ck_assert(key_ok("!~\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}"));
	memset(key, 'k', 255);
	key[255] = '\0';
	ck_assert(key_ok(key));
	key[255] = 'k';
	key[256] = '\0';
	ck_assert(!key_ok(key)); /* 256 */
	ck_assert(!key_ok(""));
	ck_assert(!key_ok("with space"));
	ck_assert(!key_ok("tab\there"));
	ck_assert(!key_ok("bell\a"));
	ck_assert(!key_ok("del\x7f"));
	ck_assert(!key_ok("caf\xc3\xa9"));
}
END_TEST

static void fp(const char *method, const char *target, const char *body, const char *if_match,
	       const char *if_none_match, unsigned char out[IDEM_FINGERPRINT_SIZE])
{
	json_t *json = NULL;
	struct idem_request r;

	if (body != NULL) {
		json = json_loads(body, 0, NULL);
		ck_assert_ptr_nonnull(json);
	}
	r.method = method;
	r.target = target;
	r.body = json;
	r.if_match = if_match;
	r.if_none_match = if_none_match;
	ck_assert_int_eq(idem_fingerprint(&r, out), 0);
	json_decref(json);
}

static bool same(const unsigned char *a, const unsigned char *b)
{
	return memcmp(a, b, IDEM_FINGERPRINT_SIZE) == 0;
}

START_TEST(test_fingerprint_canonical_body)
{
	unsigned char a[IDEM_FINGERPRINT_SIZE], b[IDEM_FINGERPRINT_SIZE];

	/* Spaces and key order do not make another request. */
	fp("POST", "/tasks/", "{\"title\": \"x\", \"is_completed\": false}", NULL, NULL, a);
	fp("POST", "/tasks/", "{\"is_completed\":false,\"title\":\"x\"}", NULL, NULL, b);
	ck_assert(same(a, b));
	/* Escapes that mean the same string are the same too. */
	fp("POST", "/tasks/", "{\"title\": \"\\u0078\"}", NULL, NULL, a);
	fp("POST", "/tasks/", "{\"title\": \"x\"}", NULL, NULL, b);
	ck_assert(same(a, b));
	/* A value changed is another request. */
	fp("POST", "/tasks/", "{\"title\": \"y\"}", NULL, NULL, a);
	ck_assert(!same(a, b));
}
END_TEST

START_TEST(test_fingerprint_fields)
{
	unsigned char base[IDEM_FINGERPRINT_SIZE], other[IDEM_FINGERPRINT_SIZE];

	fp("PATCH", "/tasks/7", "{\"title\": \"x\"}", NULL, NULL, base);
	fp("PATCH", "/tasks/7", "{\"title\": \"x\"}", NULL, NULL, other);
	ck_assert(same(base, other));
	fp("DELETE", "/tasks/7", "{\"title\": \"x\"}", NULL, NULL, other);
	ck_assert(!same(base, other));
	fp("PATCH", "/tasks/8", "{\"title\": \"x\"}", NULL, NULL, other);
	ck_assert(!same(base, other));
	fp("PATCH", "/tasks/7", NULL, NULL, NULL, other);
	ck_assert(!same(base, other));
	fp("PATCH", "/tasks/7", "{\"title\": \"x\"}", "\"1\"", NULL, other);
	ck_assert(!same(base, other));
	fp("PATCH", "/tasks/7", "{\"title\": \"x\"}", NULL, "\"1\"", other);
	ck_assert(!same(base, other));
	/* The same text in If-Match or in If-None-Match is not the same request. */
	fp("PATCH", "/tasks/7", "{\"title\": \"x\"}", "\"1\"", NULL, base);
	ck_assert(!same(base, other));
	/* An empty precondition is not an absent one. */
	fp("PATCH", "/tasks/7", "{\"title\": \"x\"}", "", NULL, other);
	fp("PATCH", "/tasks/7", "{\"title\": \"x\"}", NULL, NULL, base);
	ck_assert(!same(base, other));
}
END_TEST

START_TEST(test_fingerprint_no_ambiguity)
{
	unsigned char a[IDEM_FINGERPRINT_SIZE], b[IDEM_FINGERPRINT_SIZE];

	/* Fields are length-prefixed: moving bytes from one field to the next changes the hash. */
	fp("POST", "/tasks/1", NULL, NULL, NULL, a);
	fp("POST/", "tasks/1", NULL, NULL, NULL, b);
	ck_assert(!same(a, b));
	fp("DELETE", "/tasks/1", NULL, "\"2\"", NULL, a);
	fp("DELETE", "/tasks/1", NULL, NULL, "\"2\"", b);
	ck_assert(!same(a, b));
}
END_TEST

Suite *unit_suite(void)
{
	return unit_suite_of("idem_key", NULL, NULL, test_key_check, test_fingerprint_canonical_body,
			     test_fingerprint_fields, test_fingerprint_no_ambiguity);
}
