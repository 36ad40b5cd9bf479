#ifndef TASKAPI_TOKEN_STORE_H
#define TASKAPI_TOKEN_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "db_conn.h"
#include "task_store.h" /* enum store_status */
#include "token.h"

/*
 * Every SQL statement on the api_tokens table (sql/004_api_tokens.sql), each
 * prepared once per connection. Two accounts run them: the application's
 * (lookup, touch: SELECT and UPDATE(last_used_at)) and auth.token_admin_user
 * (create, list, revoke: SELECT, INSERT, UPDATE). Times are the database's
 * clock, UTC, so that taskapi and the database never disagree on expiry.
 *
 * The statement ids are the last TOKEN_STORE_STMTS of a connection's cache
 * (db_conn_stmt): task_store's start at 0.
 */
#define TOKEN_STORE_STMTS 6
#define TOKEN_STORE_FIRST_STMT (DB_MAX_STMTS - TOKEN_STORE_STMTS)

/* The longest note, in characters (the column is VARCHAR(255)). */
#define TOKEN_NOTE_MAX_CHARS 255
#define TOKEN_NOTE_MAX_BYTES (TOKEN_NOTE_MAX_CHARS * 4)
/* "tasks:read,tasks:write" and room to spare: the scopes column is VARCHAR(64). */
#define TOKEN_SCOPES_MAX 64

/* What the request path needs to know about a presented token. */
struct token_found {
	uint64_t id;
	char owner[CONFIG_OWNER_MAX + 1];
	size_t owner_len;
	unsigned scopes;         /* AUTH_SCOPE_* */
	bool revoked;
	long long expires_in_s;  /* seconds until expiry by the database's clock; <= 0: expired */
};

/* One row of `taskapi token list`. Times are RFC 3339 UTC, "" when NULL. */
struct token_row {
	uint64_t id;
	char owner[CONFIG_OWNER_MAX + 1];
	char scopes[TOKEN_SCOPES_MAX + 1];
	char prefix[17];
	char note[TOKEN_NOTE_MAX_BYTES + 1];
	char created_at[32];
	char expires_at[32];
	char last_used_at[32];
	char revoked_at[32];
};

/* A new token's row: only its hash and its displayable prefix, never the secret. */
struct token_new {
	unsigned char hash[TOKEN_HASH_LEN];
	char prefix[TOKEN_DISPLAY_LEN + 1];
	const char *owner;
	unsigned scopes;
	const char *note;        /* NULL: none */
	long long lifetime_s;    /* > 0 */
};

/*
 * "tasks:read,tasks:write" (comma or space separated, in any order) into a
 * mask of AUTH_SCOPE_*; -1 for an unknown or empty list. tasks:write implies
 * tasks:read.
 */
int token_scopes_parse(const char *text, unsigned *mask);
/* The canonical text of a mask: "tasks:read" or "tasks:read,tasks:write". */
const char *token_scopes_text(unsigned mask);

/* The token whose hash is hash: STORE_OK, STORE_NOT_FOUND, or a failure. */
enum store_status token_store_lookup(struct db_conn *conn, const unsigned char hash[TOKEN_HASH_LEN],
				     struct token_found *out);

/* last_used_at = now for token id (the application account). */
enum store_status token_store_touch(struct db_conn *conn, uint64_t id);

/* Inserts t; *id is the new row's. */
enum store_status token_store_create(struct db_conn *conn, const struct token_new *t, uint64_t *id);

/* Called once per row; return non-zero to stop. The row is borrowed. */
typedef int (*token_row_fn)(void *ctx, const struct token_row *row);

/* Every token, or owner's only (owner NULL: all), by id. */
enum store_status token_store_list(struct db_conn *conn, const char *owner, token_row_fn on_row, void *ctx);

/*
 * Revokes token id now: STORE_OK, STORE_CONFLICT when it was revoked
 * already (it stays revoked at its first time), STORE_NOT_FOUND.
 */
enum store_status token_store_revoke(struct db_conn *conn, uint64_t id);

/*
 * The INSERT of t as one SQL statement with literal values (hex for the
 * hash), for a database reached only through a web console (shared
 * hosting). Holds no secret. Caller frees.
 */
char *token_store_insert_sql(const struct token_new *t);

#endif
