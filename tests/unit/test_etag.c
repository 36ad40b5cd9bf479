/* Unit tests for etag.c: If-Match / If-None-Match lists and RFC 9110's two comparisons. */
#include <string.h>

#include "etag.h"
#include "unit.h"

/* Parses field and compares it with version under how. */
static bool matches(const char *field, unsigned version, enum etag_compare how)
{
	struct etag_list list;

	etag_parse_list(field, &list);
	return etag_list_matches(&list, version, how);
}

static bool strong(const char *field, unsigned version)
{
	return matches(field, version, ETAG_STRONG);
}

static bool weak(const char *field, unsigned version)
{
	return matches(field, version, ETAG_WEAK);
}

START_TEST(test_format)
{
	char text[ETAG_TEXT_SIZE];

	etag_format(7, text, sizeof text);
	ck_assert_str_eq(text, "\"7\"");
	etag_format(4294967295u, text, sizeof text);
	ck_assert_str_eq(text, "\"4294967295\"");
}
END_TEST

START_TEST(test_parse_lists)
{
	struct etag_list l;

	ck_assert_int_eq(etag_parse_list("\"1\"", &l), 0);
	ck_assert(l.valid && !l.any);
	ck_assert_uint_eq(l.n, 1);
	ck_assert(!l.tags[0].weak);
	ck_assert_uint_eq(l.tags[0].len, 1);
	ck_assert_int_eq(memcmp(l.tags[0].opaque, "1", 1), 0);

	ck_assert_int_eq(etag_parse_list(" \"a\" ,W/\"b\",\t\"\" ", &l), 0);
	ck_assert_uint_eq(l.n, 3);
	ck_assert(!l.tags[0].weak && l.tags[1].weak && !l.tags[2].weak);
	ck_assert_uint_eq(l.tags[2].len, 0); /* "" is a valid (empty) opaque tag */

	ck_assert_int_eq(etag_parse_list("*", &l), 0);
	ck_assert(l.valid && l.any);
	ck_assert_int_eq(etag_parse_list("  *  ", &l), 0);
	ck_assert(l.any);

	/* Empty list elements are allowed and ignored (RFC 9110 §5.6.1). */
	ck_assert_int_eq(etag_parse_list(", \"1\",, \"2\" ,", &l), 0);
	ck_assert_uint_eq(l.n, 2);
	ck_assert_int_eq(etag_parse_list(NULL, &l), 0);
	ck_assert(l.valid && l.n == 0);
	ck_assert_int_eq(etag_parse_list("\"x\xc3\xa9\"", &l), 0); /* obs-text is etagc */
}
END_TEST

START_TEST(test_parse_rejects)
{
	static const char *const invalid[] = {
		"\"1\"garbage", "\"1\" \"2\"", "1", "\"1", "W/1", "w/\"1\"", "W /\"1\"",
		"\"a b\"", "\"a\"b\"", "*, \"1\"", "\"1\", *", "**", "\"1\";x", "\"\x01\"", "\"\x7f\"",
	};
	struct etag_list l;

	for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
		ck_assert_msg(etag_parse_list(invalid[i], &l) == -1, "accepted [%s]", invalid[i]);
		ck_assert(!l.valid && !l.any && l.n == 0);
		/* An invalid list matches nothing, under either comparison. */
		ck_assert(!etag_list_matches(&l, 1, ETAG_STRONG));
		ck_assert(!etag_list_matches(&l, 1, ETAG_WEAK));
	}
}
END_TEST

START_TEST(test_list_too_long_is_invalid)
{
	char field[ETAG_MAX_TAGS * 8 + 8] = "";
	struct etag_list l;

	for (int i = 0; i < ETAG_MAX_TAGS; i++)
		strcat(field, i ? ", \"9\"" : "\"9\"");
	ck_assert_int_eq(etag_parse_list(field, &l), 0);
	ck_assert_uint_eq(l.n, ETAG_MAX_TAGS);
	strcat(field, ", \"1\"");
	ck_assert_int_eq(etag_parse_list(field, &l), -1);
	ck_assert(!strong(field, 1)); /* the tag past the cap is not silently dropped into a match */
}
END_TEST

/* If-Match: strong comparison. */
START_TEST(test_strong_comparison)
{
	ck_assert(strong("\"1\"", 1));
	ck_assert(!strong("\"1\"", 2));
	ck_assert(!strong("W/\"1\"", 1)); /* a weak tag never matches strongly */
	ck_assert(!strong("\"01\"", 1));  /* "01" is not "1" */
	ck_assert(!strong("\"+1\"", 1));
	ck_assert(!strong("\" 1\"", 1));
	ck_assert(!strong("\"1\"garbage", 1));
	ck_assert(!strong("\"1\" garbage", 1));
	ck_assert(strong("\"a\", \"1\"", 1));
	ck_assert(strong("W/\"1\", \"1\"", 1));
	ck_assert(!strong("W/\"1\", \"2\"", 1));
	ck_assert(strong("*", 1));
	ck_assert(strong("\"0\"", 0));
	ck_assert(!strong("\"00\"", 0));
	ck_assert(strong("\"4294967295\"", 4294967295u));
	ck_assert(!strong("\"4294967296\"", 0)); /* no wrap-around */
	ck_assert(!strong("\"99999999999\"", 1409065407u));
	ck_assert(!strong("", 1));
}
END_TEST

/* If-None-Match: weak comparison. */
START_TEST(test_weak_comparison)
{
	ck_assert(weak("\"1\"", 1));
	ck_assert(weak("W/\"1\"", 1));
	ck_assert(!weak("W/\"2\"", 1));
	ck_assert(!weak("\"01\"", 1));
	ck_assert(weak("\"7\", \"1\", \"9\"", 1));
	ck_assert(weak("*", 1));
	ck_assert(!weak("\"1\"garbage", 1));
	ck_assert(!weak("", 1));
}
END_TEST

START_TEST(test_version_of_a_tag)
{
	struct etag_list l;
	unsigned v = 0;

	etag_parse_list("\"42\", W/\"42\", \"042\", \"x\"", &l);
	ck_assert_uint_eq(l.n, 4);
	ck_assert_int_eq(etag_version(&l.tags[0], &v), 0);
	ck_assert_uint_eq(v, 42);
	ck_assert_int_eq(etag_version(&l.tags[1], &v), -1);
	ck_assert_int_eq(etag_version(&l.tags[2], &v), -1);
	ck_assert_int_eq(etag_version(&l.tags[3], &v), -1);
}
END_TEST

Suite *unit_suite(void)
{
	return unit_suite_of("etag", NULL, NULL, test_format, test_parse_lists, test_parse_rejects,
			     test_list_too_long_is_invalid, test_strong_comparison,
			     test_weak_comparison, test_version_of_a_tag);
}
