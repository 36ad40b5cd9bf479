#ifndef TASKAPI_FUZZ_CHECK_H
#define TASKAPI_FUZZ_CHECK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * What every libFuzzer harness in tests/fuzz shares: a check that aborts
 * (libFuzzer then saves the input as crash-<sha1>), the splitting of an input
 * into a NULL-terminated "NAME=value" array, and the check of a serialized
 * answer (response_serialize's CGI form) that every harness that answers
 * makes. Not linked into the program.
 */

/* The harness's own assertion: reports where and why on stderr, then abort(). */
#define FUZZ_CHECK(cond, ...)                                                   \
	do {                                                                    \
		if (!(cond))                                                    \
			fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);      \
	} while (0)

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 4, 5)));

/*
 * Splits len bytes into at most max entries at each sep byte: a
 * NULL-terminated array of NUL-terminated strings (an entry keeps any NUL
 * byte of the input, so it ends early there, as a C string would). The
 * storage is the caller's until fuzz_lines_release.
 */
struct fuzz_lines {
	char *store; /* len bytes and a NUL */
	size_t len;
	char **vec;  /* n entries, then NULL */
	size_t n;
};

void fuzz_lines_split(struct fuzz_lines *l, const uint8_t *data, size_t len, char sep, size_t max);
void fuzz_lines_release(struct fuzz_lines *l);

/*
 * Checks a serialized answer: a "Status: NNN Reason" first line; header
 * lines "Name: value" with a token name and no CR, LF or NUL in the value,
 * ended by an empty line; a Content-Length equal to the body's length
 * (unless head_only); a body, when there is one, that jansson parses as an
 * object or array, with a "detail" for every 4xx. A 5xx aborts, except 503
 * when allow_503 (the store stub was told to fail). Returns the status.
 */
int fuzz_check_answer(const char *out, size_t len, bool head_only, bool allow_503);

/* True when j is the JSON string s. */
bool fuzz_json_is(const json_t *j, const char *s);

#endif
