#ifndef TASKAPI_TOKEN_AUTH_H
#define TASKAPI_TOKEN_AUTH_H

#include <stddef.h>

#include "auth.h"
#include "config.h"

/*
 * auth.mode = token: taskapi's own bearer tokens, checked against the
 * api_tokens table by their keyed hash, with a small per-worker cache
 * (auth.token_cache_ms) so a revocation reaches every worker in time.
 */
struct token_auth;
struct db_pool;

/* Reads auth.token_key_file; pool is borrowed. 0, or -1 with err. */
int token_auth_new(const struct config *cfg, struct db_pool *pool, struct token_auth **out,
		   char *err, size_t errlen);
void token_auth_free(struct token_auth *ta);

/* Checks one presented secret (the bearer token, not NUL-terminated). Thread-safe. */
enum auth_verdict token_auth_check(struct token_auth *ta, const char *secret, size_t len,
				   struct auth_identity *who, enum auth_reason *why);

#endif
