#include "fuzz_check.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "\n==fuzz check failed== %s:%d: %s: ", file, line, cond);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

void fuzz_lines_split(struct fuzz_lines *l, const uint8_t *data, size_t len, char sep, size_t max)
{
	size_t n = 0, start = 0;

	l->store = malloc(len + 1);
	l->vec = malloc((max + 1) * sizeof *l->vec);
	FUZZ_CHECK(l->store && l->vec, "out of memory");
	if (len > 0)
		memcpy(l->store, data, len);
	l->store[len] = '\0';
	l->len = len;
	for (size_t i = 0; i <= len && n < max; i++) {
		if (i < len && l->store[i] != sep)
			continue;
		l->store[i] = '\0';
		if (i > start || i < len) /* an empty last entry is no entry */
			l->vec[n++] = l->store + start;
		start = i + 1;
	}
	l->vec[n] = NULL;
	l->n = n;
}

void fuzz_lines_release(struct fuzz_lines *l)
{
	free(l->store);
	free(l->vec);
	l->store = NULL;
	l->vec = NULL;
	l->n = 0;
}

static bool is_token_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

/* The value of a header line "Name: value" whose name is want, or NULL. */
static const char *header_value(const char *line, size_t len, const char *want, size_t *vlen)
{
	size_t n = strlen(want);

	if (len < n + 2 || strncasecmp(line, want, n) != 0 || line[n] != ':' || line[n + 1] != ' ')
		return NULL;
	*vlen = len - n - 2;
	return line + n + 2;
}

int fuzz_check_answer(const char *out, size_t len, bool head_only, bool allow_503)
{
	const char *p = out, *end = out + len, *eol;
	const char *reason;
	int status;
	long content_length = -1;
	size_t body_len;
	bool has_type = false;

	FUZZ_CHECK(len >= 12 && memcmp(out, "Status: ", 8) == 0, "no Status line: %.40s", out);
	FUZZ_CHECK(out[8] >= '1' && out[8] <= '5' && out[9] >= '0' && out[9] <= '9' &&
			   out[10] >= '0' && out[10] <= '9' && out[11] == ' ',
		   "malformed status: %.20s", out);
	status = (out[8] - '0') * 100 + (out[9] - '0') * 10 + (out[10] - '0');
	FUZZ_CHECK(status < 500 || (status == 503 && allow_503), "a %d answer to client input: %.*s",
		   status, (int)(len < 400 ? len : 400), out);
	reason = out + 12;
	eol = memmem(p, (size_t)(end - p), "\r\n", 2);
	FUZZ_CHECK(eol != NULL && eol > reason, "status line without a reason or CRLF");
	p = eol + 2;
	for (;;) {
		size_t line_len, vlen;
		const char *colon, *v;

		eol = memmem(p, (size_t)(end - p), "\r\n", 2);
		FUZZ_CHECK(eol != NULL, "headers not ended by an empty line");
		line_len = (size_t)(eol - p);
		if (line_len == 0)
			break;
		colon = memchr(p, ':', line_len);
		FUZZ_CHECK(colon != NULL && colon > p && colon + 1 < eol && colon[1] == ' ',
			   "malformed header line: %.*s", (int)line_len, p);
		for (const char *c = p; c < colon; c++)
			FUZZ_CHECK(is_token_char(*c), "header name with 0x%02x: %.*s", (unsigned char)*c,
				   (int)line_len, p);
		for (const char *c = colon + 2; c < eol; c++)
			FUZZ_CHECK(*c != '\r' && *c != '\n' && *c != '\0',
				   "CR, LF or NUL inside a header value: %.*s", (int)line_len, p);
		if ((v = header_value(p, line_len, "Content-Length", &vlen)) != NULL) {
			char num[24];

			FUZZ_CHECK(vlen > 0 && vlen < sizeof num && content_length < 0, "Content-Length: %.*s",
				   (int)vlen, v);
			memcpy(num, v, vlen);
			num[vlen] = '\0';
			FUZZ_CHECK(strspn(num, "0123456789") == vlen, "Content-Length: %s", num);
			content_length = atol(num);
		}
		if (header_value(p, line_len, "Content-Type", &vlen) != NULL)
			has_type = true;
		p = eol + 2;
	}
	p = eol + 2;
	body_len = (size_t)(end - p);
	if (status == 204 || status == 304) {
		FUZZ_CHECK(content_length < 0 && !has_type && body_len == 0, "a %d with a body", status);
		return status;
	}
	FUZZ_CHECK(content_length >= 0 && has_type, "a %d without Content-Length or Content-Type", status);
	if (head_only) {
		FUZZ_CHECK(body_len == 0, "a HEAD answer with a body");
		return status;
	}
	FUZZ_CHECK((size_t)content_length == body_len, "Content-Length %ld, body %zu bytes", content_length,
		   body_len);
	{
		json_error_t err;
		json_t *j = json_loadb(p, body_len, JSON_ALLOW_NUL, &err);

		FUZZ_CHECK(j != NULL, "a body that is not JSON (%s): %.*s", err.text,
			   (int)(body_len < 400 ? body_len : 400), p);
		FUZZ_CHECK(json_is_object(j) || json_is_array(j), "a body that is neither object nor array");
		if (status >= 400)
			FUZZ_CHECK(json_object_get(j, "detail") != NULL, "a %d without a detail", status);
		json_decref(j);
	}
	return status;
}

bool fuzz_json_is(const json_t *j, const char *s)
{
	return json_is_string(j) && strcmp(json_string_value(j), s) == 0;
}
