#include "validate.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void validation_init(struct validation *v)
{
	v->n = 0;
}

void validation_add(struct validation *v, const char *where, const char *name,
		    const char *type, const char *input, const char *fmt, ...)
{
	struct validation_error *e;
	va_list ap;

	if (v->n == VALIDATION_MAX)
		return;
	e = &v->items[v->n++];
	snprintf(e->where, sizeof e->where, "%s", where);
	snprintf(e->name, sizeof e->name, "%s", name);
	snprintf(e->type, sizeof e->type, "%s", type);
	e->has_input = input != NULL;
	snprintf(e->input, sizeof e->input, "%s", input ? input : "");
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
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
			validation_add(v, where, name, "less_than_equal", text,
				       "Input should be less than or equal to %llu",
				       (unsigned long long)max);
			return -1;
		}
		value = value * 10 + digit;
	}
	if (negative && value != 0) {
		if (min == 0)
			validation_add(v, where, name, "greater_than_equal", text,
				       "Input should be greater than or equal to 0");
		else
			validation_add(v, where, name, "greater_than_equal", text,
				       "Input should be greater than or equal to %llu",
				       (unsigned long long)min);
		return -1;
	}
	if (value < min) {
		validation_add(v, where, name, "greater_than_equal", text,
			       "Input should be greater than or equal to %llu", (unsigned long long)min);
		return -1;
	}
	if (value > max) {
		validation_add(v, where, name, "less_than_equal", text,
			       "Input should be less than or equal to %llu", (unsigned long long)max);
		return -1;
	}
	*out = value;
	return 0;

not_integer:
	validation_add(v, where, name, "int_parsing", text,
		       "Input should be a valid integer, unable to parse string as an integer");
	return -1;
}

json_t *validation_to_json(const struct validation *v)
{
	json_t *list = json_array();

	for (size_t i = 0; i < v->n; i++) {
		const struct validation_error *e = &v->items[i];
		json_t *item = json_pack("{s:s, s:[s,s], s:s}", "type", e->type, "loc", e->where,
					 e->name, "msg", e->msg);

		if (item != NULL && e->has_input)
			json_object_set_new(item, "input", json_string(e->input));
		json_array_append_new(list, item);
	}
	return json_pack("{s:o}", "detail", list);
}
