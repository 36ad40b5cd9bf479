/* Unit tests for the pure parts of tasks.c: body fields, ETags. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasks.h"
#include "unit.h"

static json_t *parse(const char *text)
{
	json_error_t err;
	json_t *j = json_loads(text, JSON_ALLOW_NUL, &err);

	ck_assert_msg(j != NULL, "bad test JSON: %s", err.text);
	return j;
}

static const char *first_type(const struct validation *v, const char *name)
{
	for (size_t i = 0; i < v->n; i++)
		if (strcmp(v->items[i].name, name) == 0)
			return v->items[i].type;
	return NULL;
}

START_TEST(test_create_valid)
{
	struct validation v;
	struct task_fields f;
	json_t *body = parse("{\"title\":\"Buy milk\",\"description\":null,\"is_completed\":true}");

	validation_init(&v);
	ck_assert_int_eq(tasks_parse_fields(&v, body, true, VALIDATE_LAX, &f), 0);
	ck_assert(f.set_title);
	ck_assert_uint_eq(f.title_len, 8);
	ck_assert(f.set_description);
	ck_assert_ptr_null(f.description);
	ck_assert(f.set_completed && f.is_completed);
	json_decref(body);
}
END_TEST

START_TEST(test_create_lists_every_problem)
{
	struct validation v;
	struct task_fields f;
	json_t *body = parse("{\"description\": 5, \"is_completed\": \"yes\", \"id\": 3}");

	validation_init(&v);
	ck_assert_int_eq(tasks_parse_fields(&v, body, true, VALIDATE_STRICT, &f), -1);
	ck_assert_uint_eq(v.n, 4);
	ck_assert_str_eq(first_type(&v, "title"), "missing");
	ck_assert_str_eq(first_type(&v, "description"), "string_type");
	ck_assert_str_eq(first_type(&v, "is_completed"), "bool_type");
	ck_assert_str_eq(first_type(&v, "id"), "extra_forbidden");
	validation_release(&v);
	json_decref(body);
}
END_TEST

START_TEST(test_title_rules)
{
	static const struct {
		const char *body;
		const char *type; /* NULL = valid */
	} cases[] = {
		{ "{\"title\":\"\"}", "string_too_short" },
		{ "{\"title\":\"   \\t\\n\"}", "string_too_short" },
		{ "{\"title\":\"\\u3000\\u00a0\"}", "string_too_short" },
		{ "{\"title\":null}", "string_type" },
		{ "{\"title\":[\"x\"]}", "string_type" },
		{ "{\"title\":\"a\\u0000b\"}", "string_pattern_mismatch" },
		{ "{\"title\":\"12345678901234567890123456789012345678901234567890\"}", NULL },
		{ "{\"title\":\"123456789012345678901234567890123456789012345678901\"}", "string_too_long" },
		{ "{\"title\":\" x \"}", NULL },
		{ "{\"title\":\"\\u0001 bell \\\\ \\\" quote\"}", NULL },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct validation v;
		struct task_fields f;
		json_t *body = parse(cases[i].body);
		int rc;

		validation_init(&v);
		rc = tasks_parse_fields(&v, body, true, VALIDATE_LAX, &f);
		if (cases[i].type == NULL) {
			ck_assert_msg(rc == 0, "case %zu should be valid", i);
		} else {
			ck_assert_msg(rc == -1, "case %zu should be invalid", i);
			ck_assert_str_eq(first_type(&v, "title"), cases[i].type);
		}
		validation_release(&v);
		json_decref(body);
	}
}
END_TEST

START_TEST(test_fifty_emoji_fit)
{
	struct validation v;
	struct task_fields f;
	char text[16 + 50 * 4];
	json_t *body;

	strcpy(text, "{\"title\":\"");
	for (int i = 0; i < 50; i++)
		strcat(text, "\xf0\x9f\x98\x80");
	strcat(text, "\"}");
	body = parse(text);
	validation_init(&v);
	ck_assert_int_eq(tasks_parse_fields(&v, body, true, VALIDATE_LAX, &f), 0);
	ck_assert_uint_eq(f.title_len, 200);
	json_decref(body);
}
END_TEST

START_TEST(test_patch_fields_optional)
{
	struct validation v;
	struct task_fields f;
	json_t *body = parse("{\"description\":null}");

	validation_init(&v);
	ck_assert_int_eq(tasks_parse_fields(&v, body, false, VALIDATE_LAX, &f), 0);
	ck_assert(!f.set_title && f.set_description && !f.set_completed);
	json_decref(body);
	body = parse("{}");
	ck_assert_int_eq(tasks_parse_fields(&v, body, false, VALIDATE_LAX, &f), 0);
	ck_assert(!f.set_title && !f.set_description && !f.set_completed);
	json_decref(body);
}
END_TEST

/* The seed's model: extra="ignore", lax booleans. */
START_TEST(test_create_lax_ignores_unknown_fields)
{
	struct validation v;
	struct task_fields f;
	json_t *body = parse("{\"title\":\"x\",\"colour\":\"red\",\"id\":99,\"created_at\":\"2000-01-01T00:00:00\","
			     "\"updated_at\":1,\"version\":7,\"owner\":\"mallory\",\"is_completed\":\"yes\"}");

	validation_init(&v);
	ck_assert_int_eq(tasks_parse_fields(&v, body, true, VALIDATE_LAX, &f), 0);
	ck_assert_uint_eq(v.n, 0);
	ck_assert(f.set_title && !f.set_description);
	ck_assert(f.set_completed && f.is_completed);
	json_decref(body);

	/* Ignored fields do not hide the problems of the known ones. */
	body = parse("{\"colour\":\"red\",\"is_completed\":2}");
	ck_assert_int_eq(tasks_parse_fields(&v, body, true, VALIDATE_LAX, &f), -1);
	ck_assert_uint_eq(v.n, 2);
	ck_assert_str_eq(first_type(&v, "title"), "missing");
	ck_assert_str_eq(first_type(&v, "is_completed"), "bool_parsing");
	ck_assert_ptr_null(first_type(&v, "colour"));
	validation_release(&v);
	json_decref(body);
}
END_TEST

START_TEST(test_create_strict_forbids_unknown_fields)
{
	static const char *const keys[] = { "colour", "id", "created_at", "updated_at", "version" };

	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		struct validation v;
		struct task_fields f;
		char text[64];
		json_t *body;

		snprintf(text, sizeof text, "{\"title\":\"x\",\"%s\":1}", keys[i]);
		body = parse(text);
		validation_init(&v);
		ck_assert_int_eq(tasks_parse_fields(&v, body, true, VALIDATE_STRICT, &f), -1);
		ck_assert_uint_eq(v.n, 1);
		ck_assert_str_eq(first_type(&v, keys[i]), "extra_forbidden");
		ck_assert_str_eq(v.items[0].msg, "Extra inputs are not permitted");
		validation_release(&v);
		json_decref(body);
	}
}
END_TEST

/* The merge-patch body is taskapi's own: an unknown key is a 422 in both modes. */
START_TEST(test_patch_unknown_field_refused_in_both_modes)
{
	for (int strict = 0; strict <= 1; strict++) {
		struct validation v;
		struct task_fields f;
		json_t *body = parse("{\"titel\":\"typo\",\"is_completed\":true}");

		validation_init(&v);
		ck_assert_int_eq(tasks_parse_fields(&v, body, false, strict ? VALIDATE_STRICT : VALIDATE_LAX, &f), -1);
		ck_assert_uint_eq(v.n, 1);
		ck_assert_str_eq(first_type(&v, "titel"), "extra_forbidden");
		validation_release(&v);
		json_decref(body);
	}
}
END_TEST

/* is_completed follows the mode on both create and patch bodies. */
START_TEST(test_is_completed_modes)
{
	static const struct {
		const char *value;
		const char *lax;    /* "true"/"false" or the problem type */
		const char *strict;
	} cases[] = {
		{ "true", "true", "true" },         { "false", "false", "false" },
		{ "1", "true", "bool_type" },       { "0", "false", "bool_type" },
		{ "1.0", "true", "bool_type" },     { "\"t\"", "true", "bool_type" },
		{ "\"Off\"", "false", "bool_type" }, { "2", "bool_parsing", "bool_type" },
		{ "\"maybe\"", "bool_parsing", "bool_type" }, { "null", "bool_type", "bool_type" },
		{ "[1]", "bool_type", "bool_type" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		for (int strict = 0; strict <= 1; strict++) {
			for (int create = 0; create <= 1; create++) {
				const char *want = strict ? cases[i].strict : cases[i].lax;
				struct validation v;
				struct task_fields f;
				char text[64];
				json_t *body;
				int rc;

				snprintf(text, sizeof text, "{\"title\":\"x\",\"is_completed\":%s}", cases[i].value);
				body = parse(text);
				validation_init(&v);
				rc = tasks_parse_fields(&v, body, create, strict ? VALIDATE_STRICT : VALIDATE_LAX, &f);
				if (strcmp(want, "true") == 0 || strcmp(want, "false") == 0) {
					ck_assert_msg(rc == 0, "%s refused (strict %d)", cases[i].value, strict);
					ck_assert(f.set_completed);
					ck_assert_msg(f.is_completed == (want[0] == 't'), "%s misread", cases[i].value);
				} else {
					ck_assert_msg(rc == -1, "%s taken (strict %d)", cases[i].value, strict);
					ck_assert_str_eq(first_type(&v, "is_completed"), want);
				}
				validation_release(&v);
				json_decref(body);
			}
		}
	}
}
END_TEST

START_TEST(test_input_mode_from_config)
{
	struct config cfg;

	memset(&cfg, 0, sizeof cfg);
	ck_assert_int_eq(tasks_input_mode(&cfg), VALIDATE_LAX);
	cfg.api.strict = true;
	ck_assert_int_eq(tasks_input_mode(&cfg), VALIDATE_STRICT);
}
END_TEST

Suite *unit_suite(void)
{
	return unit_suite_of("tasks", NULL, NULL, test_create_valid,
			     test_create_lists_every_problem, test_title_rules,
			     test_fifty_emoji_fit, test_patch_fields_optional,
			     test_create_lax_ignores_unknown_fields,
			     test_create_strict_forbids_unknown_fields,
			     test_patch_unknown_field_refused_in_both_modes, test_is_completed_modes,
			     test_input_mode_from_config);
}
