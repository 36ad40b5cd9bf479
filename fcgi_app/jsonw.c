#include "jsonw.h"

#include <string.h>

#include "xalloc.h"

/* The longest escape of one input byte: \u00XX. */
#define JSONW_ESCAPE_MAX 6

void jsonw_string(struct buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF"; /* jansson writes \u001B, not \u001b */
	size_t start = 0;

	/*
	 * Worst case every byte becomes \u00XX, plus the two quotes: reserve once,
	 * then write without checks. xsize_* stop a len whose worst case wraps.
	 */
	buf_reserve(b, xsize_add(xsize_mul(len, JSONW_ESCAPE_MAX), 2));
	b->data[b->len++] = '"';
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char *out;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		memcpy(b->data + b->len, s + start, i - start);
		b->len += i - start;
		start = i + 1;
		out = b->data + b->len;
		out[0] = '\\';
		switch (c) {
		case '"': out[1] = '"'; b->len += 2; continue;
		case '\\': out[1] = '\\'; b->len += 2; continue;
		case '\b': out[1] = 'b'; b->len += 2; continue;
		case '\f': out[1] = 'f'; b->len += 2; continue;
		case '\n': out[1] = 'n'; b->len += 2; continue;
		case '\r': out[1] = 'r'; b->len += 2; continue;
		case '\t': out[1] = 't'; b->len += 2; continue;
		default:
			memcpy(out + 1, "u00", 3);
			out[4] = hex[c >> 4];
			out[5] = hex[c & 15];
			b->len += JSONW_ESCAPE_MAX;
		}
	}
	memcpy(b->data + b->len, s + start, len - start);
	b->len += len - start;
	b->data[b->len++] = '"';
	b->data[b->len] = '\0';
}

void jsonw_uint(struct buf *b, uint64_t value)
{
	char digits[20]; /* UINT64_MAX has 20 digits */
	size_t n = 0;

	do {
		digits[sizeof digits - ++n] = (char)('0' + value % 10);
		value /= 10;
	} while (value != 0);
	buf_append(b, digits + sizeof digits - n, n);
}
