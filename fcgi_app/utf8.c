#include "utf8.h"

#include <string.h>

#define ELLIPSIS "..."

size_t utf8_sequence_length(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t need;
	unsigned lo = 0x80, hi = 0xBF; /* the range of the second byte */

	if (len == 0)
		return 0;
	if (u[0] < 0x80)
		return 1;
	if (u[0] < 0xC2) /* a continuation byte, or an overlong 2-byte lead */
		return 0;
	if (u[0] < 0xE0) {
		need = 2;
	} else if (u[0] < 0xF0) {
		need = 3;
		if (u[0] == 0xE0)
			lo = 0xA0; /* overlong */
		else if (u[0] == 0xED)
			hi = 0x9F; /* UTF-16 surrogates */
	} else if (u[0] < 0xF5) {
		need = 4;
		if (u[0] == 0xF0)
			lo = 0x90; /* overlong */
		else if (u[0] == 0xF4)
			hi = 0x8F; /* above U+10FFFF */
	} else {
		return 0;
	}
	if (len < need || u[1] < lo || u[1] > hi)
		return 0;
	for (size_t i = 2; i < need; i++)
		if ((u[i] & 0xC0) != 0x80)
			return 0;
	return need;
}

bool utf8_is_valid(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t n = utf8_sequence_length(s + i, len - i);

		if (n == 0 || s[i] == '\0')
			return false;
		i += n;
	}
	return true;
}

size_t utf8_cut(const char *s, size_t len, size_t max)
{
	size_t cut = max;

	if (len <= max)
		return len;
	while (cut > 0 && max - cut < 3 && ((unsigned char)s[cut] & 0xC0) == 0x80)
		cut--;
	return ((unsigned char)s[cut] & 0xC0) == 0x80 ? max : cut;
}

/* Where a clean copy goes: a buffer, or a fixed array with room for max bytes. */
struct sink {
	struct buf *b;
	char *out;
	size_t used;
};

static void put(struct sink *k, const char *s, size_t len)
{
	if (k->b != NULL)
		buf_append(k->b, s, len);
	else if (len > 0)
		memcpy(k->out + k->used, s, len);
	k->used += len;
}

/* Copies s into k as at most max bytes of valid UTF-8; true when nothing was cut. */
static bool clean(struct sink *k, const char *s, size_t len, size_t max)
{
	size_t i = 0, written = 0, run = 0;

	while (i < len) {
		size_t n = utf8_sequence_length(s + i, len - i);
		bool bad = n == 0 || s[i] == '\0';
		size_t width = bad ? sizeof UTF8_REPLACEMENT - 1 : n;

		if (written + width > max)
			break;
		written += width;
		if (bad) {
			/* Flush the valid run before the bad byte, then its replacement. */
			put(k, s + run, i - run);
			put(k, UTF8_REPLACEMENT, sizeof UTF8_REPLACEMENT - 1);
			i++;
			run = i;
		} else {
			i += n;
		}
	}
	put(k, s + run, i - run);
	return i == len;
}

bool utf8_append_clean(struct buf *out, const char *s, size_t len, size_t max)
{
	struct sink k = { out, NULL, 0 };

	return clean(&k, s, len, max);
}

bool utf8_copy_clean(char *out, size_t outsz, const char *s, size_t len)
{
	struct sink k = { NULL, out, 0 };
	size_t room = outsz - 1;

	if (clean(&k, s, len, room)) {
		out[k.used] = '\0';
		return true;
	}
	if (room >= sizeof ELLIPSIS - 1) {
		/* Copy again, shorter, so the mark fits: the cut stays on a boundary. */
		k.used = 0;
		clean(&k, s, len, room - (sizeof ELLIPSIS - 1));
		put(&k, ELLIPSIS, sizeof ELLIPSIS - 1);
	}
	out[k.used] = '\0';
	return false;
}
