#ifndef TASKAPI_TOKEN_H
#define TASKAPI_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The format of taskapi's own bearer tokens, as GitHub's: a fixed prefix a
 * secret scanner can find, the random part, and a checksum of it, so that a
 * mistyped or truncated token is refused before any database lookup.
 *
 *   tka_ RRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRR CCCCCC
 *        32 base62 characters from getrandom(2): 32 * log2(62) = 190.5 bits
 *                                         6 base62 characters: CRC32 of R
 *
 * CRC32 detects every burst of at most 32 bits, so every change of one
 * character of R (one byte) is caught; the checksum's own six characters
 * encode a 32-bit number one way only, so a change there is caught too.
 *
 * The displayable prefix (token list, the api_tokens row) is "tka_" and the
 * first TOKEN_SHOWN_CHARS characters of R: 4 * 5.95 = 23.8 bits shown, the
 * 28 characters left keep 166.7 bits secret, more than the 160 the tokens
 * promise.
 *
 * Only getrandom(2) and libcrypto (HMAC-SHA-256, CRYPTO_memcmp) here: no I/O.
 */
#define TOKEN_PREFIX "tka_"
#define TOKEN_PREFIX_LEN 4
#define TOKEN_RANDOM_CHARS 32
#define TOKEN_CHECK_CHARS 6
#define TOKEN_LEN (TOKEN_PREFIX_LEN + TOKEN_RANDOM_CHARS + TOKEN_CHECK_CHARS) /* 42 */
#define TOKEN_SHOWN_CHARS 4
#define TOKEN_DISPLAY_LEN (TOKEN_PREFIX_LEN + TOKEN_SHOWN_CHARS) /* "tka_AbC1" */
/* The bits of randomness in a token, for documentation and tests (floor of 32 * log2 62). */
#define TOKEN_RANDOM_BITS 190

#define TOKEN_HASH_LEN 32 /* HMAC-SHA-256 */
/* A key shorter than this is refused: HMAC-SHA-256 wants at least the hash's size. */
#define TOKEN_KEY_MIN 32

/*
 * A new token in out (TOKEN_LEN + 1 bytes, NUL-terminated). Returns 0, or -1
 * when getrandom(2) fails (never a weaker token).
 */
int token_generate(char out[TOKEN_LEN + 1]);

/*
 * Whether text[0..len) is a well-formed token: the prefix, the length, the
 * alphabet and the checksum. Looks at nothing else (no database, no key).
 */
bool token_well_formed(const char *text, size_t len);

/* The displayable prefix of a well-formed token into out (TOKEN_DISPLAY_LEN + 1 bytes). */
void token_display(const char *token, char out[TOKEN_DISPLAY_LEN + 1]);

/*
 * HMAC-SHA-256 of secret under key, the only form in which a token is
 * stored. Returns 0, or -1 when libcrypto fails.
 */
int token_hash(const void *key, size_t keylen, const char *secret, size_t len,
	       unsigned char out[TOKEN_HASH_LEN]);

/* Constant-time equality of two buffers of len bytes (CRYPTO_memcmp). */
bool token_equal(const void *a, const void *b, size_t len);

/* The CRC32 (IEEE 802.3, as zlib's crc32) of data: the checksum's input. */
unsigned long token_crc32(const void *data, size_t len);

#endif
