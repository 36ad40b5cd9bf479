#include "token_auth.h"

#include <stdio.h>

/* Placeholder until taskapi's own tokens exist: the mode refuses to start. */
int token_auth_new(const struct config *cfg, struct db_pool *pool, struct token_auth **out,
		   char *err, size_t errlen)
{
	(void)cfg;
	(void)pool;
	*out = NULL;
	snprintf(err, errlen, "auth.mode = token is not available in this build");
	return -1;
}

void token_auth_free(struct token_auth *ta)
{
	(void)ta;
}

enum auth_verdict token_auth_check(struct token_auth *ta, const char *secret, size_t len,
				   struct auth_identity *who, enum auth_reason *why)
{
	(void)ta;
	(void)secret;
	(void)len;
	(void)who;
	*why = AUTH_REASON_UNAVAILABLE;
	return AUTH_UNAVAILABLE;
}
