#include "token.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>

static const char base62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static int base62_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 36;
	return -1;
}

unsigned long token_crc32(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint32_t crc = 0xffffffffu;

	/* Bitwise: 32 bytes per token, a table would not pay for itself. */
	for (size_t i = 0; i < len; i++) {
		crc ^= p[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
	}
	return crc ^ 0xffffffffu;
}

/* value as exactly TOKEN_CHECK_CHARS base62 digits, most significant first. */
static void checksum_chars(const char *random, char out[TOKEN_CHECK_CHARS])
{
	unsigned long v = token_crc32(random, TOKEN_RANDOM_CHARS);

	for (int i = TOKEN_CHECK_CHARS - 1; i >= 0; i--) {
		out[i] = base62[v % 62];
		v /= 62;
	}
}

static int fill_random(unsigned char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = getrandom(buf + got, len - got, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)n;
	}
	return 0;
}

int token_generate(char out[TOKEN_LEN + 1])
{
	unsigned char bytes[64];
	size_t have = 0, used = 0;
	char *r = out + TOKEN_PREFIX_LEN;

	memcpy(out, TOKEN_PREFIX, TOKEN_PREFIX_LEN);
	/* Rejection sampling: bytes of 248 and above would favour the first digits. */
	while (have < TOKEN_RANDOM_CHARS) {
		if (used == 0 || used == sizeof bytes) {
			if (fill_random(bytes, sizeof bytes) < 0)
				goto fail;
			used = 0;
		}
		if (bytes[used] < 248)
			r[have++] = base62[bytes[used] % 62];
		used++;
	}
	checksum_chars(r, out + TOKEN_PREFIX_LEN + TOKEN_RANDOM_CHARS);
	out[TOKEN_LEN] = '\0';
	OPENSSL_cleanse(bytes, sizeof bytes);
	return 0;
fail:
	OPENSSL_cleanse(bytes, sizeof bytes);
	memset(out, 0, TOKEN_LEN + 1);
	return -1;
}

bool token_well_formed(const char *text, size_t len)
{
	char want[TOKEN_CHECK_CHARS];

	if (len != TOKEN_LEN || memcmp(text, TOKEN_PREFIX, TOKEN_PREFIX_LEN) != 0)
		return false;
	for (size_t i = TOKEN_PREFIX_LEN; i < TOKEN_LEN; i++)
		if (base62_value((unsigned char)text[i]) < 0)
			return false;
	checksum_chars(text + TOKEN_PREFIX_LEN, want);
	/* The checksum is not secret (it is in the token), but the compare costs nothing. */
	return CRYPTO_memcmp(want, text + TOKEN_PREFIX_LEN + TOKEN_RANDOM_CHARS, TOKEN_CHECK_CHARS) == 0;
}

void token_display(const char *token, char out[TOKEN_DISPLAY_LEN + 1])
{
	memcpy(out, token, TOKEN_DISPLAY_LEN);
	out[TOKEN_DISPLAY_LEN] = '\0';
}

int token_hash(const void *key, size_t keylen, const char *secret, size_t len,
	       unsigned char out[TOKEN_HASH_LEN])
{
	unsigned int outlen = 0;

	if (keylen > INT32_MAX ||
	    HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)secret, len, out, &outlen) == NULL ||
	    outlen != TOKEN_HASH_LEN)
		return -1;
	return 0;
}

bool token_equal(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}
