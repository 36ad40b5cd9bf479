/* The router and docs/openapi.yaml (compiled in as openapi_json) describe the same API. */
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "auth.h"
#include "docs_ui.h"
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

/*
 * GET /docs and GET /redoc answer HTML pages about the API, not API
 * operations: FastAPI leaves them out of its schema, and so does taskapi.
 */
static int is_docs_page(const struct route *r)
{
	return r->handler == docs_ui_swagger || r->handler == docs_ui_redoc;
}

START_TEST(test_every_route_is_documented)
{
	json_t *doc = load_doc(), *paths = json_object_get(doc, "paths");

	ck_assert_str_eq(json_string_value(json_object_get(doc, "openapi")), "3.1.0");
	for (size_t i = 0; i < app_n_routes; i++) {
		char want[128];
		int found = 0;

		if (is_docs_page(&app_routes[i])) {
			ck_assert_msg(json_object_get(paths, app_routes[i].pattern) == NULL,
				      "%s is a docs page, not an operation: keep it out of docs/openapi.yaml",
				      app_routes[i].pattern);
			continue;
		}
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

/* The operation documenting method mk of route pattern want (normalised), or NULL. */
static json_t *find_operation(json_t *paths, const char *want, const char *mk)
{
	const char *key;
	json_t *item;

	json_object_foreach(paths, key, item) {
		char have[128];

		normalise(key, have, sizeof have);
		if (strcmp(have, want) == 0 && json_object_get(item, mk) != NULL)
			return json_object_get(item, mk);
	}
	return NULL;
}

/* The scope a route's mask asks for, as the document names it: write implies read. */
static const char *scope_name(unsigned scopes)
{
	return scopes & AUTH_SCOPE_WRITE ? "tasks:write" : "tasks:read";
}

/*
 * What the document says about credentials is what app_routes[].scopes
 * enforce: a route without scopes is public (security: [] on its
 * operation), a route with scopes names the one scope it needs, and
 * documents the 401 and 403 that auth_check's refusals become.
 */
START_TEST(test_security_follows_route_scopes)
{
	json_t *doc = load_doc(), *paths = json_object_get(doc, "paths");
	json_t *scheme = json_object_get(json_object_get(json_object_get(doc, "components"),
							 "securitySchemes"), "bearerAuth");
	json_t *top = json_object_get(doc, "security");

	ck_assert_msg(scheme != NULL, "components.securitySchemes.bearerAuth is missing");
	ck_assert_str_eq(json_string_value(json_object_get(scheme, "type")), "http");
	ck_assert_str_eq(json_string_value(json_object_get(scheme, "scheme")), "bearer");
	/* An operation added without a word about security asks for a credential. */
	ck_assert_msg(json_is_array(top) && json_array_size(top) == 1 &&
		      json_is_array(json_object_get(json_array_get(top, 0), "bearerAuth")),
		      "the top-level security is not [{bearerAuth: []}]");

	for (size_t i = 0; i < app_n_routes; i++) {
		char want[128];

		if (is_docs_page(&app_routes[i]))
			continue;
		normalise(app_routes[i].pattern, want, sizeof want);
		for (unsigned m = HTTP_GET; m <= HTTP_OPTIONS; m <<= 1) {
			const char *mk = method_key((enum http_method)m);
			json_t *op, *sec, *roles, *responses;

			if (!(app_routes[i].methods & m) || mk == NULL)
				continue;
			op = find_operation(paths, want, mk);
			ck_assert_msg(op != NULL, "route %s %s is missing from docs/openapi.yaml", mk, want);
			sec = json_object_get(op, "security");
			ck_assert_msg(json_is_array(sec), "%s %s has no security of its own", mk, want);
			if (app_routes[i].scopes == 0) {
				ck_assert_msg(json_array_size(sec) == 0,
					      "%s %s is public: its security must be []", mk, want);
				continue;
			}
			ck_assert_msg(json_array_size(sec) == 1, "%s %s: one security requirement", mk, want);
			roles = json_object_get(json_array_get(sec, 0), "bearerAuth");
			ck_assert_msg(json_is_array(roles) && json_array_size(roles) == 1 &&
				      json_is_string(json_array_get(roles, 0)),
				      "%s %s: security must be [{bearerAuth: [its scope]}]", mk, want);
			ck_assert_msg(strcmp(json_string_value(json_array_get(roles, 0)),
					     scope_name(app_routes[i].scopes)) == 0,
				      "%s %s needs %s, the document says %s", mk, want,
				      scope_name(app_routes[i].scopes), json_string_value(json_array_get(roles, 0)));
			responses = json_object_get(op, "responses");
			ck_assert_msg(json_object_get(responses, "401") != NULL, "%s %s: no 401", mk, want);
			ck_assert_msg(json_object_get(responses, "403") != NULL, "%s %s: no 403", mk, want);
		}
	}
	json_decref(doc);
}
END_TEST

/* The object a local "$ref" ("#/components/...") names, or obj itself when it has none. */
static json_t *resolve(json_t *doc, json_t *obj)
{
	const char *ref = json_string_value(json_object_get(obj, "$ref"));
	char token[128];

	if (ref == NULL)
		return obj;
	ck_assert_msg(strncmp(ref, "#/", 2) == 0, "only local $refs are expected, not %s", ref);
	obj = doc;
	for (const char *p = ref + 2; *p != '\0' && obj != NULL;) {
		size_t n = 0;

		/* JSON pointer: "~1" is "/", "~0" is "~" */
		for (; *p != '\0' && *p != '/' && n < sizeof token - 1; p++) {
			char c = *p;

			if (c == '~' && (p[1] == '0' || p[1] == '1'))
				c = *++p == '1' ? '/' : '~';
			token[n++] = c;
		}
		token[n] = '\0';
		if (*p == '/')
			p++;
		obj = json_object_get(obj, token);
	}
	ck_assert_msg(obj != NULL, "$ref %s does not resolve", ref);
	return obj;
}

/* Whether obj carries an example: a non-null "example", or a non-empty "examples" map. */
static int has_example(const json_t *obj)
{
	const json_t *examples = json_object_get(obj, "examples");

	return json_object_get(obj, "example") != NULL ||
	       (json_is_object(examples) && json_object_size(examples) > 0);
}

/* Every media type of a content map has an example ("what" names it in the failure). */
static void check_content_examples(json_t *content, const char *what, const char *mk, const char *path)
{
	const char *media;
	json_t *mt;

	json_object_foreach(content, media, mt)
		ck_assert_msg(has_example(mt), "%s %s: %s (%s) has no example", mk, path, what, media);
}

static void check_parameter_examples(json_t *doc, json_t *params, const char *mk, const char *path)
{
	size_t i;
	json_t *param;

	json_array_foreach(params, i, param) {
		json_t *p = resolve(doc, param);

		ck_assert_msg(has_example(p), "%s %s: parameter %s has no example", mk, path,
			      json_string_value(json_object_get(p, "name")));
	}
}

/*
 * Every parameter, request body and response body of every operation has an
 * example, and so has every response header: tools that build requests from
 * the document (and tests/e2e/14-openapi-examples.sh) need them, and the
 * linters check that each one fits its schema.
 */
START_TEST(test_everything_has_an_example)
{
	json_t *doc = load_doc(), *paths = json_object_get(doc, "paths"), *item;
	const char *path;
	unsigned operations = 0, responses_seen = 0, api_routes = 0;

	json_object_foreach(paths, path, item) {
		const char *mk;
		json_t *op;

		check_parameter_examples(doc, json_object_get(item, "parameters"), "(every method)", path);
		json_object_foreach(item, mk, op) {
			json_t *body, *responses, *resp;
			const char *code;

			if (method_from_key(mk) == HTTP_OTHER)
				continue;
			operations++;
			check_parameter_examples(doc, json_object_get(op, "parameters"), mk, path);
			body = json_object_get(op, "requestBody");
			if (body != NULL)
				check_content_examples(json_object_get(resolve(doc, body), "content"), "the request body",
						       mk, path);
			responses = json_object_get(op, "responses");
			json_object_foreach(responses, code, resp) {
				json_t *r = resolve(doc, resp), *headers = json_object_get(r, "headers"), *h;
				const char *hname;
				char what[64];

				responses_seen++;
				snprintf(what, sizeof what, "the %s response", code);
				check_content_examples(json_object_get(r, "content"), what, mk, path);
				json_object_foreach(headers, hname, h)
					ck_assert_msg(has_example(resolve(doc, h)), "%s %s: header %s of the %s response has no example",
						      mk, path, hname, code);
			}
		}
	}
	/* The walk saw the document (a renamed key would make it check nothing). */
	for (size_t i = 0; i < app_n_routes; i++)
		api_routes += !is_docs_page(&app_routes[i]);
	ck_assert_uint_ge(operations, api_routes);
	ck_assert_uint_ge(responses_seen, operations * 2);
	json_decref(doc);
}
END_TEST

Suite *unit_suite(void)
{
	return unit_suite_of("openapi", NULL, NULL, test_every_route_is_documented,
			     test_every_documented_operation_is_routed, test_security_follows_route_scopes,
			     test_everything_has_an_example);
}
