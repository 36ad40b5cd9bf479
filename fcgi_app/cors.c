#include "cors.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "xalloc.h"

const char cors_preflight_route[] = "cors_preflight";

/* Always allowed, whatever allow_headers says (Fetch's CORS-safelisted request headers). */
static const char *const safelisted[] = { "Accept", "Accept-Language", "Content-Language", "Content-Type" };

struct cors_policy {
	bool any_origin;  /* allow_origins = "*" */
	bool credentials;
	size_t n_origins;
	char origins[CORS_MAX_ORIGINS][CORS_ORIGIN_MAX]; /* canonical */
	size_t n_methods;
	char methods[CORS_MAX_METHODS][CORS_NAME_MAX];   /* upper-cased */
	size_t n_headers;
	char headers[CORS_MAX_HEADERS][CORS_NAME_MAX];   /* as configured, then the safelisted ones */
	char allow_methods[CORS_MAX_METHODS * (CORS_NAME_MAX + 2)];
	char allow_headers[CORS_MAX_HEADERS * (CORS_NAME_MAX + 2)];
	char max_age[16];
};

/* RFC 9110 5.6.2 tchar. */
static bool is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool is_token(const char *s, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_tchar((unsigned char)s[i]))
			return false;
	return true;
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static char upper(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

/*
 * The next element of a comma-separated list at *s: its start and length
 * without surrounding spaces and tabs (0 for an empty element); *s moves
 * past it. Returns false at the end of the list.
 */
static bool next_element(const char **s, const char **start, size_t *len)
{
	const char *p = *s, *end;

	if (*p == '\0')
		return false;
	while (*p == ' ' || *p == '\t')
		p++;
	end = strchr(p, ',');
	if (end == NULL)
		end = p + strlen(p);
	*s = *end == ',' ? end + 1 : end;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*start = p;
	*len = (size_t)(end - p);
	return true;
}

int cors_origin_canon(const char *s, size_t len, char out[CORS_ORIGIN_MAX], const char **why)
{
	size_t i = 0, o = 0, scheme_len, host_start, host_end;
	unsigned long port = 0;
	bool has_port = false;

	/* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) (RFC 3986 3.1) */
	if (len == 0 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		goto not_origin;
	while (i < len && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
			   (s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '-' || s[i] == '.'))
		i++;
	scheme_len = i;
	if (len - i < 3 || memcmp(s + i, "://", 3) != 0)
		goto not_origin;
	i += 3;
	host_start = i;
	/* user information ("u:p@host") before anything the host parser would call a bad port or host */
	for (size_t k = i; k < len && s[k] != '/' && s[k] != '?' && s[k] != '#'; k++)
		if (s[k] == '@') {
			*why = "has user information (an origin is scheme://host[:port])";
			return -1;
		}
	if (i < len && s[i] == '[') {
		/* An IPv6 literal: hex digits, ':' and '.' (an embedded IPv4) between brackets. */
		for (i++; i < len && s[i] != ']'; i++)
			if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
			      (s[i] >= 'A' && s[i] <= 'F') || s[i] == ':' || s[i] == '.'))
				goto bad_host;
		if (i >= len || i == host_start + 1)
			goto bad_host;
		i++;
	} else {
		while (i < len && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
				   (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '.' || s[i] == '_' ||
				   s[i] == '~'))
			i++;
		if (i == host_start)
			goto bad_host_or_other;
	}
	host_end = i;
	if (i < len && s[i] == ':') {
		size_t digits = 0;

		has_port = true;
		for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, digits++) {
			port = port * 10 + (unsigned long)(s[i] - '0');
			if (port > 65535)
				break;
		}
		if (digits == 0 || port == 0 || port > 65535) {
			*why = "has an invalid port (1 to 65535)";
			return -1;
		}
	}
	if (i < len)
		goto bad_host_or_other;
	if (len + 1 > CORS_ORIGIN_MAX) {
		*why = "is too long";
		return -1;
	}
	for (size_t k = 0; k < scheme_len; k++)
		out[o++] = lower(s[k]);
	memcpy(out + o, "://", 3);
	o += 3;
	for (size_t k = host_start; k < host_end; k++)
		out[o++] = lower(s[k]);
	out[o] = '\0';
	if (has_port && !((strncmp(out, "http://", 7) == 0 && port == 80) ||
			  (strncmp(out, "https://", 8) == 0 && port == 443)))
		o += (size_t)snprintf(out + o, CORS_ORIGIN_MAX - o, ":%lu", port);
	return 0;

bad_host_or_other:
	/* What stopped the host says what the text has beyond an origin. */
	if (i < len && (s[i] == '/' || s[i] == '?' || s[i] == '#')) {
		*why = "has a path, query or fragment (an origin is scheme://host[:port], without a trailing '/')";
		return -1;
	}
bad_host:
	*why = "has an invalid host";
	return -1;
not_origin:
	*why = "is not an origin (scheme://host[:port], e.g. https://app.example.com)";
	return -1;
}

/* Parses allow_origins into p (p NULL: only checks); every problem goes to problems. */
static void parse_origins(const char *list, bool credentials, struct cors_policy *p,
			  struct config_problems *problems)
{
	const char *s = list, *e;
	size_t len, n = 0, stars = 0, others = 0;
	char canon[CORS_ORIGIN_MAX];
	const char *why;

	while (next_element(&s, &e, &len)) {
		if (len == 0)
			continue;
		if (len == 1 && e[0] == '*') {
			stars++;
			continue;
		}
		others++;
		if (cors_origin_canon(e, len, canon, &why) < 0) {
			config_problem(problems, "cors.allow_origins: '%.*s' %s", (int)(len < 200 ? len : 200), e, why);
			continue;
		}
		if (n == CORS_MAX_ORIGINS) {
			config_problem(problems, "cors.allow_origins lists more than %d origins", CORS_MAX_ORIGINS);
			return;
		}
		if (p != NULL)
			memcpy(p->origins[n], canon, sizeof canon);
		n++;
	}
	if (stars > 0 && others > 0)
		config_problem(problems, "cors.allow_origins: '*' allows every origin and must be the only entry");
	if (stars == 0 && others == 0)
		config_problem(problems, "cors.allow_origins lists no origin (leave it empty to turn CORS off)");
	if (stars > 0 && credentials)
		config_problem(problems, "cors.allow_origins = * cannot be used with cors.allow_credentials "
			       "(browsers refuse it): list the origins");
	if (p != NULL) {
		p->n_origins = n;
		p->any_origin = stars > 0 && n == 0;
	}
}

/*
 * Parses a list of methods or header names (key names it in messages) into
 * names (max of them; NULL: only checks), upper-cased when up. Returns the count.
 */
static size_t parse_names(const char *key, const char *list, char (*names)[CORS_NAME_MAX], size_t max,
			  bool up, struct config_problems *problems)
{
	const char *s = list, *e;
	size_t len, n = 0;

	while (next_element(&s, &e, &len)) {
		if (len == 0)
			continue;
		if (len == 1 && e[0] == '*') {
			config_problem(problems, "%s: '*' is not supported: list the names", key);
			continue;
		}
		if (!is_token(e, len) || len >= CORS_NAME_MAX) {
			config_problem(problems, "%s: '%.*s' is not a valid name (an HTTP token of at most %d characters)",
				       key, (int)(len < 200 ? len : 200), e, CORS_NAME_MAX - 1);
			continue;
		}
		if (n == max) {
			config_problem(problems, "%s lists more than %zu names", key, max);
			return n;
		}
		if (names != NULL) {
			for (size_t k = 0; k < len; k++)
				names[n][k] = up ? upper(e[k]) : e[k];
			names[n][len] = '\0';
		}
		n++;
	}
	return n;
}

void cors_check(const struct config *cfg, struct config_problems *problems)
{
	if (cfg->cors.allow_origins[0] == '\0')
		return;
	parse_origins(cfg->cors.allow_origins, cfg->cors.allow_credentials, NULL, problems);
	parse_names("cors.allow_methods", cfg->cors.allow_methods, NULL, CORS_MAX_METHODS, true, problems);
	parse_names("cors.allow_headers", cfg->cors.allow_headers, NULL,
		    CORS_MAX_HEADERS - sizeof safelisted / sizeof safelisted[0], false, problems);
}

static bool has_header(const struct cors_policy *p, const char *name, size_t len)
{
	for (size_t i = 0; i < p->n_headers; i++)
		if (strlen(p->headers[i]) == len && strncasecmp(p->headers[i], name, len) == 0)
			return true;
	return false;
}

/* "A, B, C" of names into out (sized for the most names there can be). */
static void join(char (*names)[CORS_NAME_MAX], size_t n, char *out)
{
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			strcat(out, ", ");
		strcat(out, names[i]);
	}
}

int cors_policy_new(const struct config *cfg, struct cors_policy **out, char *err, size_t errlen)
{
	struct config_problems problems;
	struct cors_policy *p;

	*out = NULL;
	if (cfg->cors.allow_origins[0] == '\0')
		return 0;
	config_problems_init(&problems);
	p = xcalloc(1, sizeof *p);
	parse_origins(cfg->cors.allow_origins, cfg->cors.allow_credentials, p, &problems);
	p->n_methods = parse_names("cors.allow_methods", cfg->cors.allow_methods, p->methods,
				   CORS_MAX_METHODS, true, &problems);
	p->n_headers = parse_names("cors.allow_headers", cfg->cors.allow_headers, p->headers,
				   CORS_MAX_HEADERS - sizeof safelisted / sizeof safelisted[0], false, &problems);
	if (config_problems_count(&problems) > 0) {
		config_problems_summary(&problems, err, errlen);
		cors_policy_free(p);
		return -1;
	}
	for (size_t i = 0; i < sizeof safelisted / sizeof safelisted[0]; i++)
		if (!has_header(p, safelisted[i], strlen(safelisted[i])))
			snprintf(p->headers[p->n_headers++], CORS_NAME_MAX, "%s", safelisted[i]);
	p->credentials = cfg->cors.allow_credentials;
	join(p->methods, p->n_methods, p->allow_methods);
	join(p->headers, p->n_headers, p->allow_headers);
	snprintf(p->max_age, sizeof p->max_age, "%d", cfg->cors.max_age);
	*out = p;
	return 0;
}

void cors_policy_free(struct cors_policy *p)
{
	free(p);
}

bool cors_origin_allowed(const struct cors_policy *p, const char *origin)
{
	char canon[CORS_ORIGIN_MAX];
	const char *why;

	if (p == NULL || origin == NULL)
		return false;
	if (p->any_origin)
		return true;
	if (cors_origin_canon(origin, strlen(origin), canon, &why) < 0)
		return false;
	for (size_t i = 0; i < p->n_origins; i++)
		if (strcmp(p->origins[i], canon) == 0)
			return true;
	return false;
}

bool cors_method_allowed(const struct cors_policy *p, const char *method)
{
	if (p == NULL || method == NULL)
		return false;
	for (size_t i = 0; i < p->n_methods; i++)
		if (strcmp(p->methods[i], method) == 0)
			return true;
	return false;
}

bool cors_headers_allowed(const struct cors_policy *p, const char *list)
{
	const char *s = list, *e;
	size_t len;

	if (p == NULL)
		return false;
	if (list == NULL)
		return true;
	while (next_element(&s, &e, &len))
		if (len > 0 && !has_header(p, e, len))
			return false;
	return true;
}

bool cors_is_preflight(const struct cors_policy *p, const struct request *req)
{
	return p != NULL && req->method == HTTP_OPTIONS && req->origin != NULL &&
	       req->cors_request_method != NULL;
}

/* The configured names a request list asks for, in the configured order: only names of ours go out. */
static void requested_headers(const struct cors_policy *p, const char *list, char *out)
{
	bool asked[CORS_MAX_HEADERS] = { false };
	const char *s = list, *e;
	size_t len;

	while (next_element(&s, &e, &len))
		for (size_t i = 0; i < p->n_headers; i++)
			if (strlen(p->headers[i]) == len && strncasecmp(p->headers[i], e, len) == 0)
				asked[i] = true;
	out[0] = '\0';
	for (size_t i = 0; i < p->n_headers; i++) {
		if (!asked[i])
			continue;
		if (out[0] != '\0')
			strcat(out, ", ");
		strcat(out, p->headers[i]);
	}
}

/*
 * Access-Control-Allow-Origin's value: "*" for a policy of any origin (never
 * with credentials: cors_check refuses that), else the request's Origin,
 * which passed cors_origin_canon: no CR, LF or anything odd is echoed.
 */
static const char *allow_origin_value(const struct cors_policy *p, const struct request *req)
{
	return p->any_origin ? "*" : req->origin;
}

void cors_preflight(const struct cors_policy *p, const struct request *req, struct response *resp)
{
	bool origin_ok = cors_origin_allowed(p, req->origin);
	bool method_ok = cors_method_allowed(p, req->cors_request_method);
	bool headers_ok = cors_headers_allowed(p, req->cors_request_headers);
	char detail[64];
	char asked[sizeof p->allow_headers];

	if (!origin_ok || !method_ok || !headers_ok) {
		/* Starlette's text: "Disallowed CORS origin, method, headers", naming those refused. */
		snprintf(detail, sizeof detail, "Disallowed CORS %s%s%s%s%s", origin_ok ? "" : "origin",
			 !origin_ok && !method_ok ? ", " : "", method_ok ? "" : "method",
			 (!origin_ok || !method_ok) && !headers_ok ? ", " : "", headers_ok ? "" : "headers");
		response_error(resp, 400, detail);
		response_header(resp, "Vary", "Origin");
		return;
	}
	response_empty(resp, 204);
	response_header(resp, "Access-Control-Allow-Origin", allow_origin_value(p, req));
	response_header(resp, "Access-Control-Allow-Methods", p->allow_methods);
	if (req->cors_request_headers != NULL) {
		requested_headers(p, req->cors_request_headers, asked);
		if (asked[0] != '\0')
			response_header(resp, "Access-Control-Allow-Headers", asked);
	} else {
		response_header(resp, "Access-Control-Allow-Headers", p->allow_headers);
	}
	response_header(resp, "Access-Control-Max-Age", p->max_age);
	if (p->credentials)
		response_header(resp, "Access-Control-Allow-Credentials", "true");
	response_header(resp, "Vary", "Origin");
}

void cors_decorate(const struct cors_policy *p, const struct request *req, struct response *resp)
{
	if (p == NULL)
		return;
	response_header(resp, "Vary", "Origin");
	if (!cors_origin_allowed(p, req->origin))
		return;
	response_header(resp, "Access-Control-Allow-Origin", allow_origin_value(p, req));
	response_header(resp, "Access-Control-Expose-Headers", CORS_EXPOSE_HEADERS);
	if (p->credentials)
		response_header(resp, "Access-Control-Allow-Credentials", "true");
}
