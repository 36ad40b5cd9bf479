/* Unit tests for utf8.c: echoed input is valid UTF-8, cut on character boundaries. */
#include <jansson.h>
#include <string.h>

#include "utf8.h"
#include "unit.h"

START_TEST(test_sequence_lengths)
{
	ck_assert_uint_eq(utf8_sequence_length("a", 1), 1);
	ck_assert_uint_eq(utf8_sequence_length("\xc3\xa9", 2), 2);
	ck_assert_uint_eq(utf8_sequence_length("\xe2\x82\xac", 3), 3);
	ck_assert_uint_eq(utf8_sequence_length("\xf0\x9f\x8e\x89", 4), 4);
	ck_assert_uint_eq(utf8_sequence_length("\xc3", 1), 0);             /* cut */
	ck_assert_uint_eq(utf8_sequence_length("\xf0\x9f\x8e", 3), 0);     /* cut */
	ck_assert_uint_eq(utf8_sequence_length("\x80", 1), 0);             /* lone continuation */
	ck_assert_uint_eq(utf8_sequence_length("\xff", 1), 0);
	ck_assert_uint_eq(utf8_sequence_length("\xfe", 1), 0);
	ck_assert_uint_eq(utf8_sequence_length("\xc0\xaf", 2), 0);         /* overlong '/' */
	ck_assert_uint_eq(utf8_sequence_length("\xe0\x80\xaf", 3), 0);     /* overlong */
	ck_assert_uint_eq(utf8_sequence_length("\xed\xa0\x80", 3), 0);     /* surrogate U+D800 */
	ck_assert_uint_eq(utf8_sequence_length("\xf4\x90\x80\x80", 4), 0); /* above U+10FFFF */
	ck_assert_uint_eq(utf8_sequence_length("\xf4\x8f\xbf\xbf", 4), 4); /* U+10FFFF */
	ck_assert_uint_eq(utf8_sequence_length("", 0), 0);
	ck_assert(utf8_is_valid("h\xc3\xa9llo", 6));
	ck_assert(!utf8_is_valid("a\0b", 3));
	ck_assert(!utf8_is_valid("text/\xff\xfe", 7));
}
END_TEST

START_TEST(test_invalid_bytes_replaced)
{
	struct buf b = BUF_INIT;

	ck_assert(utf8_append_clean(&b, "text/\xff\xfe", 7, 100));
	ck_assert_str_eq(b.data, "text/" UTF8_REPLACEMENT UTF8_REPLACEMENT);
	buf_reset(&b);
	ck_assert(utf8_append_clean(&b, "a\0b\xc3", 4, 100));
	ck_assert_str_eq(b.data, "a" UTF8_REPLACEMENT "b" UTF8_REPLACEMENT);
	buf_reset(&b);
	ck_assert(utf8_append_clean(&b, "\xed\xa0\x80", 3, 100)); /* each byte of a surrogate */
	ck_assert_str_eq(b.data, UTF8_REPLACEMENT UTF8_REPLACEMENT UTF8_REPLACEMENT);
	buf_release(&b);
}
END_TEST

START_TEST(test_cut_on_boundaries)
{
	struct buf b = BUF_INIT;
	/* "aé€🎉": 1 + 2 + 3 + 4 bytes */
	const char *s = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x8e\x89";
	static const size_t expect[] = { 0, 1, 1, 3, 3, 3, 6, 6, 6, 6, 10 };

	for (size_t max = 0; max <= 10; max++) {
		buf_reset(&b);
		ck_assert(utf8_append_clean(&b, s, 10, max) == (max == 10));
		ck_assert_uint_eq(b.len, expect[max]);
		ck_assert(utf8_is_valid(b.data, b.len));
	}
	buf_release(&b);
}
END_TEST

START_TEST(test_copy_marks_the_cut)
{
	char out[8];
	char big[81];
	char text[200];

	ck_assert(utf8_copy_clean(out, sizeof out, "short", 5));
	ck_assert_str_eq(out, "short");
	ck_assert(!utf8_copy_clean(out, sizeof out, "abcdefghij", 10));
	ck_assert_str_eq(out, "abcd...");
	/* The cut lands before a 2-byte character that would straddle it. */
	ck_assert(!utf8_copy_clean(out, sizeof out, "abc\xc3\xa9xyz", 8));
	ck_assert_str_eq(out, "abc...");
	ck_assert(!utf8_copy_clean(out, 3, "abcdef", 6)); /* no room for the mark: cut only */
	ck_assert_str_eq(out, "ab");
	ck_assert(utf8_copy_clean(out, 1, "", 0));
	ck_assert_str_eq(out, "");

	/* The case: a multi-byte character at byte 80 of a Content-Type. */
	memset(text, 'x', 79);
	memcpy(text + 79, "\xc3\xa9\xc3\xa9", 5);
	ck_assert(!utf8_copy_clean(big, sizeof big, text, 84));
	ck_assert(utf8_is_valid(big, strlen(big)));
	{
		json_t *j = json_string(big);

		ck_assert_ptr_nonnull(j); /* jansson takes it: no 500 */
		json_decref(j);
	}
}
END_TEST

START_TEST(test_cut_point)
{
	const char *s = "ab\xe2\x82\xac" "cd"; /* "ab€cd" */

	ck_assert_uint_eq(utf8_cut(s, 7, 10), 7);
	ck_assert_uint_eq(utf8_cut(s, 7, 5), 5);
	ck_assert_uint_eq(utf8_cut(s, 7, 4), 2); /* inside the euro sign: before it */
	ck_assert_uint_eq(utf8_cut(s, 7, 3), 2);
	ck_assert_uint_eq(utf8_cut(s, 7, 2), 2);
	ck_assert_uint_eq(utf8_cut("\x80\x80\x80\x80\x80", 5, 4), 4); /* no start byte near: max */
}
END_TEST

Suite *unit_suite(void)
{
	return unit_suite_of("utf8", NULL, NULL, test_sequence_lengths, test_invalid_bytes_replaced,
			     test_cut_on_boundaries, test_copy_marks_the_cut, test_cut_point);
}
