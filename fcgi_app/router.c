#include "router.h"

#include <stdio.h>
#include <string.h>

/*
 * Matches path against pattern. Returns 1 on a match and sets the argument
 * segment; 0 otherwise.
 */
static int match_pattern(const char *pattern, const char *path, size_t len,
			 const char **arg, size_t *arg_len)
{
	const char *p = pattern;
	size_t i = 0;

	*arg = NULL;
	*arg_len = 0;
	while (*p != '\0') {
		if (*p == '{') {
			size_t start = i;

			while (*p != '\0' && *p != '}')
				p++;
			if (*p == '}')
				p++;
			while (i < len && path[i] != '/')
				i++;
			if (i == start)
				return 0;
			*arg = path + start;
			*arg_len = i - start;
			continue;
		}
		if (i >= len || path[i] != *p)
			return 0;
		i++;
		p++;
	}
	return i == len;
}

enum router_result router_match(const struct route *routes, size_t n_routes,
				enum http_method method, const char *path, size_t path_len,
				struct route_match *out)
{
	unsigned want = method == HTTP_HEAD ? (HTTP_HEAD | HTTP_GET) : (unsigned)method;

	memset(out, 0, sizeof *out);
	/* "/tasks/" and "/tasks" name the same resource. */
	if (path_len > 1 && path[path_len - 1] == '/')
		path_len--;
	for (size_t i = 0; i < n_routes; i++) {
		const char *arg;
		size_t arg_len;

		if (!match_pattern(routes[i].pattern, path, path_len, &arg, &arg_len))
			continue;
		out->allowed |= routes[i].methods;
		if (routes[i].methods & HTTP_GET)
			out->allowed |= HTTP_HEAD;
		if (out->route == NULL && want != HTTP_OTHER && (routes[i].methods & want)) {
			out->route = &routes[i];
			out->arg = arg;
			out->arg_len = arg_len;
		}
	}
	if (out->route != NULL)
		return ROUTER_MATCH;
	return out->allowed ? ROUTER_METHOD_NOT_ALLOWED : ROUTER_NOT_FOUND;
}

void router_format_allow(unsigned methods, char *out, size_t outlen)
{
	static const enum http_method order[] = {
		HTTP_GET, HTTP_HEAD, HTTP_POST, HTTP_PUT, HTTP_PATCH, HTTP_DELETE, HTTP_OPTIONS
	};
	size_t used = 0;

	if (outlen == 0)
		return;
	out[0] = '\0';
	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
		int n;

		if (!(methods & order[i]))
			continue;
		n = snprintf(out + used, outlen - used, "%s%s", used ? ", " : "",
			     request_method_name(order[i]));
		if (n < 0 || (size_t)n >= outlen - used)
			return;
		used += (size_t)n;
	}
}
