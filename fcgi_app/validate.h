#ifndef TASKAPI_VALIDATE_H
#define TASKAPI_VALIDATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Input validation in the seed's (FastAPI/pydantic) shape: every problem
 * found is collected, not just the first, and rendered as
 *   {"detail": [{"type": ..., "loc": [where, name], "msg": ..., "input": ...}]}
 * The struct is caller-owned with fixed-size text (jansson's json_error_t
 * habit); only the optional "input" values are JSON references, released by
 * validation_release().
 */
#define VALIDATION_MAX 16
/*
 * A query value echoed as "input" longer than this, or not valid UTF-8, is
 * repaired and cut on a character boundary (utf8.h), ending in "...".
 */
#define VALIDATE_INPUT_MAX_BYTES 256
/*
 * A body value echoed as "input" (validate_input_copy): a string longer than
 * this is cut on a character boundary, ending in "..."; an array or object
 * whose JSON text is longer is left out (the item has no "input"). Room for
 * the longest refused field in full: 256 code points of 4 bytes.
 */
#define VALIDATE_BODY_INPUT_MAX_BYTES 1024

struct validation_error {
	char where[8];  /* "query", "body", "path" */
	char name[48];  /* "" for a loc of one element, e.g. ["body"]; a longer or
			 * invalid UTF-8 name (a body key) is cut on a character
			 * boundary, ending in "...", and repaired (utf8.h) */
	long index;     /* >= 0: the second loc element is this number instead of name */
	char type[32];
	char msg[160];  /* valid UTF-8, cut on a character boundary like name */
	json_t *input;  /* owned; NULL when none */
};

struct validation {
	size_t n;
	struct validation_error items[VALIDATION_MAX];
};

void validation_init(struct validation *v);
/* Drops the input references; the struct can be reused after validation_init. */
void validation_release(struct validation *v);

/*
 * Records one problem. Steals the reference to input (jansson's
 * json_object_set_new convention; input may be NULL): the caller must not use
 * or json_decref it afterwards. Problems beyond VALIDATION_MAX are dropped, and
 * their input released.
 */
void validation_add(struct validation *v, const char *where, const char *name,
		    const char *type, json_t *input, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

/*
 * A body value as the "input" of a problem, bounded (VALIDATE_BODY_INPUT_MAX_BYTES):
 * a new reference for validation_add, or NULL to leave "input" out.
 */
json_t *validate_input_copy(const json_t *value);

/* {"detail": [...]}; new reference. The validation keeps its own references. */
json_t *validation_to_json(const struct validation *v);

/* ---- query and path parameters -------------------------------------- */

/*
 * Parses a decimal integer (text may be NULL: *out keeps its default) within
 * [min, max]. On failure records a problem under (where, name), returns -1.
 */
int validate_uint(struct validation *v, const char *where, const char *name,
		  const char *text, uint64_t min, uint64_t max, uint64_t *out);

/*
 * Input rules. LAX is pydantic v2's default, the seed's: a boolean is
 * true/false, 1/0, yes/no, on/off, t/f, y/n in any case, and in a JSON body
 * also the number 0 or 1 (0.0 and 1.0 too). STRICT is taskapi's older rule:
 * the words true/false, 1/0, yes/no, on/off in a query, JSON true/false only
 * in a body. The caller picks (config.h api.strict); callers also use it for
 * their own rules (tasks.h: unknown body fields).
 */
enum validate_mode {
	VALIDATE_LAX,
	VALIDATE_STRICT
};

/*
 * Parses a boolean query value (always text: a refused one is bool_parsing).
 * NULL keeps the default and returns 0.
 */
int validate_bool_text(struct validation *v, const char *where, const char *name,
		       const char *text, enum validate_mode mode, bool *out);

/*
 * Parses a boolean body value as pydantic does for JSON input. Refused:
 * bool_parsing ("unable to interpret input") for a string outside the set
 * or a number other than 0/1; bool_type for anything else (null, an array,
 * an object, a fractional number, and in STRICT every non-boolean).
 * Records the problem under ("body", name) and returns -1.
 */
int validate_bool_json(struct validation *v, const char *name, const json_t *value,
		       enum validate_mode mode, bool *out);

/* ---- JSON bodies ----------------------------------------------------- */

/* Nesting depth allowed in a request body; deeper is refused before parsing. */
#define VALIDATE_MAX_JSON_DEPTH 32

enum body_media {
	BODY_MEDIA_JSON,        /* application/json (any charset param), or no Content-Type */
	BODY_MEDIA_MERGE_PATCH, /* application/merge-patch+json */
	BODY_MEDIA_OTHER
};

/* Classifies a Content-Type header value (NULL = absent). */
enum body_media validate_media_type(const char *content_type);

/* Deepest nesting of arrays/objects in a JSON text (strings are skipped). */
size_t validate_json_depth(const char *text, size_t len);

/*
 * Parses a body that must be a JSON object. On success returns a new
 * reference. Otherwise records a json_invalid (or missing, for an empty
 * body) problem and returns NULL.
 */
json_t *validate_json_object(struct validation *v, const char *body, size_t len);

/* ---- strings ---------------------------------------------------------- */

/* Unicode code points in valid UTF-8 text. */
size_t validate_utf8_codepoints(const char *s, size_t len);
/* True when the text holds only Unicode white space (or nothing). */
bool validate_utf8_is_blank(const char *s, size_t len);

/*
 * Checks a string field of a body object: must be a JSON string (or null
 * when nullable), without NUL characters, not blank when !allow_blank, at
 * most max_chars code points. Returns 0 when valid.
 */
int validate_string_field(struct validation *v, const char *name, const json_t *value,
			  bool nullable, bool allow_blank, size_t max_chars);

#endif
