/*
 * fuzz_body: the JSON body of POST /tasks and PATCH /tasks/{id} through
 * tasks.c's validation (validate.h, tasks_parse_fields).
 *
 * Input: one byte of choices (bit 0: create, else patch; bits 1-3: the
 * Content-Type, 7 = the first line of the rest; bit 4: strict input rules,
 * else lax), then the body. Checked
 * beyond "no crash":
 * - validate_json_object returns an object exactly when it records no
 *   problem, and refuses nesting deeper than VALIDATE_MAX_JSON_DEPTH;
 * - tasks_parse_fields succeeds exactly when it records no problem, and then
 *   the fields are what the database takes: a title that is valid UTF-8 of
 *   1..TASK_TITLE_MAX_CHARS code points without NUL (present on create), a
 *   description NULL or valid UTF-8 of at most TASK_DESCRIPTION_MAX_CHARS;
 * - the 422 answer holds one item per problem (none dropped), each with a
 *   type, a message and a loc of ["body"] or ["body", name], and the whole
 *   answer is well-formed (fuzz_check_answer).
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "response.h"
#include "tasks.h"
#include "validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const media_types[] = {
	NULL, "application/json", "application/json; charset=utf-8", "application/merge-patch+json",
	"text/plain", "APPLICATION/JSON ; charset=\"UTF-8\"", "application/jsonx",
};

/* Code points of valid UTF-8 without NUL, or -1. */
static long utf8_chars(const char *s, size_t len)
{
	long chars = 0;

	for (size_t i = 0; i < len; chars++) {
		unsigned char c = (unsigned char)s[i];
		size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
		unsigned long cp;

		if (c == 0 || n == 0 || i + n > len)
			return -1;
		cp = n == 1 ? c : n == 2 ? c & 0x1f : n == 3 ? c & 0x0f : c & 0x07;
		for (size_t k = 1; k < n; k++) {
			if (((unsigned char)s[i + k] & 0xc0) != 0x80)
				return -1;
			cp = cp << 6 | ((unsigned char)s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return -1;
		i += n;
	}
	return chars;
}

static void check_fields(const struct task_fields *f, bool for_create)
{
	if (for_create)
		FUZZ_CHECK(f->set_title, "a valid create body without a title");
	if (f->set_title) {
		long n = utf8_chars(f->title, f->title_len);

		FUZZ_CHECK(n >= 1 && n <= TASK_TITLE_MAX_CHARS && f->title_len <= TASK_TITLE_MAX_BYTES,
			   "a title of %zu bytes (%ld code points) passed validation", f->title_len, n);
		FUZZ_CHECK(strspn(f->title, " \t\r\n") < f->title_len, "a blank title passed validation");
	}
	if (f->set_description && f->description != NULL) {
		long n = utf8_chars(f->description, f->description_len);

		FUZZ_CHECK(n >= 0 && n <= TASK_DESCRIPTION_MAX_CHARS && f->description_len <= TASK_DESCRIPTION_MAX_BYTES,
			   "a description of %zu bytes (%ld code points) passed validation", f->description_len, n);
	}
}

/* The 422 answer: one well-formed item per recorded problem. */
static void check_422(struct validation *v)
{
	struct response resp;
	struct buf out;
	json_t *doc = validation_to_json(v);
	json_t *detail = json_object_get(doc, "detail");

	FUZZ_CHECK(json_is_array(detail), "validation_to_json without a detail array");
	FUZZ_CHECK(json_array_size(detail) == v->n, "%zu problems recorded, %zu in the answer", v->n,
		   json_array_size(detail));
	for (size_t i = 0; i < v->n; i++) {
		json_t *item = json_array_get(detail, i);
		json_t *loc = json_object_get(item, "loc");
		const struct validation_error *e = &v->items[i];
		size_t want = e->index >= 0 || e->name[0] != '\0' ? 2 : 1;

		FUZZ_CHECK(json_string_length(json_object_get(item, "type")) > 0 &&
				   json_string_length(json_object_get(item, "msg")) > 0,
			   "item %zu without a type or msg", i);
		FUZZ_CHECK(json_array_size(loc) == want, "item %zu (%s, name \"%s\"): a loc of %zu elements, not %zu",
			   i, e->type, e->name, json_array_size(loc), want);
		FUZZ_CHECK(strcmp(e->where, "body") == 0 && fuzz_json_is(json_array_get(loc, 0), "body"),
			   "item %zu: a loc that does not start with body", i);
		FUZZ_CHECK((e->input == NULL) == (json_object_get(item, "input") == NULL), "item %zu lost its input", i);
	}
	json_decref(doc);
	response_init(&resp);
	buf_init(&out);
	response_json(&resp, 422, validation_to_json(v));
	response_serialize(&resp, false, &out);
	FUZZ_CHECK(fuzz_check_answer(out.data, out.len, false, false) == 422, "not a 422");
	buf_release(&out);
	response_release(&resp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct validation v;
	struct task_fields f;
	const char *content_type = NULL;
	char *copy, *body;
	size_t body_len;
	bool for_create;
	unsigned pick;
	enum validate_mode mode;
	json_t *obj;

	if (size < 1)
		return 0;
	for_create = data[0] & 1;
	pick = (data[0] >> 1) & 7;
	mode = (data[0] & 16) ? VALIDATE_STRICT : VALIDATE_LAX;
	/* A NUL-terminated copy, as request_read_body leaves the body. */
	copy = malloc(size);
	FUZZ_CHECK(copy != NULL, "out of memory");
	memcpy(copy, data + 1, size - 1);
	copy[size - 1] = '\0';
	body = copy;
	body_len = size - 1;
	if (pick == 7) {
		char *nl = memchr(copy, '\n', body_len);

		content_type = copy;
		if (nl != NULL) {
			*nl = '\0';
			body = nl + 1;
			body_len -= (size_t)(body - copy);
		} else {
			body = copy + body_len;
			body_len = 0;
		}
	} else {
		content_type = media_types[pick];
	}
	(void)validate_media_type(content_type);

	validation_init(&v);
	obj = validate_json_object(&v, body, body_len);
	FUZZ_CHECK((obj != NULL) == (v.n == 0), "an object with %zu problems", v.n);
	FUZZ_CHECK(obj == NULL || json_is_object(obj), "validate_json_object returned a non-object");
	if (obj != NULL)
		FUZZ_CHECK(validate_json_depth(body, body_len) <= VALIDATE_MAX_JSON_DEPTH,
			   "a body nested %zu deep was parsed", validate_json_depth(body, body_len));
	if (obj != NULL) {
		int rc = tasks_parse_fields(&v, obj, for_create, mode, &f);

		FUZZ_CHECK((rc == 0) == (v.n == 0), "tasks_parse_fields %d with %zu problems", rc, v.n);
		if (rc == 0)
			check_fields(&f, for_create);
	}
	if (v.n > 0)
		check_422(&v);
	validation_release(&v);
	json_decref(obj);
	free(copy);
	return 0;
}
