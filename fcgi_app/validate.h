#ifndef TASKAPI_VALIDATE_H
#define TASKAPI_VALIDATE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Validation in the seed's (FastAPI/pydantic) shape: every problem found is
 * collected, not just the first, and rendered as
 *   {"detail": [{"type": ..., "loc": [where, name], "msg": ..., "input": ...}]}
 * The struct is caller-owned with fixed-size text, so collecting errors never
 * allocates (jansson's json_error_t habit).
 */
#define VALIDATION_MAX 16

struct validation_error {
	char where[8];  /* "query", "body", "path" */
	char name[48];
	char type[32];
	char msg[128];
	char input[64]; /* the offending input, truncated; "" when none */
	int has_input;
};

struct validation {
	size_t n;
	struct validation_error items[VALIDATION_MAX];
};

void validation_init(struct validation *v);
/* Records one problem; extra ones beyond VALIDATION_MAX are dropped. */
void validation_add(struct validation *v, const char *where, const char *name,
		    const char *type, const char *input, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

/*
 * Parses a decimal integer parameter (text may be NULL: then *out keeps its
 * default). Range is [min, max]. On failure records a problem under
 * (where, name) and returns -1.
 */
int validate_uint(struct validation *v, const char *where, const char *name,
		  const char *text, uint64_t min, uint64_t max, uint64_t *out);

/* {"detail": [...]} for the collected problems; new reference. */
json_t *validation_to_json(const struct validation *v);

#endif
