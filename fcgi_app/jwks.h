#ifndef TASKAPI_JWKS_H
#define TASKAPI_JWKS_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The keys that may sign a JWT, and the signature check with them: the only
 * part of auth.mode = jwt that touches OpenSSL (jwt.h parses tokens and
 * claims). Each key carries ONE algorithm, fixed when the key is loaded —
 * its JWK "alg" member when present, else the one its type implies (RSA:
 * RS256, EC P-256: ES256, OKP Ed25519: EdDSA). A token is checked only with
 * keys of the algorithm its header names, so a token cannot choose how a key
 * is used (RFC 8725 3.1: no RS256 public key used as an HMAC secret, never
 * "none"). HS256 exists only as the one secret of auth.jwt_hs256_secret_file.
 *
 * A set is built once (a worker's start) and then only read: jwks_verify is
 * thread-safe.
 */

enum jwt_alg {
	JWT_ALG_UNKNOWN = 0,
	JWT_ALG_RS256, /* RSASSA-PKCS1-v1_5 with SHA-256, RSA keys of 2048 bits or more */
	JWT_ALG_ES256, /* ECDSA P-256 with SHA-256; the JWS signature is r || s, 64 bytes */
	JWT_ALG_EDDSA, /* Ed25519 (RFC 8037) */
	JWT_ALG_HS256  /* HMAC-SHA-256 with the configured secret only */
};

/* The JWS name ("RS256", ...); JWT_ALG_UNKNOWN for any other name, "none" included. */
enum jwt_alg jwt_alg_parse(const char *name);
const char *jwt_alg_name(enum jwt_alg alg);

/* Bounds on what a JWKS file may hold: more is a broken or hostile file. */
#define JWKS_MAX_BYTES (1024 * 1024)
#define JWKS_MAX_KEYS 64
#define JWKS_MAX_KID 256
#define JWKS_MIN_RSA_BITS 2048
#define JWKS_MAX_RSA_BITS 8192
#define JWKS_MIN_HS256_SECRET 32

struct jwks;

struct jwks *jwks_new(void);
void jwks_free(struct jwks *ks);

/* Keys in the set (the HS256 secret counts as one). */
size_t jwks_count(const struct jwks *ks);

/*
 * What jwks_add_json made of a file: keys it took, keys it left out because
 * taskapi does not verify with them (another kty, curve or alg, "use" other
 * than "sig", "key_ops" without "verify", an RSA key under 2048 bits), and
 * why the first of those was left out, for the operator.
 */
struct jwks_load {
	size_t added;
	size_t skipped;
	char first_skip[160];
};

/*
 * Adds the keys of a JWKS document ({"keys": [...]}, RFC 7517) of len bytes.
 * A document that is not one, a key member of the wrong type, key material
 * that does not decode or is not a valid public key, private key material
 * ("d"), a kid over JWKS_MAX_KID bytes or more than JWKS_MAX_KEYS keys fail
 * the whole document: -1 with err, and the set unchanged. Keys taskapi does
 * not use are counted in load->skipped. 0 otherwise (even when nothing was
 * added: the caller decides whether an empty set is an error).
 */
int jwks_add_json(struct jwks *ks, const char *text, size_t len, struct jwks_load *load, char *err,
		  size_t errlen);

/* Adds the HS256 secret (at least JWKS_MIN_HS256_SECRET bytes; copied). 0, or -1 with err. */
int jwks_add_hs256(struct jwks *ks, const void *secret, size_t len, char *err, size_t errlen);

enum jwks_verdict {
	JWKS_VERIFIED = 0,
	JWKS_NO_KEY,  /* no key of that alg (and kid, when given) */
	JWKS_MISMATCH /* keys were tried; none produced this signature */
};

/*
 * Checks sig over the signing input data with the keys of algorithm alg
 * whose kid is kid (kid NULL: every key of alg; the HS256 secret has no kid
 * and is used for any HS256 token). sig is the decoded JWS signature.
 */
enum jwks_verdict jwks_verify(const struct jwks *ks, enum jwt_alg alg, const char *kid,
			      const unsigned char *data, size_t len, const unsigned char *sig, size_t siglen);

#endif
