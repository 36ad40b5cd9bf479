/* The router and docs/openapi.yaml (compiled in as openapi_json) describe the same API. */
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "openapi.h"
#include "unit.h"

/* "/tasks/{task_id}/" -> "/tasks/{}" : trailing slash and parameter names do not matter. */
static void normalise(const char *in, char *out, size_t outlen)
{
	size_t n = 0;

	while (*in && n < outlen - 3) {
		if (*in == '{') {
			out[n++] = '{';
			out[n++] = '}';
			while (*in && *in != '}')
				in++;
			if (*in)
				in++;
			continue;
		}
		out[n++] = *in++;
	}
	if (n > 1 && out[n - 1] == '/')
		n--;
	out[n] = '\0';
}

static json_t *load_doc(void)
{
	json_error_t err;
	json_t *doc = json_loadb((const char *)openapi_json, openapi_json_len, 0, &err);

	ck_assert_msg(doc != NULL, "openapi_json does not parse: %s", err.text);
	return doc;
}

static const char *method_key(enum http_method m)
{
	switch (m) {
	case HTTP_GET: return "get";
	case HTTP_POST: return "post";
	case HTTP_PUT: return "put";
	case HTTP_PATCH: return "patch";
	case HTTP_DELETE: return "delete";
	default: return NULL;
	}
}

/* "patch" -> HTTP_PATCH */
static enum http_method method_from_key(const char *key)
{
	char upper[16];
	size_t i;

	for (i = 0; key[i] && i < sizeof upper - 1; i++)
		upper[i] = (char)(key[i] >= 'a' && key[i] <= 'z' ? key[i] - 32 : key[i]);
	upper[i] = '\0';
	return request_method_parse(upper);
}

START_TEST(test_every_route_is_documented)
{
	json_t *doc = load_doc(), *paths = json_object_get(doc, "paths");

	ck_assert_str_eq(json_string_value(json_object_get(doc, "openapi")), "3.1.0");
	for (size_t i = 0; i < app_n_routes; i++) {
		char want[128];
		int found = 0;

		normalise(app_routes[i].pattern, want, sizeof want);
		for (unsigned m = HTTP_GET; m <= HTTP_OPTIONS; m <<= 1) {
			const char *key, *mk = method_key((enum http_method)m);
			json_t *item;

			if (!(app_routes[i].methods & m) || mk == NULL)
				continue;
			json_object_foreach(paths, key, item) {
				char have[128];

				normalise(key, have, sizeof have);
				if (strcmp(have, want) == 0 && json_object_get(item, mk) != NULL)
					found = 1;
			}
			ck_assert_msg(found, "route %s %s is missing from docs/openapi.yaml", mk, want);
		}
	}
	json_decref(doc);
}
END_TEST

START_TEST(test_every_documented_operation_is_routed)
{
	json_t *doc = load_doc(), *paths = json_object_get(doc, "paths"), *item;
	const char *key;

	json_object_foreach(paths, key, item) {
		const char *mk;
		json_t *op;
		char have[128];

		normalise(key, have, sizeof have);
		json_object_foreach(item, mk, op) {
			enum http_method m = method_from_key(mk);
			struct route_match rm;

			if (strcmp(mk, "parameters") == 0 || strcmp(mk, "summary") == 0 ||
			    strcmp(mk, "description") == 0)
				continue;
			ck_assert_msg(m != HTTP_OTHER, "unexpected operation key %s under %s", mk, key);
			/* "/tasks/{}" is asked as "/tasks/1" */
			{
				char path[128];
				char *brace = strstr(have, "{}");

				if (brace != NULL)
					snprintf(path, sizeof path, "%.*s1%s", (int)(brace - have), have, brace + 2);
				else
					snprintf(path, sizeof path, "%s", have);
				ck_assert_msg(router_match(app_routes, app_n_routes, m, path, strlen(path), &rm) ==
						      ROUTER_MATCH,
					      "documented %s %s has no route", mk, key);
			}
			(void)op;
		}
	}
	json_decref(doc);
}
END_TEST

Suite *unit_suite(void)
{
	return unit_suite_of("openapi", NULL, NULL, test_every_route_is_documented,
			     test_every_documented_operation_is_routed);
}
