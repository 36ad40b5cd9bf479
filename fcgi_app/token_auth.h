#ifndef TASKAPI_TOKEN_AUTH_H
#define TASKAPI_TOKEN_AUTH_H

#include <stddef.h>

#include "auth.h"
#include "config.h"

/*
 * auth.mode = token: taskapi's own bearer tokens, checked against the
 * api_tokens table by their keyed hash, with a small per-worker cache
 * (auth.token_cache_ms) so a revocation reaches every worker in time.
 *
 * A check: the format and checksum (token.h; a bad one is "malformed" with
 * no database lookup), then HMAC-SHA-256 under auth.token_key_file, then
 * the cache, then the database through the pool. The cache is fixed size
 * (TOKEN_CACHE_SLOTS, direct-mapped by the hash), behind one mutex; an
 * entry, found or not found, lives auth.token_cache_ms (at most 4000), so a
 * revocation reaches every worker within that plus one lookup: under 5 s.
 * An expiry is kept from the database's answer and checked at every use,
 * so a cached token is never accepted past it.
 *
 * last_used_at is written off the request path by a background thread of
 * the token_auth (one per worker process, started when there is a pool),
 * at most once per TOKEN_TOUCH_INTERVAL_S per token and worker; the last
 * ones queued are written when the token_auth is freed (a CGI process).
 */
#define TOKEN_CACHE_SLOTS 256
#define TOKEN_TOUCH_INTERVAL_S 300
struct token_auth;
struct db_cluster;

/*
 * Reads auth.token_key_file (config_read_secret_file's rules: mode 0640 at
 * most; its first line, at least TOKEN_KEY_MIN bytes); pool is borrowed, and
 * may be NULL to validate the key only (every check is then "unavailable"
 * once it needs the database). 0, or -1 with err.
 */
int token_auth_new(const struct config *cfg, struct db_cluster *db, struct token_auth **out,
		   char *err, size_t errlen);
void token_auth_free(struct token_auth *ta);

/* Checks one presented secret (the bearer token, not NUL-terminated). Thread-safe. */
enum auth_verdict token_auth_check(struct token_auth *ta, const char *secret, size_t len,
				   struct auth_identity *who, enum auth_reason *why);

/*
 * The key of auth.token_key_file into *key (caller frees with
 * token_key_free), for `taskapi token create` too. 0, or -1 with err.
 */
int token_key_load(const char *path, char **key, size_t *len, char *err, size_t errlen);
/* Wipes and frees a key from token_key_load. Safe with NULL. */
void token_key_free(char *key, size_t len);

#endif
