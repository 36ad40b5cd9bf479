#ifndef TASKAPI_JWT_AUTH_H
#define TASKAPI_JWT_AUTH_H

#include <stddef.h>

#include "auth.h"
#include "config.h"

/*
 * auth.mode = jwt: bearer JWTs from an identity provider, verified with
 * OpenSSL against the keys of auth.jwt_jwks_file (and an HS256 secret only
 * when auth.jwt_hs256_secret_file is set), the algorithm pinned per key.
 */
struct jwt_auth;
struct db_cluster;

/* Reads the key files (a new worker reads them again: SIGHUP reloads). 0, or -1 with err. */
int jwt_auth_new(const struct config *cfg, struct db_cluster *db, struct jwt_auth **out,
		 char *err, size_t errlen);
void jwt_auth_free(struct jwt_auth *ja);

/* Verifies one presented token (not NUL-terminated). Thread-safe. */
enum auth_verdict jwt_auth_check(struct jwt_auth *ja, const char *token, size_t len,
				 struct auth_identity *who, enum auth_reason *why);

#endif
