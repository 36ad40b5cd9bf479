#include "auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jwt_auth.h"
#include "metrics.h"
#include "token_auth.h"
#include "xalloc.h"

struct auth {
	enum auth_mode mode;
	char default_owner[CONFIG_OWNER_MAX + 1];
	struct token_auth *token;
	struct jwt_auth *jwt;
};

static const char *const reason_names[AUTH_REASON_COUNT] = {
	[AUTH_REASON_NONE] = "none",
	[AUTH_REASON_MISSING] = "missing",
	[AUTH_REASON_MALFORMED] = "malformed",
	[AUTH_REASON_UNKNOWN] = "unknown",
	[AUTH_REASON_EXPIRED] = "expired",
	[AUTH_REASON_REVOKED] = "revoked",
	[AUTH_REASON_NOT_YET_VALID] = "not_yet_valid",
	[AUTH_REASON_BAD_SIGNATURE] = "bad_signature",
	[AUTH_REASON_BAD_CLAIMS] = "bad_claims",
	[AUTH_REASON_BAD_OWNER] = "bad_owner",
	[AUTH_REASON_INSUFFICIENT_SCOPE] = "insufficient_scope",
	[AUTH_REASON_UNAVAILABLE] = "unavailable",
};

_Static_assert(AUTH_REASON_COUNT <= METRICS_N_AUTH_REASONS, "metrics count every auth_reason");

const char *auth_reason_name(enum auth_reason reason)
{
	return (unsigned)reason < AUTH_REASON_COUNT ? reason_names[reason] : "unknown";
}

int auth_mode_parse(const char *text, enum auth_mode *out)
{
	static const struct {
		const char *name;
		enum auth_mode mode;
	} modes[] = {
		{ "none", AUTH_MODE_NONE },
		{ "remote_user", AUTH_MODE_REMOTE_USER },
		{ "token", AUTH_MODE_TOKEN },
		{ "jwt", AUTH_MODE_JWT },
	};

	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
		if (strcmp(text, modes[i].name) == 0) {
			*out = modes[i].mode;
			return 0;
		}
	return -1;
}

int auth_new(const struct config *cfg, struct db_cluster *db, struct auth **out, char *err, size_t errlen)
{
	struct auth *a;

	*out = NULL;
	a = xcalloc(1, sizeof *a);
	if (auth_mode_parse(cfg->auth.mode, &a->mode) < 0) {
		snprintf(err, errlen, "auth.mode is %s%s%s: choose one of %s (see the [auth] section of the "
			 "configuration reference)", cfg->auth.mode[0] ? "'" : "not set",
			 cfg->auth.mode, cfg->auth.mode[0] ? "', not a mode" : "", CONFIG_AUTH_MODES);
		goto fail;
	}
	if (config_owner_check(cfg->auth.default_owner, strlen(cfg->auth.default_owner)) < 0) {
		snprintf(err, errlen, "auth.default_owner is not a valid owner name");
		goto fail;
	}
	memcpy(a->default_owner, cfg->auth.default_owner, strlen(cfg->auth.default_owner) + 1);
	if (a->mode == AUTH_MODE_TOKEN && token_auth_new(cfg, db, &a->token, err, errlen) < 0)
		goto fail;
	if (a->mode == AUTH_MODE_JWT && jwt_auth_new(cfg, db, &a->jwt, err, errlen) < 0)
		goto fail;
	*out = a;
	return 0;
fail:
	auth_free(a);
	return -1;
}

void auth_free(struct auth *a)
{
	if (a == NULL)
		return;
	token_auth_free(a->token);
	jwt_auth_free(a->jwt);
	free(a);
}

enum auth_mode auth_mode_of(const struct auth *a)
{
	return a->mode;
}

int auth_bearer(const char *header, const char **token, size_t *len)
{
	const char *p, *end;

	if (header == NULL || strncasecmp(header, "Bearer", 6) != 0 || (header[6] != ' ' && header[6] != '\t'))
		return -1;
	p = header + 6;
	while (*p == ' ' || *p == '\t')
		p++;
	end = p + strlen(p);
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	/* RFC 6750's token68: one word, no inner spaces. */
	for (const char *q = p; q < end; q++)
		if (*q == ' ' || *q == '\t')
			return -1;
	if (end == p)
		return -1;
	*token = p;
	*len = (size_t)(end - p);
	return 0;
}

int auth_identity_set_owner(struct auth_identity *who, const char *owner, size_t len)
{
	if (config_owner_check(owner, len) < 0)
		return -1;
	memcpy(who->owner, owner, len);
	who->owner[len] = '\0';
	who->owner_len = len;
	return 0;
}

/* The credential of a bearer mode: missing when no Authorization, malformed when not Bearer. */
static enum auth_verdict check_bearer(struct auth *a, const struct request *req, struct auth_identity *who,
				      enum auth_reason *why)
{
	const char *token;
	size_t len;

	if (req->authorization == NULL || req->authorization[0] == '\0') {
		*why = AUTH_REASON_MISSING;
		return AUTH_UNAUTHENTICATED;
	}
	if (auth_bearer(req->authorization, &token, &len) < 0) {
		*why = AUTH_REASON_MALFORMED;
		return AUTH_UNAUTHENTICATED;
	}
	if (a->mode == AUTH_MODE_TOKEN)
		return token_auth_check(a->token, token, len, who, why);
	return jwt_auth_check(a->jwt, token, len, who, why);
}

enum auth_verdict auth_check(struct auth *a, const struct request *req, unsigned need,
			     struct auth_identity *who, enum auth_reason *why)
{
	enum auth_verdict verdict = AUTH_OK;

	memset(who, 0, sizeof *who);
	*why = AUTH_REASON_NONE;
	switch (a->mode) {
	case AUTH_MODE_NONE:
		auth_identity_set_owner(who, a->default_owner, strlen(a->default_owner));
		who->scopes = AUTH_SCOPE_ALL;
		return AUTH_OK;
	case AUTH_MODE_REMOTE_USER:
		/* The web server authenticated the client: what it says is the owner, with every scope. */
		if (req->remote_user == NULL || req->remote_user[0] == '\0') {
			*why = AUTH_REASON_MISSING;
			verdict = AUTH_UNAUTHENTICATED;
		} else if (auth_identity_set_owner(who, req->remote_user, strlen(req->remote_user)) < 0) {
			*why = AUTH_REASON_BAD_OWNER;
			verdict = AUTH_UNAUTHENTICATED;
		} else {
			who->scopes = AUTH_SCOPE_ALL;
		}
		break;
	case AUTH_MODE_TOKEN:
	case AUTH_MODE_JWT:
		verdict = check_bearer(a, req, who, why);
		break;
	}
	if (verdict == AUTH_OK && (who->scopes & AUTH_SCOPE_WRITE))
		who->scopes |= AUTH_SCOPE_READ;
	if (verdict == AUTH_OK && (who->scopes & need) != need) {
		*why = AUTH_REASON_INSUFFICIENT_SCOPE;
		verdict = AUTH_FORBIDDEN;
	}
	if (verdict == AUTH_UNAUTHENTICATED || verdict == AUTH_UNAVAILABLE)
		memset(who, 0, sizeof *who);
	return verdict;
}
