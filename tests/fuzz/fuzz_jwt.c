/*
 * fuzz_jwt: auth.mode = jwt's parsers (jwt.h, jwks.h, b64url.h). The first byte
 * of the input chooses what the rest is:
 *   '0' (and every byte = 0 mod 3)  the bytes of a bearer token, checked with a
 *       fixed JWKS (RSA, P-256, Ed25519 public keys) and an HS256 secret;
 *   '1' (= 1 mod 3)  a header and a payload, JSON, split at the first newline:
 *       the harness encodes them and signs them with the HS256 secret, so the
 *       claims (exp, nbf, iat, iss, aud, the owner, scope, scp, jti) are reached
 *       past the signature;
 *   '2' (= 2 mod 3)  a JWKS document for jwks_add_json.
 * Checked beyond "no crash":
 * - a verdict is one of jwt_verify's reasons; on a refusal the identity is all
 *   zero; a token over JWT_MAX_TOKEN bytes is MALFORMED;
 * - an accepted identity has a valid owner (config_owner_check), scopes within
 *   tasks:read|tasks:write, a credential id of at most AUTH_CREDENTIAL_ID_MAX
 *   bytes of valid UTF-8;
 * - a signed token is accepted only with the secret in the set, never when one
 *   character of its signature changes, and gives the same verdict twice;
 * - a JWKS error is a non-empty UTF-8 message (it goes into the start-up log);
 *   a loaded set holds exactly the keys said added, and its first skip reason
 *   is UTF-8.
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "b64url.h"
#include "config.h"
#include "fuzz_check.h"
#include "jwks.h"
#include "jwt.h"
#include "utf8.h"

#define NOW 1700000000LL
#define SECRET "fuzz-hs256-secret-0123456789abcdef"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The public keys of tests/fuzz/corpus/fuzz_jwt/token-*: their private keys are thrown away. */
static const char fixed_jwks[] =
	"{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"rsa1\",\"alg\":\"RS256\",\"use\":\"sig\",\"n\":\"h"
	"ROgHIP0msCkbEYqa-_XNk2EoyzXT8IFT3jxPcXSbHu9mQV4fydMx-v_5UlTa0tH1vYTQG2CJNhDaCRTAW3jiR1Qm"
	"NN9oCtIeGFvlYXfkuewE5sOWga0XU5cuc7RrhhPhFDX7-hBVu96F0UeqXCCr1L_ZxZmU7_dKf7eE0ensWkG5-Y-P"
	"DeMqbv96dNiVkd4lBpZUzprvRE7AbYhJUkv8zJgDhW2S5qz95zVpmPiI22Mk8BNpvp_nn3s4UCGadFVhOTLte2Ea"
	"qJE7uLklMD89jRyqzLvWW1nm6myZjiibuM6sT8oReYw26bxpPsm-X_KLDMXiUjuA7cq14y8F9gqiw\",\"e\":\""
	"AQAB\"},{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"ec1\",\"x\":\"YTxM0uXc9uvdvqIKmeJT8Y"
	"2tFMoRacoQdFA2Sk-IdjU\",\"y\":\"WECu2uw4FWqTbsNb8s56irCnZPXzo-Do9aWHCrkxXMQ\"},{\"kty\":"
	"\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"ed1\",\"x\":\"k62UM4Pqf64mr6hzajSTFznIcntVamMQNQKo"
	"xoHSQj0\"}]}";

static const struct jwt_policy policy = { "https://idp.fuzz", "taskapi", "sub", 30 };
static struct jwks *keys;    /* the fixed JWKS and the HS256 secret */
static struct jwks *no_hs;   /* the fixed JWKS alone */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct jwks_load load;
	char err[256];

	(void)argc;
	(void)argv;
	keys = jwks_new();
	no_hs = jwks_new();
	FUZZ_CHECK(jwks_add_json(keys, fixed_jwks, strlen(fixed_jwks), &load, err, sizeof err) == 0, "%s", err);
	FUZZ_CHECK(load.added == 3, "the fixed JWKS gave %zu keys", load.added);
	FUZZ_CHECK(jwks_add_json(no_hs, fixed_jwks, strlen(fixed_jwks), &load, err, sizeof err) == 0, "%s", err);
	FUZZ_CHECK(jwks_add_hs256(keys, SECRET, strlen(SECRET), err, sizeof err) == 0, "%s", err);
	return 0;
}

static void check_identity(enum auth_reason r, const struct auth_identity *who)
{
	static const struct auth_identity zero;

	FUZZ_CHECK(r == AUTH_REASON_NONE || r == AUTH_REASON_MALFORMED || r == AUTH_REASON_BAD_SIGNATURE ||
			   r == AUTH_REASON_EXPIRED || r == AUTH_REASON_NOT_YET_VALID || r == AUTH_REASON_BAD_CLAIMS ||
			   r == AUTH_REASON_BAD_OWNER,
		   "reason %d", (int)r);
	if (r != AUTH_REASON_NONE) {
		FUZZ_CHECK(memcmp(who, &zero, sizeof zero) == 0, "a refusal (%d) left an identity", (int)r);
		return;
	}
	FUZZ_CHECK(who->owner_len == strlen(who->owner) && config_owner_check(who->owner, who->owner_len) == 0,
		   "an accepted owner that is not one: %s", who->owner);
	FUZZ_CHECK((who->scopes & ~AUTH_SCOPE_ALL) == 0, "scopes %#x", who->scopes);
	FUZZ_CHECK(strlen(who->credential_id) <= AUTH_CREDENTIAL_ID_MAX &&
			   utf8_is_valid(who->credential_id, strlen(who->credential_id)),
		   "credential id %s", who->credential_id);
}

static void fuzz_token(const char *token, size_t len)
{
	struct auth_identity who;
	enum auth_reason r = jwt_verify(keys, &policy, token, len, NOW, &who);

	check_identity(r, &who);
	if (len > JWT_MAX_TOKEN)
		FUZZ_CHECK(r == AUTH_REASON_MALFORMED, "%zu bytes gave reason %d", len, (int)r);
}

/* header.payload.HS256(SECRET), from the JSON texts. */
static char *hs256_token(const char *header, size_t hlen, const char *payload, size_t plen, size_t *len)
{
	char *t = malloc(2 * (hlen + plen) + 64);
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned maclen = 0;
	size_t n;

	n = b64url_encode((const unsigned char *)header, hlen, t);
	t[n++] = '.';
	n += b64url_encode((const unsigned char *)payload, plen, t + n);
	FUZZ_CHECK(HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), (const unsigned char *)t, n, mac, &maclen) != NULL,
		   "HMAC failed");
	t[n++] = '.';
	n += b64url_encode(mac, maclen, t + n);
	*len = n;
	return t;
}

static void fuzz_signed(const char *text, size_t len)
{
	const char *nl = memchr(text, '\n', len);
	struct auth_identity who;
	enum auth_reason r, again;
	size_t tlen;
	char *t;

	if (nl == NULL)
		return;
	t = hs256_token(text, (size_t)(nl - text), nl + 1, len - (size_t)(nl - text) - 1, &tlen);
	r = jwt_verify(keys, &policy, t, tlen, NOW, &who);
	check_identity(r, &who);
	again = jwt_verify(keys, &policy, t, tlen, NOW, &who);
	FUZZ_CHECK(again == r, "the same token gave %d, then %d", (int)r, (int)again);
	r = jwt_verify(no_hs, &policy, t, tlen, NOW, &who);
	FUZZ_CHECK(r != AUTH_REASON_NONE, "an HS256 token accepted without the secret");
	check_identity(r, &who);
	/* One character of the signature (43 characters: 20 from the end is inside it, all bits signature). */
	t[tlen - 20] = t[tlen - 20] == 'A' ? 'B' : 'A';
	r = jwt_verify(keys, &policy, t, tlen, NOW, &who);
	FUZZ_CHECK(r != AUTH_REASON_NONE, "a changed signature accepted");
	check_identity(r, &who);
	free(t);
}

static void fuzz_jwks(const char *text, size_t len)
{
	struct jwks *ks = jwks_new();
	struct jwks_load load;
	char err[256] = "";
	int rc = jwks_add_json(ks, text, len, &load, err, sizeof err);

	if (rc < 0) {
		FUZZ_CHECK(err[0] != '\0' && utf8_is_valid(err, strlen(err)), "a JWKS error that is empty or not UTF-8");
		FUZZ_CHECK(jwks_count(ks) == 0, "a failed JWKS left %zu keys", jwks_count(ks));
	} else {
		FUZZ_CHECK(rc == 0, "jwks_add_json returned %d", rc);
		FUZZ_CHECK(jwks_count(ks) == load.added, "%zu keys, %zu said added", jwks_count(ks), load.added);
		FUZZ_CHECK(load.added + load.skipped <= JWKS_MAX_KEYS, "%zu + %zu keys", load.added, load.skipped);
		FUZZ_CHECK(utf8_is_valid(load.first_skip, strlen(load.first_skip)), "a skip reason not UTF-8");
		FUZZ_CHECK((load.skipped == 0) == (load.first_skip[0] == '\0'), "skips %zu, reason '%s'", load.skipped,
			   load.first_skip);
	}
	jwks_free(ks);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data + 1;

	if (size == 0)
		return 0;
	switch (data[0] % 3) {
	case 0:
		fuzz_token(text, size - 1);
		break;
	case 1:
		fuzz_signed(text, size - 1);
		break;
	default:
		fuzz_jwks(text, size - 1);
		break;
	}
	return 0;
}
