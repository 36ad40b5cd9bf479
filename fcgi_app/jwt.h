#ifndef TASKAPI_JWT_H
#define TASKAPI_JWT_H

#include <stddef.h>

#include "auth.h"
#include "jwks.h"

/*
 * One bearer JWT (a JWS in compact serialization, RFC 7515/7519) checked
 * against a key set and the claims policy: no files, no clock, no config —
 * the caller gives the keys and the time, so that tests and the fuzz
 * harness run it as the server does.
 *
 * The order is the cheap and unauthenticated part first: the shape (three
 * strict base64url parts, at most JWT_MAX_TOKEN bytes), the header (an
 * object with "alg"; "kid" and "typ" optional; "crit" refused: no extension
 * is understood), then the signature with the keys of exactly that alg (and
 * kid), and only then the payload's claims, which an unsigned token never
 * reaches.
 */

/* The longest token taken: identity providers' access tokens are 1 to 2 KiB. */
#define JWT_MAX_TOKEN 8192

struct jwt_policy {
	const char *issuer;      /* "iss" must equal it; NULL or "": not checked */
	const char *audience;    /* "aud" (a string or an array) must hold it; NULL or "": not checked */
	const char *owner_claim; /* the claim naming the owner, e.g. "sub" */
	long leeway_s;           /* clock skew allowed on exp, nbf and iat */
};

/*
 * Checks token[0..len) at time now (seconds since the epoch). On success
 * returns AUTH_REASON_NONE and fills who: the owner from the owner claim;
 * the scopes tasks:read and tasks:write found in "scope" (space-separated,
 * RFC 8693) or "scp" (an array or a string, as some providers write it);
 * the credential id from "jti", cut to AUTH_CREDENTIAL_ID_MAX. Else who is
 * cleared and the reason is one of:
 *   MALFORMED      not a compact JWS, bad base64url, a header or payload
 *                  that is not a JSON object, "crit", another "typ";
 *   BAD_SIGNATURE  an alg taskapi does not take ("none" included), no key
 *                  of that alg (and kid), or no such key made this signature;
 *   EXPIRED        exp + leeway is not after now;
 *   NOT_YET_VALID  nbf or iat later than now + leeway;
 *   BAD_CLAIMS     exp missing, a time claim not a number, iss or aud not
 *                  the configured ones, the owner claim missing or not a
 *                  string, "scope", "scp" or "jti" of the wrong type;
 *   BAD_OWNER      the owner is not a valid owner name (config_owner_check).
 * Thread-safe.
 */
enum auth_reason jwt_verify(const struct jwks *keys, const struct jwt_policy *policy, const char *token,
			    size_t len, long long now, struct auth_identity *who);

#endif
