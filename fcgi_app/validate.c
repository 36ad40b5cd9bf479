#include "validate.h"

#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "utf8.h"

void validation_init(struct validation *v)
{
	v->n = 0;
}

void validation_release(struct validation *v)
{
	for (size_t i = 0; i < v->n; i++) {
		json_decref(v->items[i].input);
		v->items[i].input = NULL;
	}
	v->n = 0;
}

static struct validation_error *add_item(struct validation *v, const char *where, const char *name,
					 const char *type, json_t *input)
{
	struct validation_error *e;

	if (v->n == VALIDATION_MAX) {
		json_decref(input);
		return NULL;
	}
	e = &v->items[v->n++];
	snprintf(e->where, sizeof e->where, "%s", where);
	/* A body key is client input: cut on a character boundary, never dropped from loc. */
	name = name ? name : "";
	utf8_copy_clean(e->name, sizeof e->name, name, strlen(name));
	e->index = -1;
	snprintf(e->type, sizeof e->type, "%s", type);
	e->input = input;
	return e;
}

static void set_msg(struct validation_error *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void vset_msg(struct validation_error *e, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void vset_msg(struct validation_error *e, const char *fmt, va_list ap)
{
	char text[2 * sizeof e->msg];

	vsnprintf(text, sizeof text, fmt, ap);
	/* A message may quote input (a parser's "near '...'"): it must stay a JSON string. */
	utf8_copy_clean(e->msg, sizeof e->msg, text, strlen(text));
}

static void set_msg(struct validation_error *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset_msg(e, fmt, ap);
	va_end(ap);
}

void validation_add(struct validation *v, const char *where, const char *name,
		    const char *type, json_t *input, const char *fmt, ...)
{
	struct validation_error *e = add_item(v, where, name, type, input);
	va_list ap;

	if (e == NULL)
		return;
	va_start(ap, fmt);
	vset_msg(e, fmt, ap);
	va_end(ap);
}

json_t *validation_to_json(const struct validation *v)
{
	json_t *list = json_array();

	for (size_t i = 0; i < v->n; i++) {
		const struct validation_error *e = &v->items[i];
		json_t *loc = json_pack("[s]", e->where);
		json_t *item;

		if (e->index >= 0)
			json_array_append_new(loc, json_integer(e->index));
		else if (e->name[0] != '\0')
			json_array_append_new(loc, json_string(e->name));
		item = json_pack("{s:s, s:o, s:s}", "type", e->type, "loc", loc, "msg", e->msg);
		if (item != NULL && e->input != NULL)
			json_object_set(item, "input", e->input);
		json_array_append_new(list, item);
	}
	return json_pack("{s:o}", "detail", list);
}

/*
 * A query value as JSON for "input": as given when it is valid UTF-8 of at
 * most VALIDATE_INPUT_MAX_BYTES, else repaired and cut (utf8.h) with "...".
 */
static json_t *text_input(const char *text)
{
	size_t len = strlen(text);
	struct buf clean = BUF_INIT;
	json_t *s;

	if (len <= VALIDATE_INPUT_MAX_BYTES && utf8_is_valid(text, len))
		return json_stringn(text, len);
	if (!utf8_append_clean(&clean, text, len, VALIDATE_INPUT_MAX_BYTES - 3))
		buf_puts(&clean, "...");
	s = json_stringn(clean.data, clean.len);
	buf_release(&clean);
	return s ? s : json_null();
}

json_t *validate_input_copy(const json_t *value)
{
	struct buf cut = BUF_INIT;
	json_t *s;

	if (json_is_string(value)) {
		size_t len = json_string_length(value);

		if (len <= VALIDATE_BODY_INPUT_MAX_BYTES)
			return json_deep_copy(value);
		/* jansson holds valid UTF-8: only the cut needs care. */
		utf8_append_clean(&cut, json_string_value(value), len, VALIDATE_BODY_INPUT_MAX_BYTES - 3);
		buf_puts(&cut, "...");
		s = json_stringn(cut.data, cut.len);
		buf_release(&cut);
		return s;
	}
	if ((json_is_array(value) || json_is_object(value)) &&
	    json_dumpb(value, NULL, 0, JSON_COMPACT) > VALIDATE_BODY_INPUT_MAX_BYTES)
		return NULL; /* a cut container would be a different value: none rather than a wrong one */
	return json_deep_copy(value);
}

int validate_uint(struct validation *v, const char *where, const char *name,
		  const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
	const char *p = text;
	uint64_t value = 0;
	int negative = 0;

	if (text == NULL)
		return 0;
	if (*p == '-' || *p == '+') {
		negative = *p == '-';
		p++;
	}
	if (*p == '\0')
		goto not_integer;
	for (; *p; p++) {
		unsigned digit;

		if (*p < '0' || *p > '9')
			goto not_integer;
		digit = (unsigned)(*p - '0');
		if (value > (UINT64_MAX - digit) / 10) {
			/* Too many digits for any range we accept: report the bound. */
			validation_add(v, where, name, "less_than_equal", text_input(text),
				       "Input should be less than or equal to %llu",
				       (unsigned long long)max);
			return -1;
		}
		value = value * 10 + digit;
	}
	if ((negative && value != 0) || value < min) {
		validation_add(v, where, name, "greater_than_equal", text_input(text),
			       "Input should be greater than or equal to %llu", (unsigned long long)min);
		return -1;
	}
	if (value > max) {
		validation_add(v, where, name, "less_than_equal", text_input(text),
			       "Input should be less than or equal to %llu", (unsigned long long)max);
		return -1;
	}
	*out = value;
	return 0;

not_integer:
	validation_add(v, where, name, "int_parsing", text_input(text),
		       "Input should be a valid integer, unable to parse string as an integer");
	return -1;
}

/*
 * text[0..len) as one of the boolean words of mode: 1 true, 0 false, -1 none.
 * The length is given so that a JSON string holding a NUL ("t\u0000") is no match.
 */
static int bool_word(const char *text, size_t len, enum validate_mode mode)
{
	/* pydantic-core's str_as_bool; the one-letter forms are the lax additions. */
	static const struct {
		const char *word;
		bool value;
		bool lax_only;
	} words[] = {
		{ "true", true, false },  { "false", false, false }, { "1", true, false },
		{ "0", false, false },    { "yes", true, false },    { "no", false, false },
		{ "on", true, false },    { "off", false, false },   { "t", true, true },
		{ "f", false, true },     { "y", true, true },       { "n", false, true },
	};

	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
		if (words[i].lax_only && mode == VALIDATE_STRICT)
			continue;
		if (len == strlen(words[i].word) && strncasecmp(text, words[i].word, len) == 0)
			return words[i].value;
	}
	return -1;
}

static void add_bool_parsing(struct validation *v, const char *where, const char *name, json_t *input)
{
	validation_add(v, where, name, "bool_parsing", input,
		       "Input should be a valid boolean, unable to interpret input");
}

int validate_bool_text(struct validation *v, const char *where, const char *name,
		       const char *text, enum validate_mode mode, bool *out)
{
	int value;

	if (text == NULL)
		return 0;
	value = bool_word(text, strlen(text), mode);
	if (value < 0) {
		add_bool_parsing(v, where, name, text_input(text));
		return -1;
	}
	*out = value;
	return 0;
}

int validate_bool_json(struct validation *v, const char *name, const json_t *value,
		       enum validate_mode mode, bool *out)
{
	int parsed = -1;

	if (json_is_boolean(value)) {
		*out = json_is_true(value);
		return 0;
	}
	if (mode == VALIDATE_STRICT)
		goto wrong_type;
	if (json_is_string(value)) {
		parsed = bool_word(json_string_value(value), json_string_length(value), mode);
	} else if (json_is_integer(value)) {
		json_int_t n = json_integer_value(value);

		parsed = n == 0 ? 0 : n == 1 ? 1 : -1;
	} else if (json_is_real(value)) {
		double d = json_real_value(value);

		/*
		 * pydantic: a whole number within the 64-bit range is judged as
		 * that integer; a fraction or a huge number is not a boolean at all.
		 */
		if (!((double)LLONG_MIN < d && d < (double)LLONG_MAX) || d != (double)(long long)d)
			goto wrong_type;
		parsed = d == 0.0 ? 0 : d == 1.0 ? 1 : -1;
	} else {
		goto wrong_type;
	}
	if (parsed < 0) {
		add_bool_parsing(v, "body", name, validate_input_copy(value));
		return -1;
	}
	*out = parsed;
	return 0;

wrong_type:
	validation_add(v, "body", name, "bool_type", validate_input_copy(value),
		       "Input should be a valid boolean");
	return -1;
}

/* The media type content_type[0..len) is name, in any case (RFC 9110 8.3.1). */
static bool media_is(const char *content_type, size_t len, const char *name)
{
	return len == strlen(name) && strncasecmp(content_type, name, len) == 0;
}

enum body_media validate_media_type(const char *content_type)
{
	size_t len;

	if (content_type == NULL)
		return BODY_MEDIA_JSON; /* curl -X POST --data-binary @file sends none: accept it */
	while (*content_type == ' ' || *content_type == '\t')
		content_type++;
	len = strcspn(content_type, "; \t");
	if (media_is(content_type, len, "application/json"))
		return BODY_MEDIA_JSON;
	if (media_is(content_type, len, "application/merge-patch+json"))
		return BODY_MEDIA_MERGE_PATCH;
	return BODY_MEDIA_OTHER;
}

size_t validate_json_depth(const char *text, size_t len)
{
	size_t depth = 0, deepest = 0;
	bool in_string = false;

	for (size_t i = 0; i < len; i++) {
		char c = text[i];

		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
			continue;
		}
		if (c == '"') {
			in_string = true;
		} else if (c == '[' || c == '{') {
			if (++depth > deepest)
				deepest = depth;
		} else if ((c == ']' || c == '}') && depth > 0) {
			depth--;
		}
	}
	return deepest;
}

json_t *validate_json_object(struct validation *v, const char *body, size_t len)
{
	json_error_t error;
	json_t *root;
	size_t i = 0;

	while (i < len && isspace((unsigned char)body[i]))
		i++;
	if (i == len) {
		validation_add(v, "body", NULL, "missing", json_null(), "Field required");
		return NULL;
	}
	if (validate_json_depth(body, len) > VALIDATE_MAX_JSON_DEPTH) {
		validation_add(v, "body", NULL, "json_invalid", NULL,
			       "JSON decode error: nesting deeper than %d levels", VALIDATE_MAX_JSON_DEPTH);
		return NULL;
	}
	/* NULs are let through the parser so they are reported on the field that holds them. */
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &error);
	if (root == NULL) {
		struct validation_error *e = add_item(v, "body", NULL, "json_invalid", NULL);

		if (e != NULL) {
			e->index = error.position;
			set_msg(e, "JSON decode error: %s", error.text);
		}
		return NULL;
	}
	if (!json_is_object(root)) {
		validation_add(v, "body", NULL, "json_invalid", NULL,
			       "JSON decode error: the body must be a JSON object, not %s",
			       json_is_array(root) ? "an array" : "a scalar");
		json_decref(root);
		return NULL;
	}
	return root;
}

size_t validate_utf8_codepoints(const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			n++;
	return n;
}

/* Decodes one code point from valid UTF-8; returns its length in bytes. */
static size_t utf8_next(const unsigned char *s, size_t len, unsigned *cp)
{
	if (s[0] < 0x80 || len < 2) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xE0) == 0xC0) {
		*cp = ((s[0] & 0x1Fu) << 6) | (s[1] & 0x3Fu);
		return 2;
	}
	if ((s[0] & 0xF0) == 0xE0 && len >= 3) {
		*cp = ((s[0] & 0x0Fu) << 12) | ((s[1] & 0x3Fu) << 6) | (s[2] & 0x3Fu);
		return 3;
	}
	if (len >= 4) {
		*cp = ((s[0] & 0x07u) << 18) | ((s[1] & 0x3Fu) << 12) | ((s[2] & 0x3Fu) << 6) |
		      (s[3] & 0x3Fu);
		return 4;
	}
	*cp = s[0];
	return 1;
}

/* Unicode White_Space, plus the zero-width no-break space (BOM) that renders as nothing. */
static bool is_unicode_space(unsigned cp)
{
	return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 ||
	       cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
	       cp == 0x202F || cp == 0x205F || cp == 0x3000 || cp == 0xFEFF;
}

bool validate_utf8_is_blank(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned cp;

		i += utf8_next((const unsigned char *)s + i, len - i, &cp);
		if (!is_unicode_space(cp))
			return false;
	}
	return true;
}

int validate_string_field(struct validation *v, const char *name, const json_t *value,
			  bool nullable, bool allow_blank, size_t max_chars)
{
	const char *s;
	size_t len;

	if (json_is_null(value) && nullable)
		return 0;
	if (!json_is_string(value)) {
		validation_add(v, "body", name, "string_type", validate_input_copy(value),
			       "Input should be a valid string");
		return -1;
	}
	s = json_string_value(value);
	len = json_string_length(value);
	if (memchr(s, '\0', len) != NULL) {
		validation_add(v, "body", name, "string_pattern_mismatch", NULL,
			       "String should not contain NUL (U+0000) characters");
		return -1;
	}
	if (!allow_blank && validate_utf8_is_blank(s, len)) {
		validation_add(v, "body", name, "string_too_short", validate_input_copy(value),
			       "String should have at least 1 non-whitespace character");
		return -1;
	}
	if (validate_utf8_codepoints(s, len) > max_chars) {
		validation_add(v, "body", name, "string_too_long", validate_input_copy(value),
			       "String should have at most %zu characters", max_chars);
		return -1;
	}
	return 0;
}
