/*
 * Unit tests for token.c: the format, that the checksum catches every change
 * of one character and every truncation, HMAC-SHA-256 against RFC 4231, and
 * the constant-time compare. Also token_cli_duration and the scopes text.
 */
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "token.h"
#include "token_cli.h"
#include "token_store.h"
#include "unit.h"

static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

START_TEST(test_format)
{
	char t[TOKEN_LEN + 1], u[TOKEN_LEN + 1], shown[TOKEN_DISPLAY_LEN + 1];

	ck_assert_int_eq(token_generate(t), 0);
	ck_assert_int_eq(strlen(t), 42);
	ck_assert_int_eq(TOKEN_LEN, 42);
	ck_assert(strncmp(t, "tka_", 4) == 0);
	for (size_t i = 4; i < TOKEN_LEN; i++)
		ck_assert_ptr_nonnull(strchr(alphabet, t[i]));
	ck_assert(token_well_formed(t, strlen(t)));
	/* >= 160 bits: 32 characters of 62 */
	ck_assert_int_ge(TOKEN_RANDOM_BITS, 160);
	ck_assert_int_eq(TOKEN_RANDOM_CHARS, 32);
	/* what stays secret after the displayable prefix is still >= 160 bits (5.95 bits a character) */
	ck_assert_int_ge((TOKEN_RANDOM_CHARS - TOKEN_SHOWN_CHARS) * 595 / 100, 160);
	token_display(t, shown);
	ck_assert_int_eq(strlen(shown), 8);
	ck_assert(strncmp(shown, t, 8) == 0);
	ck_assert_int_eq(token_generate(u), 0);
	ck_assert_str_ne(t, u);
}
END_TEST

START_TEST(test_every_character_is_used)
{
	char t[TOKEN_LEN + 1];
	int seen[256] = { 0 }, distinct = 0;

	for (int n = 0; n < 200; n++) {
		ck_assert_int_eq(token_generate(t), 0);
		for (size_t i = 4; i < 4 + TOKEN_RANDOM_CHARS; i++)
			seen[(unsigned char)t[i]]++;
	}
	for (int c = 0; c < 256; c++)
		distinct += seen[c] > 0;
	/* 6400 draws of 62 symbols: every symbol shows up (missing one has odds below 1e-40) */
	ck_assert_int_eq(distinct, 62);
}
END_TEST

START_TEST(test_checksum_catches_one_character)
{
	char t[TOKEN_LEN + 1], m[TOKEN_LEN + 1];

	for (int round = 0; round < 20; round++) {
		ck_assert_int_eq(token_generate(t), 0);
		for (size_t i = 0; i < TOKEN_LEN; i++) {
			for (const char *c = alphabet; *c; c++) {
				if (*c == t[i])
					continue;
				memcpy(m, t, sizeof m);
				m[i] = *c;
				ck_assert_msg(!token_well_formed(m, TOKEN_LEN), "%s accepted (position %zu)", m, i);
			}
			/* and characters outside the alphabet */
			memcpy(m, t, sizeof m);
			m[i] = '-';
			ck_assert(!token_well_formed(m, TOKEN_LEN));
			m[i] = '\0';
			ck_assert(!token_well_formed(m, TOKEN_LEN));
		}
	}
}
END_TEST

START_TEST(test_truncated_and_extended)
{
	char t[TOKEN_LEN + 2];

	ck_assert_int_eq(token_generate(t), 0);
	for (size_t len = 0; len < TOKEN_LEN; len++)
		ck_assert(!token_well_formed(t, len));
	t[TOKEN_LEN] = 'A';
	t[TOKEN_LEN + 1] = '\0';
	ck_assert(!token_well_formed(t, TOKEN_LEN + 1));
	ck_assert(!token_well_formed("tka_", 4));
	ck_assert(!token_well_formed("", 0));
	/* another prefix with a right checksum is still not ours */
	t[0] = 'T';
	ck_assert(!token_well_formed(t, TOKEN_LEN));
}
END_TEST

START_TEST(test_crc32_known_answer)
{
	/* The standard check value of CRC-32/ISO-HDLC (zlib's crc32). */
	ck_assert_uint_eq(token_crc32("123456789", 9), 0xcbf43926ul);
	ck_assert_uint_eq(token_crc32("", 0), 0);
}
END_TEST

static void hex(const unsigned char *in, size_t len, char *out)
{
	for (size_t i = 0; i < len; i++)
		sprintf(out + 2 * i, "%02x", in[i]);
}

START_TEST(test_hmac_rfc4231)
{
	unsigned char key[20], out[TOKEN_HASH_LEN];
	char text[2 * TOKEN_HASH_LEN + 1];

	/* RFC 4231, test case 1 */
	memset(key, 0x0b, sizeof key);
	ck_assert_int_eq(token_hash(key, sizeof key, "Hi There", 8, out), 0);
	hex(out, sizeof out, text);
	ck_assert_str_eq(text, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	/* RFC 4231, test case 2 */
	ck_assert_int_eq(token_hash("Jefe", 4, "what do ya want for nothing?", 28, out), 0);
	hex(out, sizeof out, text);
	ck_assert_str_eq(text, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}
END_TEST

START_TEST(test_constant_time_equal)
{
	unsigned char a[TOKEN_HASH_LEN], b[TOKEN_HASH_LEN];

	memset(a, 0x5a, sizeof a);
	memcpy(b, a, sizeof b);
	ck_assert(token_equal(a, b, sizeof a));
	for (size_t i = 0; i < sizeof a; i++) {
		b[i] ^= 1;
		ck_assert(!token_equal(a, b, sizeof a));
		b[i] ^= 1;
	}
	ck_assert(token_equal(a, b, 0));
}
END_TEST

START_TEST(test_durations)
{
	long long s = 0;

	ck_assert_int_eq(token_cli_duration("30s", &s), 0);
	ck_assert_int_eq(s, 30);
	ck_assert_int_eq(token_cli_duration("15m", &s), 0);
	ck_assert_int_eq(s, 900);
	ck_assert_int_eq(token_cli_duration("12h", &s), 0);
	ck_assert_int_eq(s, 43200);
	ck_assert_int_eq(token_cli_duration("90d", &s), 0);
	ck_assert_int_eq(s, 90 * 86400);
	ck_assert_int_eq(token_cli_duration("0s", &s), -1);
	ck_assert_int_eq(token_cli_duration("10", &s), -1);
	ck_assert_int_eq(token_cli_duration("d", &s), -1);
	ck_assert_int_eq(token_cli_duration("-1d", &s), -1);
	ck_assert_int_eq(token_cli_duration("1dd", &s), -1);
	ck_assert_int_eq(token_cli_duration("99999999999999999999d", &s), -1);
}
END_TEST

START_TEST(test_scopes)
{
	unsigned m = 0;

	ck_assert_int_eq(token_scopes_parse("tasks:read", &m), 0);
	ck_assert_uint_eq(m, AUTH_SCOPE_READ);
	ck_assert_int_eq(token_scopes_parse("tasks:write", &m), 0);
	ck_assert_uint_eq(m, AUTH_SCOPE_ALL);
	ck_assert_int_eq(token_scopes_parse("tasks:read,tasks:write", &m), 0);
	ck_assert_uint_eq(m, AUTH_SCOPE_ALL);
	ck_assert_str_eq(token_scopes_text(AUTH_SCOPE_ALL), "tasks:read,tasks:write");
	ck_assert_str_eq(token_scopes_text(AUTH_SCOPE_READ), "tasks:read");
	ck_assert_int_eq(token_scopes_parse("", &m), -1);
	ck_assert_int_eq(token_scopes_parse("tasks:admin", &m), -1);
	ck_assert_int_eq(token_scopes_parse("tasks:reader", &m), -1);
}
END_TEST

START_TEST(test_find_token_command)
{
	char w[][16] = { "taskapi", "--config", "token", "token", "create", "--owner", "x",
			 "-c", "f.ini", "migrate", "-s", "a.b=c", "--set=x", "list" };
	char *a[] = { w[0], w[1], w[2], w[3], w[4], w[5], w[6], NULL };
	char *b[] = { w[0], w[7], w[8], w[9], w[3], NULL };
	char *c[] = { w[0], w[10], w[11], w[12], w[3], w[13], NULL };

	ck_assert_int_eq(token_cli_find(7, a), 3);
	ck_assert_int_eq(token_cli_find(5, b), 5);
	ck_assert_int_eq(token_cli_find(6, c), 4);
}
END_TEST

Suite *unit_suite(void)
{
	return unit_suite_of("token", NULL, NULL, test_format, test_every_character_is_used,
			     test_checksum_catches_one_character, test_truncated_and_extended,
			     test_crc32_known_answer, test_hmac_rfc4231, test_constant_time_equal, test_durations,
			     test_scopes, test_find_token_command);
}
