#include "jwt_auth.h"

#include <stdio.h>

/* Placeholder until JWT verification exists: the mode refuses to start. */
int jwt_auth_new(const struct config *cfg, struct db_pool *pool, struct jwt_auth **out,
		   char *err, size_t errlen)
{
	(void)cfg;
	(void)pool;
	*out = NULL;
	snprintf(err, errlen, "auth.mode = jwt is not available in this build");
	return -1;
}

void jwt_auth_free(struct jwt_auth *ta)
{
	(void)ta;
}

enum auth_verdict jwt_auth_check(struct jwt_auth *ta, const char *secret, size_t len,
				   struct auth_identity *who, enum auth_reason *why)
{
	(void)ta;
	(void)secret;
	(void)len;
	(void)who;
	*why = AUTH_REASON_UNAVAILABLE;
	return AUTH_UNAVAILABLE;
}
