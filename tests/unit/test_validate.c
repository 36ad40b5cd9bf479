/* Unit tests for validate.c: integer parameters and the 422 detail shape. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "validate.h"
#include "unit.h"

START_TEST(test_uint_accepts)
{
	struct validation v;
	uint64_t out = 7;

	validation_init(&v);
	ck_assert_int_eq(validate_uint(&v, "query", "skip", NULL, 0, 100, &out), 0);
	ck_assert_uint_eq(out, 7); /* absent: default kept */
	ck_assert_int_eq(validate_uint(&v, "query", "skip", "0", 0, 100, &out), 0);
	ck_assert_uint_eq(out, 0);
	ck_assert_int_eq(validate_uint(&v, "query", "skip", "+42", 0, 100, &out), 0);
	ck_assert_uint_eq(out, 42);
	ck_assert_int_eq(validate_uint(&v, "query", "skip", "18446744073709551615", 0, UINT64_MAX, &out), 0);
	ck_assert_uint_eq(out, UINT64_MAX);
	ck_assert_uint_eq(v.n, 0);
}
END_TEST

START_TEST(test_uint_rejects)
{
	static const struct {
		const char *text;
		const char *type;
	} cases[] = {
		{ "", "int_parsing" },
		{ "abc", "int_parsing" },
		{ "1.5", "int_parsing" },
		{ "1e3", "int_parsing" },
		{ " 1", "int_parsing" },
		{ "-", "int_parsing" },
		{ "-1", "greater_than_equal" },
		{ "0", "greater_than_equal" }, /* min is 1 below */
		{ "101", "less_than_equal" },
		{ "99999999999999999999", "less_than_equal" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct validation v;
		uint64_t out = 5;

		validation_init(&v);
		ck_assert_int_eq(validate_uint(&v, "query", "limit", cases[i].text, 1, 100, &out), -1);
		ck_assert_uint_eq(out, 5);
		ck_assert_uint_eq(v.n, 1);
		ck_assert_str_eq(v.items[0].type, cases[i].type);
		ck_assert_str_eq(v.items[0].name, "limit");
		validation_release(&v);
	}
}
END_TEST

START_TEST(test_detail_shape_lists_every_problem)
{
	struct validation v;
	uint64_t out;
	json_t *j, *detail, *first;

	validation_init(&v);
	validate_uint(&v, "query", "skip", "x", 0, 10, &out);
	validate_uint(&v, "query", "limit", "-3", 1, 10, &out);
	j = validation_to_json(&v);
	detail = json_object_get(j, "detail");
	ck_assert(json_is_array(detail));
	ck_assert_uint_eq(json_array_size(detail), 2);
	first = json_array_get(detail, 0);
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(first, "loc"), 0)), "query");
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(first, "loc"), 1)), "skip");
	ck_assert_str_eq(json_string_value(json_object_get(first, "type")), "int_parsing");
	ck_assert_str_eq(json_string_value(json_object_get(first, "input")), "x");
	ck_assert_ptr_nonnull(json_string_value(json_object_get(first, "msg")));
	json_decref(j);
	validation_release(&v);
}
END_TEST

START_TEST(test_overflowing_list_is_bounded)
{
	struct validation v;

	validation_init(&v);
	for (int i = 0; i < VALIDATION_MAX + 5; i++)
		validation_add(&v, "body", "x", "t", NULL, "m%d", i);
	ck_assert_uint_eq(v.n, VALIDATION_MAX);
	validation_release(&v);
}

/* Every spelling pydantic v2 takes for a boolean, in the case forms a client may send. */
static const struct {
	const char *text;
	bool value;
	bool lax_only; /* the one-letter forms: refused by the strict rules */
} bool_words[] = {
	{ "true", true, false },  { "TRUE", true, false },  { "True", true, false },
	{ "1", true, false },     { "yes", true, false },   { "YES", true, false },
	{ "on", true, false },    { "On", true, false },    { "t", true, true },
	{ "T", true, true },      { "y", true, true },      { "Y", true, true },
	{ "false", false, false }, { "FALSE", false, false }, { "0", false, false },
	{ "no", false, false },   { "No", false, false },   { "off", false, false },
	{ "OFF", false, false },  { "f", false, true },     { "F", false, true },
	{ "n", false, true },     { "N", false, true },
};

/* Never a boolean, in either mode. */
static const char *const bool_refused[] = { "", "2", "-1", "00", "01", "1.0", "truee", "tru",
					    "maybe", "nope", "yess", " true", "true ", "ye", "of",
					    "null", "none" };

#define N_OF(a) (sizeof (a) / sizeof (a)[0])

START_TEST(test_bool_text)
{
	for (int strict = 0; strict <= 1; strict++) {
		enum validate_mode mode = strict ? VALIDATE_STRICT : VALIDATE_LAX;
		struct validation v;
		bool out;

		validation_init(&v);
		out = true;
		ck_assert_int_eq(validate_bool_text(&v, "query", "completed", NULL, mode, &out), 0);
		ck_assert(out); /* absent: default kept */
		for (size_t i = 0; i < N_OF(bool_words); i++) {
			bool expect_ok = !(strict && bool_words[i].lax_only);
			int rc;

			out = !bool_words[i].value;
			rc = validate_bool_text(&v, "query", "completed", bool_words[i].text, mode, &out);
			ck_assert_msg(rc == (expect_ok ? 0 : -1), "%s in mode %d: %d", bool_words[i].text, strict, rc);
			if (expect_ok)
				ck_assert_msg(out == bool_words[i].value, "%s read wrong", bool_words[i].text);
		}
		for (size_t i = 0; i < N_OF(bool_refused); i++)
			ck_assert_msg(validate_bool_text(&v, "query", "completed", bool_refused[i], mode, &out) == -1,
				      "'%s' taken in mode %d", bool_refused[i], strict);
		ck_assert_uint_gt(v.n, 0);
		/* A query value is always text: pydantic says bool_parsing, never bool_type. */
		for (size_t i = 0; i < v.n; i++) {
			ck_assert_str_eq(v.items[i].type, "bool_parsing");
			ck_assert_str_eq(v.items[i].msg, "Input should be a valid boolean, unable to interpret input");
			ck_assert_str_eq(v.items[i].where, "query");
			ck_assert(json_is_string(v.items[i].input));
		}
		validation_release(&v);
	}
}
END_TEST

/* One body value through validate_bool_json: 1 true, 0 false, else the problem type. */
static void check_bool_json(const char *json, enum validate_mode mode, const char *want)
{
	json_error_t err;
	json_t *value = json_loads(json, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
	struct validation v;
	bool out = false;
	int rc;

	ck_assert_msg(value != NULL, "bad test JSON %s: %s", json, err.text);
	validation_init(&v);
	rc = validate_bool_json(&v, "is_completed", value, mode, &out);
	if (strcmp(want, "true") == 0 || strcmp(want, "false") == 0) {
		ck_assert_msg(rc == 0 && v.n == 0, "%s refused in mode %d", json, mode);
		ck_assert_msg(out == (want[0] == 't'), "%s read as %d", json, out);
	} else {
		ck_assert_msg(rc == -1 && v.n == 1, "%s taken in mode %d", json, mode);
		ck_assert_str_eq(v.items[0].type, want);
		ck_assert_str_eq(v.items[0].where, "body");
		ck_assert_str_eq(v.items[0].name, "is_completed");
		ck_assert_str_eq(v.items[0].msg, strcmp(want, "bool_type") == 0
			? "Input should be a valid boolean"
			: "Input should be a valid boolean, unable to interpret input");
		ck_assert_msg(json_equal(v.items[0].input, value), "%s not echoed", json);
	}
	validation_release(&v);
	json_decref(value);
}

START_TEST(test_bool_json_lax)
{
	char json[32];

	for (size_t i = 0; i < N_OF(bool_words); i++) {
		snprintf(json, sizeof json, "\"%s\"", bool_words[i].text);
		check_bool_json(json, VALIDATE_LAX, bool_words[i].value ? "true" : "false");
	}
	for (size_t i = 0; i < N_OF(bool_refused); i++) {
		snprintf(json, sizeof json, "\"%s\"", bool_refused[i]);
		check_bool_json(json, VALIDATE_LAX, "bool_parsing");
	}
	check_bool_json("true", VALIDATE_LAX, "true");
	check_bool_json("false", VALIDATE_LAX, "false");
	check_bool_json("1", VALIDATE_LAX, "true");
	check_bool_json("0", VALIDATE_LAX, "false");
	check_bool_json("-0", VALIDATE_LAX, "false");
	/* Numbers other than 0/1 are read, then refused: bool_parsing. */
	check_bool_json("2", VALIDATE_LAX, "bool_parsing");
	check_bool_json("-1", VALIDATE_LAX, "bool_parsing");
	check_bool_json("9223372036854775807", VALIDATE_LAX, "bool_parsing");
	/* Whole floats count as their integer (pydantic's conversion table: 0.0, 1.0). */
	check_bool_json("1.0", VALIDATE_LAX, "true");
	check_bool_json("0.0", VALIDATE_LAX, "false");
	check_bool_json("-0.0", VALIDATE_LAX, "false");
	check_bool_json("1e0", VALIDATE_LAX, "true");
	check_bool_json("2.0", VALIDATE_LAX, "bool_parsing");
	/* A fraction, or a float past the 64-bit range, is no integer: bool_type. */
	check_bool_json("0.5", VALIDATE_LAX, "bool_type");
	check_bool_json("1.0000001", VALIDATE_LAX, "bool_type");
	check_bool_json("1e300", VALIDATE_LAX, "bool_type");
	check_bool_json("-1e300", VALIDATE_LAX, "bool_type");
	/* A NUL after a word is not that word. */
	check_bool_json("\"t\\u0000\"", VALIDATE_LAX, "bool_parsing");
	check_bool_json("null", VALIDATE_LAX, "bool_type");
	check_bool_json("[]", VALIDATE_LAX, "bool_type");
	check_bool_json("[true]", VALIDATE_LAX, "bool_type");
	check_bool_json("{}", VALIDATE_LAX, "bool_type");
}
END_TEST

START_TEST(test_bool_json_strict)
{
	static const char *const not_bool[] = { "1", "0", "1.0", "0.0", "2", "0.5", "\"true\"", "\"yes\"",
						"\"t\"", "\"1\"", "\"maybe\"", "null", "[]", "{}" };

	check_bool_json("true", VALIDATE_STRICT, "true");
	check_bool_json("false", VALIDATE_STRICT, "false");
	for (size_t i = 0; i < N_OF(not_bool); i++)
		check_bool_json(not_bool[i], VALIDATE_STRICT, "bool_type");
}
END_TEST

START_TEST(test_media_types)
{
	ck_assert_int_eq(validate_media_type(NULL), BODY_MEDIA_JSON);
	ck_assert_int_eq(validate_media_type("application/json"), BODY_MEDIA_JSON);
	ck_assert_int_eq(validate_media_type("Application/JSON; charset=UTF-8"), BODY_MEDIA_JSON);
	ck_assert_int_eq(validate_media_type("application/merge-patch+json"), BODY_MEDIA_MERGE_PATCH);
	ck_assert_int_eq(validate_media_type("application/jsonx"), BODY_MEDIA_OTHER);
	ck_assert_int_eq(validate_media_type("text/plain"), BODY_MEDIA_OTHER);
	ck_assert_int_eq(validate_media_type("application/x-www-form-urlencoded"), BODY_MEDIA_OTHER);
}
END_TEST

START_TEST(test_json_bodies)
{
	static const char *const invalid[] = {
		"{", "[1]", "5", "\"x\"", "null", "{\"a\":1,\"a\":2}", "{\"a\":\"\xff\"}", "{'a':1}",
	};
	struct validation v;
	char deep[200];
	json_t *ok;

	for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
		validation_init(&v);
		ck_assert_ptr_null(validate_json_object(&v, invalid[i], strlen(invalid[i])));
		ck_assert_uint_eq(v.n, 1);
		ck_assert_str_eq(v.items[0].type, "json_invalid");
		validation_release(&v);
	}
	validation_init(&v);
	ck_assert_ptr_null(validate_json_object(&v, "  \n", 3));
	ck_assert_str_eq(v.items[0].type, "missing");
	validation_release(&v);

	memset(deep, 0, sizeof deep);
	for (int i = 0; i < VALIDATE_MAX_JSON_DEPTH + 1; i++)
		strcat(deep, "[");
	ck_assert_uint_eq(validate_json_depth(deep, strlen(deep)), VALIDATE_MAX_JSON_DEPTH + 1);
	ck_assert_uint_eq(validate_json_depth("{\"a\":\"[[[[\"}", 12), 1);
	validation_init(&v);
	ck_assert_ptr_null(validate_json_object(&v, deep, strlen(deep)));
	ck_assert_str_eq(v.items[0].type, "json_invalid");
	validation_release(&v);

	validation_init(&v);
	ok = validate_json_object(&v, " {\"title\":\"x\"} ", 15);
	ck_assert_ptr_nonnull(ok);
	ck_assert_uint_eq(v.n, 0);
	json_decref(ok);
}
END_TEST

START_TEST(test_codepoints_and_blank)
{
	ck_assert_uint_eq(validate_utf8_codepoints("abc", 3), 3);
	ck_assert_uint_eq(validate_utf8_codepoints("\xc3\xa9\xf0\x9f\x98\x80", 6), 2);
	ck_assert(validate_utf8_is_blank("", 0));
	ck_assert(validate_utf8_is_blank(" \t\r\n", 4));
	ck_assert(validate_utf8_is_blank("\xe3\x80\x80\xc2\xa0", 5)); /* ideographic space, nbsp */
	ck_assert(!validate_utf8_is_blank(" a ", 3));
	ck_assert(!validate_utf8_is_blank("\xcc\x81", 2)); /* a lone combining mark is content */
}
END_TEST
END_TEST

/* Input echoed in a 422 (loc, msg, input) stays valid UTF-8, cut between characters. */
START_TEST(test_echoed_input_stays_utf8)
{
	struct validation v;
	char key[64];
	json_t *j, *item, *loc;
	const char *name;
	uint64_t out = 0;

	/* A body key with a 2-byte character across the 47-byte name limit. */
	memset(key, 'k', 46);
	strcpy(key + 46, "\xc3\xa9tail");
	validation_init(&v);
	validation_add(&v, "body", key, "extra_forbidden", NULL, "Extra inputs are not permitted");
	validate_uint(&v, "query", "skip", "1\xff\xfe", 0, 10, &out);
	validation_add(&v, "body", NULL, "json_invalid", NULL, "near '%s'", "\xe2\x82");
	j = validation_to_json(&v);
	ck_assert_ptr_nonnull(j);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "detail")), 3);
	item = json_array_get(json_object_get(j, "detail"), 0);
	loc = json_object_get(item, "loc");
	ck_assert_uint_eq(json_array_size(loc), 2); /* the key is still in loc */
	name = json_string_value(json_array_get(loc, 1));
	ck_assert_ptr_nonnull(name);
	ck_assert_uint_eq(strlen(name), 47);
	ck_assert_int_eq(strncmp(name, key, 44), 0);
	ck_assert_str_eq(name + 44, "...");
	item = json_array_get(json_object_get(j, "detail"), 1);
	ck_assert_str_eq(json_string_value(json_object_get(item, "input")), "1\xef\xbf\xbd\xef\xbf\xbd");
	item = json_array_get(json_object_get(j, "detail"), 2);
	ck_assert_str_eq(json_string_value(json_object_get(item, "msg")), "near '\xef\xbf\xbd\xef\xbf\xbd'");
	json_decref(j);
	validation_release(&v);
}
END_TEST

/* Body values echoed as "input" are bounded: long strings cut between characters, big containers left out. */
START_TEST(test_body_input_bounded)
{
	char text[3 * 1024];
	json_t *value, *copy;
	const char *s;

	for (size_t i = 0; i + 1 < sizeof text; i += 2)
		memcpy(text + i, "\xc3\xa9", 2);
	text[sizeof text - 1 - (sizeof text - 1) % 2] = '\0';
	value = json_string(text);
	copy = validate_input_copy(value);
	s = json_string_value(copy);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_le(strlen(s), VALIDATE_BODY_INPUT_MAX_BYTES);
	ck_assert_uint_ge(strlen(s), VALIDATE_BODY_INPUT_MAX_BYTES - 4);
	ck_assert_str_eq(s + strlen(s) - 3, "...");
	ck_assert_int_eq(memcmp(s, text, strlen(s) - 3), 0); /* whole characters only */
	json_decref(copy);
	json_decref(value);

	value = json_stringn(text, VALIDATE_BODY_INPUT_MAX_BYTES); /* at the bound: as is */
	copy = validate_input_copy(value);
	ck_assert(json_equal(copy, value));
	json_decref(copy);
	json_decref(value);

	value = json_array();
	for (int i = 0; i < 1000; i++)
		json_array_append_new(value, json_integer(i));
	ck_assert_ptr_null(validate_input_copy(value));
	json_decref(value);

	value = json_pack("{s:[i,i], s:b}", "a", 1, 2, "b", 1);
	copy = validate_input_copy(value);
	ck_assert(json_equal(copy, value));
	json_decref(copy);
	json_decref(value);
}
END_TEST

Suite *unit_suite(void)
{
	return unit_suite_of("validate", NULL, NULL, test_uint_accepts, test_uint_rejects,
			     test_detail_shape_lists_every_problem,
			     test_overflowing_list_is_bounded, test_bool_text,
			     test_bool_json_lax, test_bool_json_strict,
			     test_media_types, test_json_bodies,
			     test_codepoints_and_blank, test_echoed_input_stays_utf8,
			     test_body_input_bounded);
}
