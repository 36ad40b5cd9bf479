/* Unit tests for router.c: matching, trailing slashes, 404 vs 405 and Allow. */
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "router.h"
#include "unit.h"

static void h_list(struct handler_ctx *c) { (void)c; }
static void h_create(struct handler_ctx *c) { (void)c; }
static void h_item(struct handler_ctx *c) { (void)c; }
static void h_health(struct handler_ctx *c) { (void)c; }

static const struct route routes[] = {
	{ HTTP_GET, "/tasks", h_list, "tasks.list", 0 },
	{ HTTP_POST, "/tasks", h_create, "tasks.create", 0 },
	{ HTTP_GET | HTTP_PATCH | HTTP_DELETE, "/tasks/{id}", h_item, "tasks.item", 0 },
	{ HTTP_GET, "/healthz", h_health, "healthz", 0 },
};
#define N (sizeof routes / sizeof routes[0])

static enum router_result match(enum http_method m, const char *path, struct route_match *out)
{
	return router_match(routes, N, m, path, strlen(path), out);
}

START_TEST(test_trailing_slash_optional)
{
	struct route_match m;

	ck_assert_int_eq(match(HTTP_GET, "/tasks", &m), ROUTER_MATCH);
	ck_assert_str_eq(m.route->name, "tasks.list");
	ck_assert_int_eq(match(HTTP_GET, "/tasks/", &m), ROUTER_MATCH);
	ck_assert_str_eq(m.route->name, "tasks.list");
	ck_assert_int_eq(match(HTTP_POST, "/tasks/", &m), ROUTER_MATCH);
	ck_assert_str_eq(m.route->name, "tasks.create");
	ck_assert_int_eq(match(HTTP_GET, "/healthz/", &m), ROUTER_MATCH);
}
END_TEST

START_TEST(test_path_argument)
{
	struct route_match m;

	ck_assert_int_eq(match(HTTP_PATCH, "/tasks/42", &m), ROUTER_MATCH);
	ck_assert_str_eq(m.route->name, "tasks.item");
	ck_assert_uint_eq(m.arg_len, 2);
	ck_assert_int_eq(strncmp(m.arg, "42", 2), 0);
	ck_assert_int_eq(match(HTTP_DELETE, "/tasks/42/", &m), ROUTER_MATCH);
	ck_assert_uint_eq(m.arg_len, 2);
	ck_assert_int_eq(match(HTTP_GET, "/tasks/42/x", &m), ROUTER_NOT_FOUND);
	ck_assert_int_eq(match(HTTP_GET, "/tasks//", &m), ROUTER_NOT_FOUND);
}
END_TEST

START_TEST(test_not_found)
{
	struct route_match m;

	ck_assert_int_eq(match(HTTP_GET, "/", &m), ROUTER_NOT_FOUND);
	ck_assert_int_eq(match(HTTP_GET, "/task", &m), ROUTER_NOT_FOUND);
	ck_assert_int_eq(match(HTTP_GET, "/tasksx", &m), ROUTER_NOT_FOUND);
	ck_assert_int_eq(match(HTTP_GET, "//tasks", &m), ROUTER_NOT_FOUND);
	ck_assert_int_eq(match(HTTP_GET, "/TASKS", &m), ROUTER_NOT_FOUND);
}
END_TEST

START_TEST(test_method_not_allowed_lists_allow)
{
	struct route_match m;
	char allow[64];

	ck_assert_int_eq(match(HTTP_PUT, "/tasks", &m), ROUTER_METHOD_NOT_ALLOWED);
	router_format_allow(m.allowed, allow, sizeof allow);
	ck_assert_str_eq(allow, "GET, HEAD, POST");
	ck_assert_int_eq(match(HTTP_POST, "/tasks/7", &m), ROUTER_METHOD_NOT_ALLOWED);
	router_format_allow(m.allowed, allow, sizeof allow);
	ck_assert_str_eq(allow, "GET, HEAD, PATCH, DELETE");
	ck_assert_int_eq(match(HTTP_OTHER, "/healthz", &m), ROUTER_METHOD_NOT_ALLOWED);
}
END_TEST

START_TEST(test_head_follows_get)
{
	struct route_match m;

	ck_assert_int_eq(match(HTTP_HEAD, "/tasks", &m), ROUTER_MATCH);
	ck_assert_str_eq(m.route->name, "tasks.list");
}
END_TEST

START_TEST(test_app_routes_are_reachable)
{
	/* Every route in the real table answers its own pattern. */
	for (size_t i = 0; i < app_n_routes; i++) {
		struct route_match m;
		const char *p = app_routes[i].pattern;
		char path[128];
		size_t n = 0;
		enum http_method method = HTTP_GET;

		/* "/tasks/{id}" is tried as "/tasks/1" */
		while (*p && n < sizeof path - 2) {
			if (*p == '{') {
				path[n++] = '1';
				while (*p && *p != '}')
					p++;
				if (*p)
					p++;
				continue;
			}
			path[n++] = *p++;
		}
		path[n] = '\0';
		while (!(app_routes[i].methods & method))
			method <<= 1;
		ck_assert_int_eq(router_match(app_routes, app_n_routes, method, path, n, &m),
				 ROUTER_MATCH);
		ck_assert_ptr_eq(m.route, &app_routes[i]);
	}
}
END_TEST

Suite *unit_suite(void)
{
	return unit_suite_of("router", NULL, NULL, test_trailing_slash_optional,
			     test_path_argument, test_not_found,
			     test_method_not_allowed_lists_allow, test_head_follows_get,
			     test_app_routes_are_reachable);
}
