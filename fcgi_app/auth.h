#ifndef TASKAPI_AUTH_H
#define TASKAPI_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "request.h"

/*
 * Who is asking: every request to a task route gets one identity (an owner
 * and its scopes) from the credentials of the configured auth.mode, or a
 * refusal. The owner then goes into every SQL statement (task_store.h):
 * MariaDB has no row-level security, so isolation is taskapi's own.
 *
 *   none         every request is auth.default_owner, with every scope;
 *   remote_user  REMOTE_USER, set by the web server that authenticated
 *                the client (Apache AuthType, nginx auth_basic/auth_request);
 *   token        taskapi's own bearer tokens (token_auth.h);
 *   jwt          bearer JWTs from an identity provider (jwt_auth.h).
 *
 * One struct auth per worker process, shared by its threads.
 */

/* Scopes, as a mask. tasks:write implies tasks:read. */
#define AUTH_SCOPE_READ 1u  /* "tasks:read": GET */
#define AUTH_SCOPE_WRITE 2u /* "tasks:write": POST, PATCH, DELETE */
#define AUTH_SCOPE_ALL (AUTH_SCOPE_READ | AUTH_SCOPE_WRITE)

/* The longest credential id shown in the access log (a token's id, a JWT's jti, cut). */
#define AUTH_CREDENTIAL_ID_MAX 40

struct auth_identity {
	char owner[CONFIG_OWNER_MAX + 1]; /* NUL-terminated; owner_len bytes */
	size_t owner_len;
	unsigned scopes;
	/* Which credential proved it, for the access log: never a secret. "" = none. */
	char credential_id[AUTH_CREDENTIAL_ID_MAX + 1];
};

enum auth_verdict {
	AUTH_OK = 0,
	AUTH_UNAUTHENTICATED, /* 401 */
	AUTH_FORBIDDEN,       /* 403: authenticated, but without the scope */
	AUTH_UNAVAILABLE      /* 503: the credential could not be checked now (database down) */
};

/* Why a request was refused: the label of taskapi_auth_refused_total. */
enum auth_reason {
	AUTH_REASON_NONE = 0,
	AUTH_REASON_MISSING,        /* no credential at all */
	AUTH_REASON_MALFORMED,      /* not a bearer token / bad format / bad checksum */
	AUTH_REASON_UNKNOWN,        /* well-formed, but no such token */
	AUTH_REASON_EXPIRED,        /* past its expiry (JWT: exp beyond the leeway) */
	AUTH_REASON_REVOKED,
	AUTH_REASON_NOT_YET_VALID,  /* JWT nbf/iat in the future */
	AUTH_REASON_BAD_SIGNATURE,  /* JWT: signature, algorithm or key does not match */
	AUTH_REASON_BAD_CLAIMS,     /* JWT: iss, aud or the owner claim missing or wrong */
	AUTH_REASON_BAD_OWNER,      /* the owner name is empty, too long or not printable UTF-8 */
	AUTH_REASON_INSUFFICIENT_SCOPE,
	AUTH_REASON_UNAVAILABLE,
	AUTH_REASON_COUNT
};

/* "missing", "malformed", ...: stable names for metrics and logs. */
const char *auth_reason_name(enum auth_reason reason);

enum auth_mode { AUTH_MODE_NONE, AUTH_MODE_REMOTE_USER, AUTH_MODE_TOKEN, AUTH_MODE_JWT };

/* Parses auth.mode; -1 when it is empty or not one of CONFIG_AUTH_MODES. */
int auth_mode_parse(const char *text, enum auth_mode *out);

struct auth;
struct db_cluster;

/*
 * The mode's state for one worker process: token mode reads its key file
 * and looks tokens up through pool (borrowed, must outlive the auth); jwt
 * mode reads its key files. Returns 0, or -1 with err (a message for the
 * start-up log) and *out NULL.
 */
int auth_new(const struct config *cfg, struct db_cluster *db, struct auth **out, char *err, size_t errlen);
void auth_free(struct auth *a);
enum auth_mode auth_mode_of(const struct auth *a);

/*
 * The identity req proves, when it holds need (a mask of AUTH_SCOPE_*; 0:
 * any authenticated caller). On a refusal *why says why; *who is cleared,
 * except on AUTH_FORBIDDEN, where it names who was refused (for the log).
 * Thread-safe.
 */
enum auth_verdict auth_check(struct auth *a, const struct request *req, unsigned need,
			     struct auth_identity *who, enum auth_reason *why);

/*
 * The bearer token of an Authorization header ("Bearer" in any case, then
 * spaces, then the token up to the end or trailing spaces): 0 with
 * token and len pointing into header, -1 when the header is not one.
 */
int auth_bearer(const char *header, const char **token, size_t *len);

/* Copies owner into who->owner after config_owner_check; -1 when it fails that check. */
int auth_identity_set_owner(struct auth_identity *who, const char *owner, size_t len);

#endif
