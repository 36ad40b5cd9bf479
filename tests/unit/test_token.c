/*
 * Unit tests for token.c: the format, that the checksum catches every change
 * of one character and every truncation, HMAC-SHA-256 against RFC 4231, and
 * the constant-time compare. Also token_cli_duration, the scopes text, the key
 * file's rules and token_auth_check without a database.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "token.h"
#include "token_auth.h"
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
			 "-c", "f.ini", "migrate", "-s", "a.b=c", "--set=x", "list", "-sa.b=s", "-tc" };
	char *a[] = { w[0], w[1], w[2], w[3], w[4], w[5], w[6], NULL };
	char *b[] = { w[0], w[7], w[8], w[9], w[3], NULL };
	char *c[] = { w[0], w[10], w[11], w[12], w[3], w[13], NULL };
	char *d[] = { w[0], w[14], w[3], w[13], NULL };
	char *e[] = { w[0], w[15], w[8], w[3], NULL };

	ck_assert_int_eq(token_cli_find(7, a), 3);
	ck_assert_int_eq(token_cli_find(5, b), 5);
	ck_assert_int_eq(token_cli_find(6, c), 4);
	/* a value that ends in c or s is not an option that takes the next word */
	ck_assert_int_eq(token_cli_find(4, d), 2);
	ck_assert_int_eq(token_cli_find(4, e), 3);
}
END_TEST

/* A key file of text with mode in a scratch folder; its path in path. */
static void key_file(char *path, size_t len, const char *dir, const char *text, mode_t mode)
{
	FILE *f;

	snprintf(path, len, "%s/token.key", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	ck_assert_int_eq(chmod(path, mode), 0);
}

static const char good_key[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n";

START_TEST(test_key_file_rules)
{
	char dir[UNIT_DIR_SIZE], path[UNIT_DIR_SIZE + 32], err[256], *key = NULL;
	size_t len = 0;

	unit_dir_make(dir, "token");
	key_file(path, sizeof path, dir, good_key, 0640);
	ck_assert_int_eq(token_key_load(path, &key, &len, err, sizeof err), 0);
	ck_assert_uint_eq(len, 64); /* the first line, without its newline */
	token_key_free(key, len);
	key_file(path, sizeof path, dir, "short key\n", 0600);
	ck_assert_int_eq(token_key_load(path, &key, &len, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "at least 32"));
	ck_assert_ptr_null(key);
	key_file(path, sizeof path, dir, good_key, 0644);
	ck_assert_int_eq(token_key_load(path, &key, &len, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "accessible by others"));
	ck_assert_int_eq(token_key_load("", &key, &len, err, sizeof err), -1);
	unit_dir_remove(dir);
}
END_TEST

/* Without a pool (serve's start-up check): the path runs up to the database and stops there. */
START_TEST(test_check_without_database)
{
	char dir[UNIT_DIR_SIZE], path[UNIT_DIR_SIZE + 32], err[256], t[TOKEN_LEN + 1];
	struct config cfg;
	struct token_auth *ta = NULL;
	struct auth_identity who;
	enum auth_reason why;

	unit_dir_make(dir, "token");
	key_file(path, sizeof path, dir, good_key, 0600);
	config_init(&cfg);
	ck_assert_int_eq(config_set(&cfg, "auth", "token_key_file", path, err, sizeof err), 0);
	ck_assert_int_eq(token_auth_new(&cfg, NULL, &ta, err, sizeof err), 0);
	ck_assert_int_eq(token_generate(t), 0);
	memset(&who, 0, sizeof who);
	/* well formed: it needs the database, which is not there */
	ck_assert_int_eq(token_auth_check(ta, t, TOKEN_LEN, &who, &why), AUTH_UNAVAILABLE);
	ck_assert_int_eq(why, AUTH_REASON_UNAVAILABLE);
	ck_assert_str_eq(who.owner, "");
	/* malformed: refused before the hash and the database */
	t[10] = t[10] == 'a' ? 'b' : 'a';
	ck_assert_int_eq(token_auth_check(ta, t, TOKEN_LEN, &who, &why), AUTH_UNAUTHENTICATED);
	ck_assert_int_eq(why, AUTH_REASON_MALFORMED);
	ck_assert_int_eq(token_auth_check(ta, t, 20, &who, &why), AUTH_UNAUTHENTICATED);
	ck_assert_int_eq(why, AUTH_REASON_MALFORMED);
	token_auth_free(ta);
	/* a missing key file: no token_auth */
	ck_assert_int_eq(config_set(&cfg, "auth", "token_key_file", "/nonexistent/key", err, sizeof err), 0);
	ck_assert_int_eq(token_auth_new(&cfg, NULL, &ta, err, sizeof err), -1);
	ck_assert_ptr_null(ta);
	config_release(&cfg);
	unit_dir_remove(dir);
}
END_TEST

Suite *unit_suite(void)
{
	return unit_suite_of("token", NULL, NULL, test_format, test_every_character_is_used,
			     test_checksum_catches_one_character, test_truncated_and_extended,
			     test_crc32_known_answer, test_hmac_rfc4231, test_constant_time_equal, test_durations,
			     test_scopes, test_find_token_command, test_key_file_rules,
			     test_check_without_database);
}
