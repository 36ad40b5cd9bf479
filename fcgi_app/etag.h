#ifndef TASKAPI_ETAG_H
#define TASKAPI_ETAG_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Entity tags and the If-Match / If-None-Match lists (RFC 9110 §8.8.3,
 * §13.1.1, §13.1.2). taskapi's tags are strong, the task's version in
 * decimal: "7". The parser knows nothing of versions; etag_list_matches
 * compares a list against the current version under either comparison.
 *
 *   entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE
 *   etagc      = %x21 / %x23-7E / %x80-FF
 *   field      = "*" / #entity-tag   (commas with optional white space;
 *                                     empty elements are allowed and ignored)
 *
 * Strong comparison (If-Match): both tags strong and their opaque parts the
 * same bytes, so W/"1" never matches and "01" is not "1". Weak comparison
 * (If-None-Match): the opaque parts the same bytes, weak or not.
 *
 * A field that is not such a list ("1"garbage, an unterminated quote, a bare
 * token, "*" inside a list) is invalid, and an invalid list matches nothing:
 * an invalid If-Match fails (412), an invalid If-None-Match lets the request
 * through as if the header said no current tag. The same rule for both, and
 * the failing side of If-Match is the safe one for a write.
 */

#define ETAG_MAX_TAGS 16

struct etag {
	bool weak;
	const char *opaque; /* between the quotes; borrowed from the field */
	size_t len;
};

struct etag_list {
	bool valid; /* false: the field did not parse; it matches nothing */
	bool any;   /* the field is "*" */
	size_t n;   /* tags kept; a longer list is invalid */
	struct etag tags[ETAG_MAX_TAGS];
};

enum etag_compare { ETAG_STRONG, ETAG_WEAK };

/*
 * Parses a field value (NULL counts as an empty, valid list). The list
 * borrows from field, which must outlive it. Returns 0 when valid, -1 (and
 * list->valid false) when not.
 */
int etag_parse_list(const char *field, struct etag_list *list);

/*
 * Whether the list names the current representation, tagged "<version>":
 * "*" matches any existing one; otherwise a tag whose opaque part is exactly
 * the decimal version (no sign, no leading zero), and under ETAG_STRONG a tag
 * that is not weak. An invalid list matches nothing.
 */
bool etag_list_matches(const struct etag_list *list, unsigned version, enum etag_compare how);

/*
 * The version a strong tag stands for: its opaque part is a decimal number
 * in the form etag_format writes (no leading zero, at most UINT32_MAX).
 * Returns 0 with *version set, -1 when the tag is weak or not one of ours.
 */
int etag_version(const struct etag *tag, unsigned *version);

/* Writes "\"<version>\"" into out (at least ETAG_TEXT_SIZE bytes). */
#define ETAG_TEXT_SIZE 16
void etag_format(unsigned version, char *out, size_t outlen);

#endif
