/*
 * fuzz_token: an Authorization header -> auth_check in auth.mode = token,
 * and the token format (token_well_formed) on the raw input.
 *
 * The auth has no pool (the way serve validates the key at start), so the
 * whole path runs up to the database: the bearer parsing, the format and
 * checksum, the HMAC, the cache. Checked beyond "no crash":
 * - a header that is not a well-formed token is refused as missing or
 *   malformed, with the identity cleared, and never reaches the database;
 * - a well-formed token reaches it: with no database that is "unavailable";
 * - a well-formed token is "tka_", 42 characters, and any one character
 *   changed (position and character taken from the input) is malformed;
 * - the raw input and the same bytes behind "Bearer " agree.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "fuzz_check.h"
#include "request.h"
#include "token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static struct auth *auth;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char key[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n";
	char path[] = "/tmp/taskapi-fuzz-token-XXXXXX", err[256];
	struct config cfg;
	int fd = mkstemp(path);

	(void)argc;
	(void)argv;
	FUZZ_CHECK(fd >= 0, "mkstemp");
	FUZZ_CHECK(write(fd, key, sizeof key - 1) == (ssize_t)(sizeof key - 1), "write key");
	fchmod(fd, 0600);
	close(fd);
	config_init(&cfg);
	FUZZ_CHECK(config_set(&cfg, "auth", "mode", "token", err, sizeof err) == 0, "%s", err);
	FUZZ_CHECK(config_set(&cfg, "auth", "token_key_file", path, err, sizeof err) == 0, "%s", err);
	FUZZ_CHECK(auth_new(&cfg, NULL, &auth, err, sizeof err) == 0, "auth_new: %s", err);
	unlink(path);
	config_release(&cfg);
	return 0;
}

static enum auth_verdict check_header(const char *header, struct auth_identity *who, enum auth_reason *why)
{
	struct request req;

	memset(&req, 0, sizeof req);
	req.authorization = header;
	return auth_check(auth, &req, AUTH_SCOPE_READ, who, why);
}

static bool cleared(const struct auth_identity *who)
{
	static const struct auth_identity zero;

	return memcmp(who, &zero, sizeof zero) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *header = malloc(size + 8);
	struct auth_identity who;
	enum auth_reason why;
	enum auth_verdict v;
	size_t len;
	bool formed;

	memcpy(text, data, size);
	text[size] = '\0';
	len = strlen(text); /* a C string, as the FastCGI params are */
	formed = token_well_formed(text, len);

	/* The input as the whole header. */
	v = check_header(text, &who, &why);
	FUZZ_CHECK(v == AUTH_UNAUTHENTICATED || v == AUTH_UNAVAILABLE, "verdict %d without a database", (int)v);
	FUZZ_CHECK(cleared(&who), "identity left after a refusal");
	if (v == AUTH_UNAVAILABLE) {
		const char *tok;
		size_t tlen;

		FUZZ_CHECK(auth_bearer(text, &tok, &tlen) == 0 && token_well_formed(tok, tlen),
			   "reached the database with a malformed token");
	} else {
		FUZZ_CHECK(why == AUTH_REASON_MISSING || why == AUTH_REASON_MALFORMED, "reason %s",
			   auth_reason_name(why));
	}

	/* The input behind "Bearer ". */
	memcpy(header, "Bearer ", 7);
	memcpy(header + 7, text, len + 1);
	v = check_header(header, &who, &why);
	if (formed)
		FUZZ_CHECK(v == AUTH_UNAVAILABLE && why == AUTH_REASON_UNAVAILABLE, "a well-formed token: %s",
			   auth_reason_name(why));
	else
		FUZZ_CHECK(v == AUTH_UNAUTHENTICATED || (v == AUTH_UNAVAILABLE && len != strcspn(text, " \t")),
			   "a malformed token: %s", auth_reason_name(why));

	if (formed) {
		char copy[TOKEN_LEN + 1];
		size_t pos = data[0] % TOKEN_LEN;
		char c = (char)(size > 1 ? data[1] : 'x');

		FUZZ_CHECK(len == TOKEN_LEN && memcmp(text, TOKEN_PREFIX, TOKEN_PREFIX_LEN) == 0, "format");
		memcpy(copy, text, sizeof copy);
		if (copy[pos] != c && c != '\0') {
			copy[pos] = c;
			FUZZ_CHECK(!token_well_formed(copy, TOKEN_LEN), "one character changed and still well formed");
		}
	}
	free(text);
	free(header);
	return 0;
}
