#include "etag.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* etagc: any visible byte but DQUOTE, and obs-text. */
static bool is_etagc(unsigned char c)
{
	return c == 0x21 || (c >= 0x23 && c != 0x7F);
}

static const char *skip_ows(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* Parses one entity-tag at p; returns the byte after it, or NULL when there is none. */
static const char *parse_tag(const char *p, struct etag *tag)
{
	const char *q;

	tag->weak = p[0] == 'W' && p[1] == '/';
	if (tag->weak)
		p += 2;
	if (*p != '"')
		return NULL;
	q = ++p;
	while (is_etagc((unsigned char)*q))
		q++;
	if (*q != '"')
		return NULL;
	tag->opaque = p;
	tag->len = (size_t)(q - p);
	return q + 1;
}

int etag_parse_list(const char *field, struct etag_list *list)
{
	const char *p;

	memset(list, 0, sizeof *list);
	list->valid = true;
	if (field == NULL)
		return 0;
	p = skip_ows(field);
	if (*p == '*') {
		if (*skip_ows(p + 1) == '\0') {
			list->any = true;
			return 0;
		}
		goto invalid;
	}
	while (*p != '\0') {
		struct etag tag;

		if (*p == ',') { /* an empty element (RFC 9110 §5.6.1): ignored */
			p = skip_ows(p + 1);
			continue;
		}
		p = parse_tag(p, &tag);
		if (p == NULL || list->n == ETAG_MAX_TAGS)
			goto invalid;
		list->tags[list->n++] = tag;
		p = skip_ows(p);
		if (*p != ',' && *p != '\0')
			goto invalid; /* "1"garbage: something glued to the tag */
	}
	return 0;
invalid:
	memset(list, 0, sizeof *list);
	return -1;
}

/* The opaque part is exactly the decimal number etag_format writes. */
static int opaque_version(const char *s, size_t len, unsigned *version)
{
	uint64_t v = 0;

	if (len == 0 || len > 10 || (len > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > UINT32_MAX)
		return -1;
	*version = (unsigned)v;
	return 0;
}

int etag_version(const struct etag *tag, unsigned *version)
{
	if (tag->weak)
		return -1;
	return opaque_version(tag->opaque, tag->len, version);
}

bool etag_list_matches(const struct etag_list *list, unsigned version, enum etag_compare how)
{
	if (!list->valid)
		return false;
	if (list->any)
		return true;
	for (size_t i = 0; i < list->n; i++) {
		const struct etag *t = &list->tags[i];
		unsigned v;

		if (how == ETAG_STRONG && t->weak)
			continue;
		if (opaque_version(t->opaque, t->len, &v) == 0 && v == version)
			return true;
	}
	return false;
}

void etag_format(unsigned version, char *out, size_t outlen)
{
	snprintf(out, outlen, "\"%u\"", version);
}
