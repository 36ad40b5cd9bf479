#include "jwt.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "b64url.h"
#include "utf8.h"
#include "xalloc.h"

/* A part of the token: its text, then where its decoded bytes went. */
struct part {
	const char *text;
	size_t len;
	unsigned char *bytes;
	size_t n;
};

/*
 * Splits token at its two dots into three strict base64url parts and decodes
 * each into store (len bytes: never less than the decoded total). -1 when
 * the token is not that.
 */
static int split(const char *token, size_t len, struct part parts[3], unsigned char *store)
{
	const char *p = token, *end = token + len;
	size_t used = 0;

	for (int i = 0; i < 3; i++) {
		const char *dot = i < 2 ? memchr(p, '.', (size_t)(end - p)) : end;
		long n;

		if (dot == NULL)
			return -1;
		parts[i].text = p;
		parts[i].len = (size_t)(dot - p);
		parts[i].bytes = store + used;
		n = b64url_decode(p, parts[i].len, parts[i].bytes, len - used);
		if (n < 0)
			return -1;
		parts[i].n = (size_t)n;
		used += (size_t)n;
		p = dot + (i < 2);
	}
	/* A third dot lands in the signature, which the alphabet refuses; header and payload are never empty. */
	return parts[0].n > 0 && parts[1].n > 0 ? 0 : -1;
}

/* A JSON object from bytes, duplicate members refused (RFC 7515 5.2 allows refusing them). */
static json_t *object_of(const struct part *p)
{
	json_t *j = json_loadb((const char *)p->bytes, p->n, JSON_REJECT_DUPLICATES, NULL);

	if (j != NULL && !json_is_object(j)) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

/* "typ", when present, says the token is a JWT or an OAuth access token (RFC 9068), nothing else. */
static bool typ_ok(json_t *typ)
{
	static const char *const taken[] = { "JWT", "at+jwt", "application/jwt", "application/at+jwt" };
	const char *s;

	if (typ == NULL)
		return true;
	if (!json_is_string(typ))
		return false;
	s = json_string_value(typ);
	for (size_t i = 0; i < sizeof taken / sizeof taken[0]; i++)
		if (strcasecmp(s, taken[i]) == 0)
			return true;
	return false;
}

/* The header: MALFORMED unless it is one taskapi understands; *alg and *kid point into it. */
static enum auth_reason read_header(json_t *h, enum jwt_alg *alg, const char **kid)
{
	json_t *a = json_object_get(h, "alg"), *k = json_object_get(h, "kid"), *cty = json_object_get(h, "cty");

	if (!json_is_string(a) || json_object_get(h, "crit") != NULL || !typ_ok(json_object_get(h, "typ")))
		return AUTH_REASON_MALFORMED;
	if (k != NULL && (!json_is_string(k) || json_string_length(k) > JWKS_MAX_KID))
		return AUTH_REASON_MALFORMED;
	/* A nested JWT (RFC 7519 5.2) would be a second token inside this one. */
	if (cty != NULL && (!json_is_string(cty) || strcasecmp(json_string_value(cty), "JWT") == 0))
		return AUTH_REASON_MALFORMED;
	*alg = jwt_alg_parse(json_string_value(a));
	*kid = k != NULL ? json_string_value(k) : NULL;
	return AUTH_REASON_NONE;
}

/*
 * A NumericDate claim: 0 with *out, 1 when absent, -1 when not a number.
 * Seconds may have a fraction (RFC 7519 2).
 */
static int time_claim(json_t *claims, const char *name, double *out)
{
	json_t *v = json_object_get(claims, name);

	if (v == NULL)
		return 1;
	if (!json_is_number(v))
		return -1;
	*out = json_number_value(v);
	return 0;
}

static enum auth_reason check_times(json_t *claims, long long now, long leeway)
{
	double exp, nbf, iat, t = (double)now, slack = (double)leeway;
	int r;

	/* Without exp a token would be good forever: taskapi requires it. */
	if (time_claim(claims, "exp", &exp) != 0)
		return AUTH_REASON_BAD_CLAIMS;
	if (!(t < exp + slack))
		return AUTH_REASON_EXPIRED;
	if ((r = time_claim(claims, "nbf", &nbf)) < 0)
		return AUTH_REASON_BAD_CLAIMS;
	if (r == 0 && nbf > t + slack)
		return AUTH_REASON_NOT_YET_VALID;
	if ((r = time_claim(claims, "iat", &iat)) < 0)
		return AUTH_REASON_BAD_CLAIMS;
	if (r == 0 && iat > t + slack)
		return AUTH_REASON_NOT_YET_VALID;
	return AUTH_REASON_NONE;
}

static bool is_string(json_t *v, const char *s)
{
	return json_is_string(v) && strcmp(json_string_value(v), s) == 0;
}

/* "aud": one string or an array of strings (RFC 7519 4.1.3), holding want. */
static bool audience_ok(json_t *aud, const char *want)
{
	json_t *v;
	size_t i;

	if (is_string(aud, want))
		return true;
	if (!json_is_array(aud))
		return false;
	json_array_foreach(aud, i, v)
		if (is_string(v, want))
			return true;
	return false;
}

/* The scopes one space-separated string names. */
static unsigned scopes_in(const char *s, size_t len)
{
	unsigned mask = 0;
	size_t i = 0;

	while (i < len) {
		size_t start, n;

		while (i < len && s[i] == ' ')
			i++;
		start = i;
		while (i < len && s[i] != ' ')
			i++;
		n = i - start;
		if (n == 10 && memcmp(s + start, "tasks:read", 10) == 0)
			mask |= AUTH_SCOPE_READ;
		else if (n == 11 && memcmp(s + start, "tasks:write", 11) == 0)
			mask |= AUTH_SCOPE_WRITE;
	}
	return mask;
}

/* The scopes of a "scope" or "scp" claim: a string, or an array of strings. -1 for another type. */
static int scope_claim(json_t *v, unsigned *mask)
{
	json_t *e;
	size_t i;

	if (v == NULL)
		return 0;
	if (json_is_string(v)) {
		*mask |= scopes_in(json_string_value(v), json_string_length(v));
		return 0;
	}
	if (!json_is_array(v))
		return -1;
	json_array_foreach(v, i, e) {
		if (!json_is_string(e))
			return -1;
		*mask |= scopes_in(json_string_value(e), json_string_length(e));
	}
	return 0;
}

static enum auth_reason read_claims(json_t *claims, const struct jwt_policy *policy, long long now,
				    struct auth_identity *who)
{
	enum auth_reason why = check_times(claims, now, policy->leeway_s);
	json_t *owner, *jti;
	unsigned scopes = 0;

	if (why != AUTH_REASON_NONE)
		return why;
	if (policy->issuer != NULL && policy->issuer[0] != '\0' &&
	    !is_string(json_object_get(claims, "iss"), policy->issuer))
		return AUTH_REASON_BAD_CLAIMS;
	if (policy->audience != NULL && policy->audience[0] != '\0' &&
	    !audience_ok(json_object_get(claims, "aud"), policy->audience))
		return AUTH_REASON_BAD_CLAIMS;
	owner = json_object_get(claims, policy->owner_claim);
	if (!json_is_string(owner))
		return AUTH_REASON_BAD_CLAIMS;
	if (scope_claim(json_object_get(claims, "scope"), &scopes) < 0 ||
	    scope_claim(json_object_get(claims, "scp"), &scopes) < 0)
		return AUTH_REASON_BAD_CLAIMS;
	jti = json_object_get(claims, "jti");
	if (jti != NULL && !json_is_string(jti))
		return AUTH_REASON_BAD_CLAIMS;
	if (auth_identity_set_owner(who, json_string_value(owner), json_string_length(owner)) < 0)
		return AUTH_REASON_BAD_OWNER;
	who->scopes = scopes;
	if (jti != NULL) {
		/* The access log escapes what it writes; the cut keeps whole characters. */
		size_t n = utf8_cut(json_string_value(jti), json_string_length(jti), AUTH_CREDENTIAL_ID_MAX);

		memcpy(who->credential_id, json_string_value(jti), n);
		who->credential_id[n] = '\0';
	}
	return AUTH_REASON_NONE;
}

enum auth_reason jwt_verify(const struct jwks *keys, const struct jwt_policy *policy, const char *token,
			    size_t len, long long now, struct auth_identity *who)
{
	struct part parts[3];
	unsigned char *store = NULL;
	json_t *header = NULL, *claims = NULL;
	enum auth_reason why = AUTH_REASON_MALFORMED;
	enum jwt_alg alg;
	const char *kid;

	memset(who, 0, sizeof *who);
	if (len == 0 || len > JWT_MAX_TOKEN)
		return AUTH_REASON_MALFORMED;
	store = xmalloc(len);
	if (split(token, len, parts, store) < 0 || (header = object_of(&parts[0])) == NULL)
		goto done;
	if ((why = read_header(header, &alg, &kid)) != AUTH_REASON_NONE)
		goto done;
	/* The signing input is the first two parts as sent, with the dot between them. */
	if (jwks_verify(keys, alg, kid, (const unsigned char *)token, parts[0].len + 1 + parts[1].len,
			parts[2].bytes, parts[2].n) != JWKS_VERIFIED) {
		why = AUTH_REASON_BAD_SIGNATURE;
		goto done;
	}
	if ((claims = object_of(&parts[1])) == NULL) {
		why = AUTH_REASON_MALFORMED;
		goto done;
	}
	why = read_claims(claims, policy, now, who);
done:
	if (why != AUTH_REASON_NONE)
		memset(who, 0, sizeof *who);
	json_decref(header);
	json_decref(claims);
	free(store);
	return why;
}
