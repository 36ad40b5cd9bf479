/* jsonw.c writes what jansson's compact dump writes, byte for byte; tasks serialise right. */
#include <jansson.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"
#include "tasks.h"
#include "unit.h"

static void assert_same_as_jansson(const char *s, size_t len)
{
	struct buf b = BUF_INIT;
	json_t *j = json_stringn(s, len);
	char *want;

	ck_assert_ptr_nonnull(j);
	want = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
	jsonw_string(&b, s, len);
	ck_assert_uint_eq(b.len, strlen(want));
	ck_assert_mem_eq(b.data, want, b.len);
	free(want);
	json_decref(j);
	buf_release(&b);
}

START_TEST(test_strings_match_jansson)
{
	static const char *const cases[] = {
		"", "plain", "quote \" backslash \\ slash /", "tab\tnew\nline\rcr\bbs\fff",
		"\x7f del", "caf\xc3\xa9", "\xf0\x9f\x98\x80 emoji", "\xe2\x80\xa8 line separator",
		"\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d RTL", "e\xcc\x81 combining", "x'); DROP TABLE tasks;--",
	};
	char controls[32];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		assert_same_as_jansson(cases[i], strlen(cases[i]));
	for (int c = 1; c < 32; c++)
		controls[c - 1] = (char)c;
	assert_same_as_jansson(controls, 31);
	assert_same_as_jansson("a\0b", 3); /* NUL inside: \u0000 */
}
END_TEST

START_TEST(test_uints)
{
	static const uint64_t values[] = { 0, 7, 10, 99, 100, 12345678901234ULL, UINT64_MAX };
	char want[32];

	for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
		struct buf b = BUF_INIT;

		snprintf(want, sizeof want, "%llu", (unsigned long long)values[i]);
		jsonw_uint(&b, values[i]);
		ck_assert_str_eq(b.data, want);
		buf_release(&b);
	}
}
END_TEST

START_TEST(test_task_json)
{
	struct task t;
	struct buf b = BUF_INIT;
	json_error_t err;
	json_t *j;

	memset(&t, 0, sizeof t);
	t.id = 42;
	strcpy(t.title, "say \"hi\"\t\xf0\x9f\x91\x8b");
	t.title_len = strlen(t.title);
	t.description_null = true;
	t.is_completed = true;
	strcpy(t.created_at, "2026-11-25T12:00:00Z");
	strcpy(t.updated_at, "2026-11-25T12:00:01Z");
	task_write_json(&b, &t);
	j = json_loadb(b.data, b.len, 0, &err);
	ck_assert_msg(j != NULL, "not JSON: %s (%s)", err.text, b.data);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "id")), 42);
	ck_assert_str_eq(json_string_value(json_object_get(j, "title")), t.title);
	ck_assert(json_is_null(json_object_get(j, "description")));
	ck_assert(json_is_true(json_object_get(j, "is_completed")));
	ck_assert_str_eq(json_string_value(json_object_get(j, "created_at")), t.created_at);
	ck_assert_str_eq(json_string_value(json_object_get(j, "updated_at")), t.updated_at);
	ck_assert_uint_eq(json_object_size(j), 6);
	/* the field order of the seed's response model */
	ck_assert_ptr_nonnull(strstr(b.data, "{\"id\":42,\"title\":"));
	json_decref(j);

	buf_reset(&b);
	t.description_null = false;
	strcpy(t.description, "d");
	t.description_len = 1;
	t.is_completed = false;
	task_write_json(&b, &t);
	ck_assert_ptr_nonnull(strstr(b.data, "\"description\":\"d\",\"is_completed\":false,"));
	buf_release(&b);
}
END_TEST

/* A length whose worst-case escaping passes SIZE_MAX takes the OOM exit, unread. */
START_TEST(test_string_length_that_would_wrap_aborts)
{
	struct buf b = BUF_INIT;

	jsonw_string(&b, "x", SIZE_MAX / 6 + 1);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("jsonw");
	TCase *tc = unit_tcase(s, "core");

	unit_add_tests(tc, test_strings_match_jansson, test_uints, test_task_json);
	tcase_add_test_raise_signal(tc, test_string_length_that_would_wrap_aborts, SIGABRT);
	return s;
}
