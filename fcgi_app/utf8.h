#ifndef TASKAPI_UTF8_H
#define TASKAPI_UTF8_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/*
 * Client input echoed back — in a JSON answer or a log line — goes through
 * here. jansson refuses a string that is not valid UTF-8 (json_pack then
 * returns NULL and the answer became a 500), and a byte cut such as "%.80s"
 * can split a character and make valid input invalid. So input is copied
 * character by character: a cut never falls inside a character, and a byte
 * that does not start a valid sequence is replaced by U+FFFD.
 *
 * "Valid" is RFC 3629, the same rule jansson applies: no overlong forms, no
 * surrogates, nothing above U+10FFFF. NUL is replaced too, so the result is
 * also a C string.
 */

/* U+FFFD REPLACEMENT CHARACTER, as UTF-8. */
#define UTF8_REPLACEMENT "\xEF\xBF\xBD"

/*
 * Length of the valid UTF-8 sequence (1 to 4) starting at s[0..len), or 0
 * when s does not start one (or len is 0).
 */
size_t utf8_sequence_length(const char *s, size_t len);

/* True when s[0..len) is valid UTF-8 without NUL. */
bool utf8_is_valid(const char *s, size_t len);

/*
 * Where to cut s[0..len) to keep at most max bytes without splitting a
 * character: len when it fits, else max moved back (at most 3 bytes) to
 * the start of the character it falls in. Repairs nothing: for text that
 * is valid UTF-8, or that the caller escapes byte by byte.
 */
size_t utf8_cut(const char *s, size_t len, size_t max);

/*
 * Appends s[0..len) to out, repaired as above, writing at most max bytes;
 * the copy stops before the first character that would go past max. Returns
 * true when all of s was copied, false when it was cut (the caller may then
 * add a mark such as "...").
 */
bool utf8_append_clean(struct buf *out, const char *s, size_t len, size_t max);

/*
 * The same into a fixed array: at most outsz - 1 bytes and a NUL; when s is
 * cut and outsz allows, the copy ends in "..." (within outsz). Returns true
 * when all of s was copied. outsz must be at least 1.
 */
bool utf8_copy_clean(char *out, size_t outsz, const char *s, size_t len);

#endif
