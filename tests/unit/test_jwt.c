/*
 * Unit tests for auth.mode = jwt: b64url.c, jwks.c (JWKS files, per-key
 * algorithms, signatures), jwt.c (the token and its claims) and jwt_auth.c
 * (the key files of a configuration). The keys are made here with OpenSSL
 * (RSA 2048, P-256, Ed25519) once, before check forks the tests, and every
 * token is signed here the way an identity provider signs it.
 */
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "b64url.h"
#include "config.h"
#include "jwks.h"
#include "jwt.h"
#include "jwt_auth.h"
#include "unit.h"
#include "utf8.h"

#define NOW 1700000000LL
#define ISS "https://idp.example"
#define AUD "taskapi"
#define HS_SECRET "0123456789abcdef0123456789abcdef-hs256"

static EVP_PKEY *rsa_key, *rsa2_key, *ec_key, *ed_key, *rsa1024_key;
static char *jwks_text; /* rsa1 (alg RS256), ec1 (no alg), ed1 (no alg) */

enum signer { SIGN_RSA, SIGN_RSA2, SIGN_EC, SIGN_ED, SIGN_HS, SIGN_HS_WITH_RSA_PEM, SIGN_EMPTY };

/* ---- making keys, JWKS and tokens ---- */

/* The helpers also run in unit_suite(), outside any test, where check's asserts cannot report. */
#define need(cond)                                                                      \
	do {                                                                            \
		if (!(cond)) {                                                          \
			fprintf(stderr, "test_jwt.c:%d: %s failed\n", __LINE__, #cond); \
			abort();                                                        \
		}                                                                       \
	} while (0)

static char *b64(const unsigned char *p, size_t n)
{
	char *out = malloc(n * 4 / 3 + 4);

	need(out != NULL);
	b64url_encode(p, n, out);
	return out;
}

static char *b64_bn(EVP_PKEY *k, const char *param, int pad)
{
	BIGNUM *bn = NULL;
	unsigned char buf[1024];
	int n;

	need(EVP_PKEY_get_bn_param(k, param, &bn) == 1);
	n = pad ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);
	BN_free(bn);
	return b64(buf, (size_t)n);
}

static json_t *jwk_rsa(EVP_PKEY *k, const char *kid)
{
	char *n = b64_bn(k, OSSL_PKEY_PARAM_RSA_N, 0), *e = b64_bn(k, OSSL_PKEY_PARAM_RSA_E, 0);
	json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "kty", "RSA", "kid", kid, "n", n, "e", e);

	free(n);
	free(e);
	return j;
}

static json_t *jwk_ec(EVP_PKEY *k, const char *kid)
{
	char *x = b64_bn(k, OSSL_PKEY_PARAM_EC_PUB_X, 32), *y = b64_bn(k, OSSL_PKEY_PARAM_EC_PUB_Y, 32);
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s}", "kty", "EC", "crv", "P-256", "kid", kid, "x", x, "y", y);

	free(x);
	free(y);
	return j;
}

static json_t *jwk_ed(EVP_PKEY *k, const char *kid)
{
	unsigned char raw[32];
	size_t n = sizeof raw;
	char *x;
	json_t *j;

	need(EVP_PKEY_get_raw_public_key(k, raw, &n) == 1);
	x = b64(raw, n);
	j = json_pack("{s:s, s:s, s:s, s:s}", "kty", "OKP", "crv", "Ed25519", "kid", kid, "x", x);
	free(x);
	return j;
}

static char *jwks_of(json_t *keys)
{
	json_t *doc = json_pack("{s:o}", "keys", keys);
	char *s = json_dumps(doc, JSON_COMPACT);

	json_decref(doc);
	return s;
}

static size_t digest_sign(EVP_PKEY *k, const EVP_MD *md, const char *in, size_t len, unsigned char *sig)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t n = 1024;

	need(EVP_DigestSignInit(ctx, NULL, md, NULL, k) == 1);
	need(EVP_DigestSign(ctx, sig, &n, (const unsigned char *)in, len) == 1);
	EVP_MD_CTX_free(ctx);
	return n;
}

/* The PEM text of a public key: what a naive HS256 verifier would take as the secret. */
static size_t public_pem(EVP_PKEY *k, char *out, size_t outsz)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int n;

	need(PEM_write_bio_PUBKEY(bio, k) == 1);
	n = BIO_read(bio, out, (int)outsz);
	BIO_free(bio);
	need(n > 0);
	return (size_t)n;
}

/* header.payload.signature, as text; the caller frees it. */
static char *token_of(const char *header, const char *payload, enum signer s)
{
	char *h = b64((const unsigned char *)header, strlen(header));
	char *p = b64((const unsigned char *)payload, strlen(payload));
	size_t inlen = strlen(h) + 1 + strlen(p), siglen = 0;
	char *in = malloc(inlen + 1), *sig64, *out, pem[2048];
	unsigned char sig[1024];
	unsigned maclen;

	snprintf(in, inlen + 1, "%s.%s", h, p);
	switch (s) {
	case SIGN_RSA:
	case SIGN_RSA2:
		siglen = digest_sign(s == SIGN_RSA ? rsa_key : rsa2_key, EVP_sha256(), in, inlen, sig);
		break;
	case SIGN_EC: {
		unsigned char der[128];
		const unsigned char *d = der;
		size_t dlen = digest_sign(ec_key, EVP_sha256(), in, inlen, der);
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &d, (long)dlen);

		need(es != NULL);
		BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, 32);
		BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + 32, 32);
		ECDSA_SIG_free(es);
		siglen = 64;
		break;
	}
	case SIGN_ED:
		siglen = digest_sign(ed_key, NULL, in, inlen, sig);
		break;
	case SIGN_HS:
		HMAC(EVP_sha256(), HS_SECRET, (int)strlen(HS_SECRET), (unsigned char *)in, inlen, sig, &maclen);
		siglen = maclen;
		break;
	case SIGN_HS_WITH_RSA_PEM: {
		size_t n = public_pem(rsa_key, pem, sizeof pem);

		HMAC(EVP_sha256(), pem, (int)n, (unsigned char *)in, inlen, sig, &maclen);
		siglen = maclen;
		break;
	}
	case SIGN_EMPTY:
		break;
	}
	sig64 = b64(sig, siglen);
	out = malloc(inlen + strlen(sig64) + 2);
	sprintf(out, "%s.%s", in, sig64);
	free(h);
	free(p);
	free(in);
	free(sig64);
	return out;
}

/* A payload that passes the default policy, with extra members (a JSON object's inner text, or ""). */
static char *claims(const char *extra)
{
	static char buf[4096];

	snprintf(buf, sizeof buf, "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"alice\",\"exp\":%lld%s%s}",
		 NOW + 300, extra[0] ? "," : "", extra);
	return buf;
}

/* ---- the fixture: the key set of jwks_text, with or without the HS256 secret ---- */

static struct jwks *keys_of(const char *text, bool hs256)
{
	struct jwks *ks = jwks_new();
	struct jwks_load load;
	char err[256] = "";

	ck_assert_msg(jwks_add_json(ks, text, strlen(text), &load, err, sizeof err) == 0, "%s", err);
	if (hs256)
		ck_assert_int_eq(jwks_add_hs256(ks, HS_SECRET, strlen(HS_SECRET), err, sizeof err), 0);
	return ks;
}

static const struct jwt_policy policy = { ISS, AUD, "sub", 30 };

/* The reason jwt_verify gives for token with the default keys (no HS256) and policy at NOW. */
static enum auth_reason verify_with(const char *token, const struct jwt_policy *pol, bool hs256,
				    struct auth_identity *who)
{
	struct jwks *ks = keys_of(jwks_text, hs256);
	enum auth_reason r = jwt_verify(ks, pol, token, strlen(token), NOW, who);

	jwks_free(ks);
	return r;
}

/* Signs header/payload with s and verifies it; frees the token. */
static enum auth_reason check_token(const char *header, const char *payload, enum signer s,
				    const struct jwt_policy *pol, bool hs256, struct auth_identity *who)
{
	char *t = token_of(header, payload, s);
	enum auth_reason r = verify_with(t, pol, hs256, who);

	free(t);
	return r;
}

static enum auth_reason check_rs(const char *payload)
{
	struct auth_identity who;

	return check_token("{\"alg\":\"RS256\",\"kid\":\"rsa1\"}", payload, SIGN_RSA, &policy, false, &who);
}

#define RS_HEADER "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"typ\":\"JWT\"}"

/* ---- b64url ---- */

START_TEST(test_b64url_strict)
{
	unsigned char out[16];

	ck_assert_int_eq(b64url_decode("", 0, out, sizeof out), 0);
	ck_assert_int_eq(b64url_decode("QQ", 2, out, sizeof out), 1);
	ck_assert_int_eq(out[0], 'A');
	ck_assert_int_eq(b64url_decode("QUI", 3, out, sizeof out), 2);
	ck_assert_int_eq(b64url_decode("QUJD", 4, out, sizeof out), 3);
	ck_assert_int_eq(b64url_decode("-_8", 3, out, sizeof out), 2); /* 0xfb 0xff */
	ck_assert_int_eq(out[0], 0xfb);
	ck_assert_int_eq(out[1], 0xff);
	ck_assert_int_eq(b64url_decode("QQ==", 4, out, sizeof out), -1); /* padding */
	ck_assert_int_eq(b64url_decode("Q", 1, out, sizeof out), -1);    /* 6 bits */
	ck_assert_int_eq(b64url_decode("QR", 2, out, sizeof out), -1);   /* non-zero unused bits */
	ck_assert_int_eq(b64url_decode("QUJ", 3, out, sizeof out), -1);
	ck_assert_int_eq(b64url_decode("Q Q", 3, out, sizeof out), -1);  /* white space */
	ck_assert_int_eq(b64url_decode("+/8", 3, out, sizeof out), -1);  /* base64, not base64url */
	ck_assert_int_eq(b64url_decode("QUJD", 4, out, 2), -1);          /* does not fit */
}
END_TEST

START_TEST(test_b64url_round_trip)
{
	unsigned char in[64], out[64];
	char text[100];

	for (size_t n = 0; n <= sizeof in; n++) {
		for (size_t i = 0; i < n; i++)
			in[i] = (unsigned char)(i * 37 + n);
		ck_assert_uint_eq(b64url_encode(in, n, text), strlen(text));
		ck_assert_uint_eq(b64url_decoded_len(strlen(text)), n);
		ck_assert_int_eq(b64url_decode(text, strlen(text), out, sizeof out), (long)n);
		ck_assert(memcmp(in, out, n) == 0);
	}
}
END_TEST

/* ---- accepted tokens ---- */

START_TEST(test_rs256_accepted)
{
	struct auth_identity who;
	enum auth_reason r = check_token(RS_HEADER, claims("\"scope\":\"openid tasks:read tasks:write\","
							   "\"jti\":\"tok-1\""), SIGN_RSA, &policy, false, &who);

	ck_assert_int_eq(r, AUTH_REASON_NONE);
	ck_assert_str_eq(who.owner, "alice");
	ck_assert_uint_eq(who.owner_len, 5);
	ck_assert_uint_eq(who.scopes, AUTH_SCOPE_READ | AUTH_SCOPE_WRITE);
	ck_assert_str_eq(who.credential_id, "tok-1");
}
END_TEST

START_TEST(test_es256_accepted)
{
	struct auth_identity who;

	ck_assert_int_eq(check_token("{\"alg\":\"ES256\",\"kid\":\"ec1\"}", claims("\"scope\":\"tasks:read\""),
				     SIGN_EC, &policy, false, &who), AUTH_REASON_NONE);
	ck_assert_uint_eq(who.scopes, AUTH_SCOPE_READ);
	ck_assert_str_eq(who.credential_id, "");
	/* Without a kid the keys of the header's alg are tried: here the one P-256 key. */
	ck_assert_int_eq(check_token("{\"alg\":\"ES256\"}", claims(""), SIGN_EC, &policy, false, &who),
			 AUTH_REASON_NONE);
}
END_TEST

START_TEST(test_eddsa_accepted)
{
	struct auth_identity who;

	ck_assert_int_eq(check_token("{\"alg\":\"EdDSA\",\"kid\":\"ed1\",\"typ\":\"at+jwt\"}",
				     claims("\"scp\":[\"tasks:write\"]"), SIGN_ED, &policy, false, &who),
			 AUTH_REASON_NONE);
	ck_assert_uint_eq(who.scopes, AUTH_SCOPE_WRITE); /* auth_check adds read */
	ck_assert_int_eq(check_token("{\"alg\":\"EdDSA\"}", claims(""), SIGN_ED, &policy, false, &who),
			 AUTH_REASON_NONE);
	ck_assert_uint_eq(who.scopes, 0);
}
END_TEST

START_TEST(test_hs256_only_with_the_secret)
{
	struct auth_identity who;
	struct jwks *ks = jwks_new();
	char err[128];

	ck_assert_int_eq(check_token("{\"alg\":\"HS256\"}", claims(""), SIGN_HS, &policy, false, &who),
			 AUTH_REASON_BAD_SIGNATURE);
	ck_assert_int_eq(check_token("{\"alg\":\"HS256\"}", claims(""), SIGN_HS, &policy, true, &who),
			 AUTH_REASON_NONE);
	/* The one secret has no kid: a kid in the header does not matter. */
	ck_assert_int_eq(check_token("{\"alg\":\"HS256\",\"kid\":\"x\"}", claims(""), SIGN_HS, &policy, true, &who),
			 AUTH_REASON_NONE);
	ck_assert_int_eq(jwks_add_hs256(ks, "short", 5, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "at least 32"));
	ck_assert_int_eq(jwks_add_hs256(ks, HS_SECRET, 31, err, sizeof err), -1);
	ck_assert_int_eq(jwks_add_hs256(ks, HS_SECRET, 32, err, sizeof err), 0);
	ck_assert_uint_eq(jwks_count(ks), 1);
	jwks_free(ks);
}
END_TEST

/* ---- algorithm confusion ---- */

START_TEST(test_hs256_with_the_public_key_refused)
{
	struct auth_identity who;

	/* The classic: an HS256 token whose secret is the RSA public key, kid naming the RSA key. */
	ck_assert_int_eq(check_token("{\"alg\":\"HS256\",\"kid\":\"rsa1\"}", claims(""), SIGN_HS_WITH_RSA_PEM,
				     &policy, false, &who), AUTH_REASON_BAD_SIGNATURE);
	ck_assert_int_eq(check_token("{\"alg\":\"HS256\"}", claims(""), SIGN_HS_WITH_RSA_PEM, &policy, false, &who),
			 AUTH_REASON_BAD_SIGNATURE);
	/* Also when HS256 is configured: the secret is the configured one, never a public key. */
	ck_assert_int_eq(check_token("{\"alg\":\"HS256\",\"kid\":\"rsa1\"}", claims(""), SIGN_HS_WITH_RSA_PEM,
				     &policy, true, &who), AUTH_REASON_BAD_SIGNATURE);
	ck_assert_str_eq(who.owner, "");
}
END_TEST

START_TEST(test_alg_other_than_the_keys_refused)
{
	struct auth_identity who;

	/* A real RSA signature, but the header names another alg for that kid. */
	ck_assert_int_eq(check_token("{\"alg\":\"ES256\",\"kid\":\"rsa1\"}", claims(""), SIGN_RSA, &policy, false,
				     &who), AUTH_REASON_BAD_SIGNATURE);
	ck_assert_int_eq(check_token("{\"alg\":\"RS384\",\"kid\":\"rsa1\"}", claims(""), SIGN_RSA, &policy, false,
				     &who), AUTH_REASON_BAD_SIGNATURE);
	ck_assert_int_eq(check_token("{\"alg\":\"PS256\",\"kid\":\"rsa1\"}", claims(""), SIGN_RSA, &policy, false,
				     &who), AUTH_REASON_BAD_SIGNATURE);
	/* A real EdDSA signature, the kid of the P-256 key. */
	ck_assert_int_eq(check_token("{\"alg\":\"EdDSA\",\"kid\":\"ec1\"}", claims(""), SIGN_ED, &policy, false,
				     &who), AUTH_REASON_BAD_SIGNATURE);
	ck_assert_int_eq(check_token("{\"alg\":\"ES256\",\"kid\":\"ed1\"}", claims(""), SIGN_EC, &policy, false,
				     &who), AUTH_REASON_BAD_SIGNATURE);
	/* Names are case-sensitive (RFC 7515 4.1.1). */
	ck_assert_int_eq(check_token("{\"alg\":\"rs256\",\"kid\":\"rsa1\"}", claims(""), SIGN_RSA, &policy, false,
				     &who), AUTH_REASON_BAD_SIGNATURE);
}
END_TEST

START_TEST(test_alg_none_refused)
{
	static const char *const headers[] = { "{\"alg\":\"none\"}", "{\"alg\":\"None\"}", "{\"alg\":\"NONE\"}",
					       "{\"alg\":\"none\",\"kid\":\"rsa1\"}", "{\"alg\":\"\"}" };
	struct auth_identity who;

	for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
		ck_assert_int_eq(check_token(headers[i], claims(""), SIGN_EMPTY, &policy, true, &who),
				 AUTH_REASON_BAD_SIGNATURE);
		/* Nor with a signature of some key attached. */
		ck_assert_int_eq(check_token(headers[i], claims(""), SIGN_RSA, &policy, true, &who),
				 AUTH_REASON_BAD_SIGNATURE);
	}
}
END_TEST

START_TEST(test_kid_unknown_refused)
{
	struct auth_identity who;

	ck_assert_int_eq(check_token("{\"alg\":\"RS256\",\"kid\":\"rsa9\"}", claims(""), SIGN_RSA, &policy, false,
				     &who), AUTH_REASON_BAD_SIGNATURE);
	/* Signed by a key the JWKS does not hold, under the kid of one it does. */
	ck_assert_int_eq(check_token(RS_HEADER, claims(""), SIGN_RSA2, &policy, false, &who),
			 AUTH_REASON_BAD_SIGNATURE);
	ck_assert_int_eq(check_token("{\"alg\":\"RS256\"}", claims(""), SIGN_RSA2, &policy, false, &who),
			 AUTH_REASON_BAD_SIGNATURE);
}
END_TEST

/* Every token made by changing one character of a good one is refused. */
static void every_one_char_change_refused(const char *header, enum signer s)
{
	char *t = token_of(header, claims("\"scope\":\"tasks:read\""), s);
	struct jwks *ks = keys_of(jwks_text, true);
	struct auth_identity who;
	size_t len = strlen(t), bad_sig = 0;

	ck_assert_int_eq(jwt_verify(ks, &policy, t, len, NOW, &who), AUTH_REASON_NONE);
	for (size_t i = 0; i < len; i++) {
		char was = t[i];
		enum auth_reason r;

		if (was == '.')
			continue;
		t[i] = was == 'A' ? 'B' : 'A';
		r = jwt_verify(ks, &policy, t, len, NOW, &who);
		ck_assert_msg(r == AUTH_REASON_BAD_SIGNATURE || r == AUTH_REASON_MALFORMED,
			      "changing character %zu of %s gave reason %d", i, header, (int)r);
		bad_sig += r == AUTH_REASON_BAD_SIGNATURE;
		t[i] = was;
	}
	ck_assert_uint_gt(bad_sig, len / 2);
	jwks_free(ks);
	free(t);
}

START_TEST(test_one_char_changed_refused)
{
	every_one_char_change_refused(RS_HEADER, SIGN_RSA);
	every_one_char_change_refused("{\"alg\":\"ES256\",\"kid\":\"ec1\"}", SIGN_EC);
	every_one_char_change_refused("{\"alg\":\"EdDSA\",\"kid\":\"ed1\"}", SIGN_ED);
	every_one_char_change_refused("{\"alg\":\"HS256\"}", SIGN_HS);
}
END_TEST

/* ---- times ---- */

START_TEST(test_expired)
{
	char extra[200];

	ck_assert_int_eq(check_rs("{\"sub\":\"alice\",\"iss\":\"" ISS "\",\"aud\":\"" AUD "\"}"),
			 AUTH_REASON_BAD_CLAIMS); /* no exp */
	ck_assert_int_eq(check_rs("{\"sub\":\"alice\",\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":\"2099\"}"),
			 AUTH_REASON_BAD_CLAIMS);
	ck_assert_int_eq(check_rs("{\"sub\":\"alice\",\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":null}"),
			 AUTH_REASON_BAD_CLAIMS);
	snprintf(extra, sizeof extra, "{\"sub\":\"alice\",\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%lld}",
		 NOW - 3600);
	ck_assert_int_eq(check_rs(extra), AUTH_REASON_EXPIRED);
}
END_TEST

static enum auth_reason at_exp(const char *exp, long leeway)
{
	char payload[256];
	struct jwt_policy pol = policy;
	struct auth_identity who;

	pol.leeway_s = leeway;
	snprintf(payload, sizeof payload, "{\"sub\":\"alice\",\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%s}", exp);
	return check_token(RS_HEADER, payload, SIGN_RSA, &pol, false, &who);
}

static enum auth_reason at_nbf(const char *name, const char *t, long leeway)
{
	char payload[256];
	struct jwt_policy pol = policy;
	struct auth_identity who;

	pol.leeway_s = leeway;
	snprintf(payload, sizeof payload, "{\"sub\":\"alice\",\"iss\":\"" ISS "\",\"aud\":\"" AUD "\","
		 "\"exp\":%lld,\"%s\":%s}", NOW + 3600, name, t);
	return check_token("{\"alg\":\"EdDSA\"}", payload, SIGN_ED, &pol, false, &who);
}

START_TEST(test_leeway_edges)
{
	/* Valid while now < exp + leeway (RFC 7519 4.1.4: "on or after" exp it is expired). */
	ck_assert_int_eq(at_exp("1700000001", 0), AUTH_REASON_NONE);
	ck_assert_int_eq(at_exp("1700000000", 0), AUTH_REASON_EXPIRED);
	ck_assert_int_eq(at_exp("1699999971", 30), AUTH_REASON_NONE);
	ck_assert_int_eq(at_exp("1699999970", 30), AUTH_REASON_EXPIRED);
	ck_assert_int_eq(at_exp("1699999970.5", 30), AUTH_REASON_NONE); /* NumericDate may have a fraction */
	ck_assert_int_eq(at_exp("1.6999999705e9", 30), AUTH_REASON_NONE);
	ck_assert_int_eq(at_exp("1699999969.9", 30), AUTH_REASON_EXPIRED);
	ck_assert_int_eq(at_exp("1699999400", 600), AUTH_REASON_EXPIRED);
	ck_assert_int_eq(at_exp("1699999401", 600), AUTH_REASON_NONE);
	/* Not before nbf - leeway. */
	ck_assert_int_eq(at_nbf("nbf", "1700000000", 0), AUTH_REASON_NONE);
	ck_assert_int_eq(at_nbf("nbf", "1700000001", 0), AUTH_REASON_NOT_YET_VALID);
	ck_assert_int_eq(at_nbf("nbf", "1700000030", 30), AUTH_REASON_NONE);
	ck_assert_int_eq(at_nbf("nbf", "1700000031", 30), AUTH_REASON_NOT_YET_VALID);
	ck_assert_int_eq(at_nbf("nbf", "1690000000", 30), AUTH_REASON_NONE);
}
END_TEST

START_TEST(test_not_yet_valid)
{
	ck_assert_int_eq(at_nbf("nbf", "1700003600", 30), AUTH_REASON_NOT_YET_VALID);
	ck_assert_int_eq(at_nbf("iat", "1700003600", 30), AUTH_REASON_NOT_YET_VALID); /* issued in the future */
	ck_assert_int_eq(at_nbf("iat", "1700000030", 30), AUTH_REASON_NONE);
	ck_assert_int_eq(at_nbf("iat", "1600000000", 30), AUTH_REASON_NONE);
	ck_assert_int_eq(at_nbf("nbf", "\"soon\"", 30), AUTH_REASON_BAD_CLAIMS);
	ck_assert_int_eq(at_nbf("iat", "true", 30), AUTH_REASON_BAD_CLAIMS);
}
END_TEST

/* ---- iss, aud, owner, scopes, jti ---- */

static enum auth_reason with_members(const char *members, const struct jwt_policy *pol, struct auth_identity *who)
{
	char payload[1024];

	snprintf(payload, sizeof payload, "{\"exp\":%lld%s%s}", NOW + 60, members[0] ? "," : "", members);
	return check_token("{\"alg\":\"EdDSA\"}", payload, SIGN_ED, pol, false, who);
}

#define BASE "\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"alice\""

START_TEST(test_issuer)
{
	struct auth_identity who;
	struct jwt_policy any = policy;

	ck_assert_int_eq(with_members(BASE, &policy, &who), AUTH_REASON_NONE);
	ck_assert_int_eq(with_members("\"iss\":\"https://evil.example\",\"aud\":\"" AUD "\",\"sub\":\"alice\"",
				      &policy, &who), AUTH_REASON_BAD_CLAIMS);
	ck_assert_int_eq(with_members("\"iss\":\"" ISS "/\",\"aud\":\"" AUD "\",\"sub\":\"alice\"", &policy, &who),
			 AUTH_REASON_BAD_CLAIMS);
	ck_assert_int_eq(with_members("\"aud\":\"" AUD "\",\"sub\":\"alice\"", &policy, &who),
			 AUTH_REASON_BAD_CLAIMS);
	ck_assert_int_eq(with_members("\"iss\":[\"" ISS "\"],\"aud\":\"" AUD "\",\"sub\":\"alice\"", &policy, &who),
			 AUTH_REASON_BAD_CLAIMS);
	any.issuer = "";
	ck_assert_int_eq(with_members("\"iss\":\"https://any.example\",\"aud\":\"" AUD "\",\"sub\":\"alice\"", &any,
				      &who), AUTH_REASON_NONE);
}
END_TEST

START_TEST(test_audience)
{
	struct auth_identity who;
	struct jwt_policy any = policy;

	ck_assert_int_eq(with_members("\"iss\":\"" ISS "\",\"aud\":\"other\",\"sub\":\"alice\"", &policy, &who),
			 AUTH_REASON_BAD_CLAIMS);
	ck_assert_int_eq(with_members("\"iss\":\"" ISS "\",\"aud\":[\"other\",\"" AUD "\"],\"sub\":\"alice\"",
				      &policy, &who), AUTH_REASON_NONE);
	ck_assert_int_eq(with_members("\"iss\":\"" ISS "\",\"aud\":[\"other\",\"more\"],\"sub\":\"alice\"", &policy,
				      &who), AUTH_REASON_BAD_CLAIMS);
	ck_assert_int_eq(with_members("\"iss\":\"" ISS "\",\"aud\":[],\"sub\":\"alice\"", &policy, &who),
			 AUTH_REASON_BAD_CLAIMS);
	ck_assert_int_eq(with_members("\"iss\":\"" ISS "\",\"aud\":[[\"" AUD "\"]],\"sub\":\"alice\"", &policy,
				      &who), AUTH_REASON_BAD_CLAIMS);
	ck_assert_int_eq(with_members("\"iss\":\"" ISS "\",\"aud\":7,\"sub\":\"alice\"", &policy, &who),
			 AUTH_REASON_BAD_CLAIMS);
	ck_assert_int_eq(with_members("\"iss\":\"" ISS "\",\"sub\":\"alice\"", &policy, &who), AUTH_REASON_BAD_CLAIMS);
	ck_assert_int_eq(with_members("\"iss\":\"" ISS "\",\"aud\":\"taskapi2\",\"sub\":\"alice\"", &policy, &who),
			 AUTH_REASON_BAD_CLAIMS);
	any.audience = NULL;
	ck_assert_int_eq(with_members("\"iss\":\"" ISS "\",\"aud\":\"other\",\"sub\":\"alice\"", &any, &who),
			 AUTH_REASON_NONE);
}
END_TEST

START_TEST(test_owner_claim)
{
	struct auth_identity who;
	struct jwt_policy email = policy;
	char members[600];

	ck_assert_int_eq(with_members("\"iss\":\"" ISS "\",\"aud\":\"" AUD "\"", &policy, &who),
			 AUTH_REASON_BAD_CLAIMS);
	ck_assert_int_eq(with_members("\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":42", &policy, &who),
			 AUTH_REASON_BAD_CLAIMS);
	ck_assert_int_eq(with_members("\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":[\"alice\"]", &policy, &who),
			 AUTH_REASON_BAD_CLAIMS);
	ck_assert_int_eq(with_members("\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":null", &policy, &who),
			 AUTH_REASON_BAD_CLAIMS);
	ck_assert_int_eq(with_members("\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"\"", &policy, &who),
			 AUTH_REASON_BAD_OWNER);
	ck_assert_int_eq(with_members("\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"al ice\"", &policy, &who),
			 AUTH_REASON_BAD_OWNER);
	ck_assert_int_eq(with_members("\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"al\\nice\"", &policy, &who),
			 AUTH_REASON_BAD_OWNER);
	snprintf(members, sizeof members, "\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"%0256d\"", 0);
	ck_assert_int_eq(with_members(members, &policy, &who), AUTH_REASON_BAD_OWNER);
	ck_assert_str_eq(who.owner, "");
	ck_assert_int_eq(with_members("\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"b\xc3\xa9r\xc3\xa9nice\"",
				      &policy, &who), AUTH_REASON_NONE);
	ck_assert_str_eq(who.owner, "b\xc3\xa9r\xc3\xa9nice");
	email.owner_claim = "email";
	ck_assert_int_eq(with_members(BASE ",\"email\":\"alice@example.org\"", &email, &who), AUTH_REASON_NONE);
	ck_assert_str_eq(who.owner, "alice@example.org");
	ck_assert_int_eq(with_members(BASE, &email, &who), AUTH_REASON_BAD_CLAIMS);
}
END_TEST

START_TEST(test_scopes)
{
	struct auth_identity who;

	ck_assert_int_eq(with_members(BASE ",\"scope\":\"tasks:read\"", &policy, &who), AUTH_REASON_NONE);
	ck_assert_uint_eq(who.scopes, AUTH_SCOPE_READ);
	ck_assert_int_eq(with_members(BASE ",\"scope\":\"  tasks:write  openid \"", &policy, &who), AUTH_REASON_NONE);
	ck_assert_uint_eq(who.scopes, AUTH_SCOPE_WRITE);
	ck_assert_int_eq(with_members(BASE ",\"scope\":\"tasks:readx tasks:Write tasks\"", &policy, &who),
			 AUTH_REASON_NONE);
	ck_assert_uint_eq(who.scopes, 0);
	ck_assert_int_eq(with_members(BASE ",\"scp\":[\"tasks:read\",\"tasks:write\"]", &policy, &who),
			 AUTH_REASON_NONE);
	ck_assert_uint_eq(who.scopes, AUTH_SCOPE_ALL);
	ck_assert_int_eq(with_members(BASE ",\"scp\":\"tasks:write\",\"scope\":\"tasks:read\"", &policy, &who),
			 AUTH_REASON_NONE);
	ck_assert_uint_eq(who.scopes, AUTH_SCOPE_ALL);
	ck_assert_int_eq(with_members(BASE ",\"scope\":7", &policy, &who), AUTH_REASON_BAD_CLAIMS);
	ck_assert_int_eq(with_members(BASE ",\"scp\":[\"tasks:read\",1]", &policy, &who), AUTH_REASON_BAD_CLAIMS);
}
END_TEST

START_TEST(test_jti)
{
	struct auth_identity who;

	ck_assert_int_eq(with_members(BASE ",\"jti\":\"0123456789012345678901234567890123456789-and-more\"", &policy,
				      &who), AUTH_REASON_NONE);
	ck_assert_str_eq(who.credential_id, "0123456789012345678901234567890123456789");
	/* The cut keeps whole characters: 39 bytes and a 2-byte one would be 41. */
	ck_assert_int_eq(with_members(BASE ",\"jti\":\"012345678901234567890123456789012345678\xc3\xa9\"", &policy,
				      &who), AUTH_REASON_NONE);
	ck_assert_str_eq(who.credential_id, "012345678901234567890123456789012345678");
	ck_assert_int_eq(with_members(BASE ",\"jti\":12", &policy, &who), AUTH_REASON_BAD_CLAIMS);
}
END_TEST

/* ---- malformed and oversized ---- */

static enum auth_reason raw(const char *token)
{
	struct auth_identity who;

	return verify_with(token, &policy, true, &who);
}

START_TEST(test_malformed)
{
	char *good = token_of(RS_HEADER, claims(""), SIGN_RSA), *t, *dot1, *dot2;
	size_t len = strlen(good);
	struct auth_identity who;

	ck_assert_int_eq(raw(good), AUTH_REASON_NONE);
	ck_assert_int_eq(raw(""), AUTH_REASON_MALFORMED);
	ck_assert_int_eq(raw("abc"), AUTH_REASON_MALFORMED);
	ck_assert_int_eq(raw("a.b"), AUTH_REASON_MALFORMED);
	ck_assert_int_eq(raw(".."), AUTH_REASON_MALFORMED);
	ck_assert_int_eq(raw("e30.e30."), AUTH_REASON_MALFORMED); /* {} has no alg */
	t = malloc(len + 8);
	/* Four parts. */
	sprintf(t, "%s.AAAA", good);
	ck_assert_int_eq(raw(t), AUTH_REASON_MALFORMED);
	/* Padding, white space, standard base64 characters. */
	dot1 = strchr(good, '.');
	dot2 = strchr(dot1 + 1, '.');
	sprintf(t, "%.*s=%s", (int)(dot1 - good), good, dot1);
	ck_assert_int_eq(raw(t), AUTH_REASON_MALFORMED);
	sprintf(t, "%.*s %s", (int)(dot2 - good), good, dot2);
	ck_assert_int_eq(raw(t), AUTH_REASON_MALFORMED);
	sprintf(t, "%s==", good);
	ck_assert_int_eq(raw(t), AUTH_REASON_MALFORMED);
	strcpy(t, good);
	t[len - 5] = '+';
	ck_assert_int_eq(raw(t), AUTH_REASON_MALFORMED);
	free(t);
	/* A NUL inside the token (it is not a C string). */
	{
		struct jwks *ks = keys_of(jwks_text, false);

		t = strdup(good);
		t[3] = '\0';
		ck_assert_int_eq(jwt_verify(ks, &policy, t, len, NOW, &who), AUTH_REASON_MALFORMED);
		jwks_free(ks);
		free(t);
	}
	free(good);
	/* Header: not JSON, not an object, duplicate members, crit, another typ, a kid not a string, cty JWT. */
	ck_assert_int_eq(check_token("{\"alg\":\"RS256\"", claims(""), SIGN_RSA, &policy, false, &who),
			 AUTH_REASON_MALFORMED);
	ck_assert_int_eq(check_token("[\"RS256\"]", claims(""), SIGN_RSA, &policy, false, &who), AUTH_REASON_MALFORMED);
	ck_assert_int_eq(check_token("{\"alg\":\"none\",\"alg\":\"RS256\"}", claims(""), SIGN_RSA, &policy, false,
				     &who), AUTH_REASON_MALFORMED);
	ck_assert_int_eq(check_token("{\"alg\":\"RS256\",\"crit\":[\"exp\"],\"exp\":1}", claims(""), SIGN_RSA,
				     &policy, false, &who), AUTH_REASON_MALFORMED);
	ck_assert_int_eq(check_token("{\"alg\":\"RS256\",\"typ\":\"dpop+jwt\"}", claims(""), SIGN_RSA, &policy,
				     false, &who), AUTH_REASON_MALFORMED);
	ck_assert_int_eq(check_token("{\"alg\":\"RS256\",\"typ\":7}", claims(""), SIGN_RSA, &policy, false, &who),
			 AUTH_REASON_MALFORMED);
	ck_assert_int_eq(check_token("{\"alg\":\"RS256\",\"kid\":1}", claims(""), SIGN_RSA, &policy, false, &who),
			 AUTH_REASON_MALFORMED);
	ck_assert_int_eq(check_token("{\"alg\":\"RS256\",\"cty\":\"JWT\"}", claims(""), SIGN_RSA, &policy, false,
				     &who), AUTH_REASON_MALFORMED);
	ck_assert_int_eq(check_token("{\"alg\":7}", claims(""), SIGN_RSA, &policy, false, &who),
			 AUTH_REASON_MALFORMED);
	/* A header's "jwk" is never a key: the token cannot bring its own. */
	ck_assert_int_eq(check_token("{\"alg\":\"RS256\",\"jwk\":{\"kty\":\"oct\",\"k\":\"AAAA\"}}", claims(""),
				     SIGN_RSA, &policy, false, &who), AUTH_REASON_NONE);
	/* Payload: signed, but not a JSON object. */
	ck_assert_int_eq(check_token(RS_HEADER, "{\"sub\":", SIGN_RSA, &policy, false, &who), AUTH_REASON_MALFORMED);
	ck_assert_int_eq(check_token(RS_HEADER, "\"alice\"", SIGN_RSA, &policy, false, &who), AUTH_REASON_MALFORMED);
	ck_assert_int_eq(check_token(RS_HEADER, "{\"sub\":\"alice\",\"sub\":\"bob\",\"exp\":1800000000}", SIGN_RSA,
				     &policy, false, &who), AUTH_REASON_MALFORMED);
}
END_TEST

START_TEST(test_oversized)
{
	char *pad = malloc(JWT_MAX_TOKEN + 64), *payload = malloc(JWT_MAX_TOKEN + 256), *t;
	struct auth_identity who;

	memset(pad, 'x', JWT_MAX_TOKEN);
	pad[JWT_MAX_TOKEN] = '\0';
	ck_assert_int_eq(raw(pad), AUTH_REASON_MALFORMED);
	/* A good signature does not make a token over the bound acceptable. */
	sprintf(payload, "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"alice\",\"exp\":%lld,\"pad\":\"%.*s\"}",
		NOW + 60, 6000, pad);
	t = token_of("{\"alg\":\"EdDSA\"}", payload, SIGN_ED);
	ck_assert_uint_gt(strlen(t), JWT_MAX_TOKEN);
	ck_assert_int_eq(verify_with(t, &policy, false, &who), AUTH_REASON_MALFORMED);
	free(t);
	/* Just under it is fine. */
	sprintf(payload, "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"alice\",\"exp\":%lld,\"pad\":\"%.*s\"}",
		NOW + 60, 5900, pad);
	t = token_of("{\"alg\":\"EdDSA\"}", payload, SIGN_ED);
	ck_assert_uint_le(strlen(t), JWT_MAX_TOKEN);
	ck_assert_int_eq(verify_with(t, &policy, false, &who), AUTH_REASON_NONE);
	free(t);
	free(pad);
	free(payload);
}
END_TEST

/* ---- JWKS files ---- */

/* jwks_add_json on text: its return, with err and the load. */
static int load(const char *text, struct jwks_load *l, char *err, size_t errlen)
{
	struct jwks *ks = jwks_new();
	int rc = jwks_add_json(ks, text, strlen(text), l, err, errlen);

	ck_assert_uint_eq(jwks_count(ks), rc == 0 ? l->added : 0);
	jwks_free(ks);
	return rc;
}

static void load_fails(const char *text, const char *why)
{
	struct jwks_load l;
	char err[256] = "";

	ck_assert_int_eq(load(text, &l, err, sizeof err), -1);
	ck_assert_msg(strstr(err, why) != NULL, "error '%s' does not say '%s'", err, why);
}

static void load_skips(const char *text, const char *why)
{
	struct jwks_load l;
	char err[256] = "";

	ck_assert_msg(load(text, &l, err, sizeof err) == 0, "%s", err);
	ck_assert_uint_eq(l.added, 0);
	ck_assert_uint_eq(l.skipped, 1);
	ck_assert_msg(strstr(l.first_skip, why) != NULL, "skip '%s' does not say '%s'", l.first_skip, why);
}

/* A JWKS of one key: k with member name set to value (JSON text; NULL removes it). */
static char *one_key(json_t *k, const char *name, const char *value)
{
	json_t *keys = json_array();

	if (value == NULL)
		json_object_del(k, name);
	else
		json_object_set_new(k, name, json_loads(value, JSON_DECODE_ANY, NULL));
	json_array_append_new(keys, k);
	return jwks_of(keys);
}

static void key_variant(json_t *k, const char *name, const char *value, int want, const char *why)
{
	char *text = one_key(k, name, value);

	if (want < 0)
		load_fails(text, why);
	else if (want > 0)
		load_skips(text, why);
	else {
		struct jwks_load l;
		char err[256] = "";

		ck_assert_msg(load(text, &l, err, sizeof err) == 0, "%s", err);
		ck_assert_uint_eq(l.added, 1);
	}
	free(text);
}

START_TEST(test_jwks_documents)
{
	struct jwks_load l;
	char err[256], big[80];

	load_fails("", "not JSON");
	load_fails("{\"keys\":[", "not JSON");
	load_fails("[]", "not a JWKS");
	load_fails("{\"kty\":\"RSA\"}", "not a JWKS");
	load_fails("{\"keys\":{}}", "not a JWKS");
	load_fails("{\"keys\":[1]}", "key 0: not a JSON object");
	load_fails("{\"keys\":[],\"keys\":[]}", "duplicate");
	/* jansson quotes the text near a syntax error byte by byte: the message is still UTF-8 (fuzz_jwt). */
	ck_assert_int_eq(load("{\"keys\":[{\"kid\":\"ab\\u2\xf0\xac\xad\xad\"}]}", &l, err, sizeof err), -1);
	ck_assert_msg(utf8_is_valid(err, strlen(err)), "not UTF-8: %s", err);
	ck_assert_ptr_nonnull(strstr(err, "not JSON: invalid escape"));
	ck_assert_int_eq(load("{\"keys\":[]}", &l, err, sizeof err), 0);
	ck_assert_uint_eq(l.added + l.skipped, 0);
	/* More than JWKS_MAX_KEYS. */
	{
		json_t *keys = json_array();
		char *text;

		for (int i = 0; i <= JWKS_MAX_KEYS; i++)
			json_array_append_new(keys, jwk_ed(ed_key, "same"));
		text = jwks_of(keys);
		snprintf(big, sizeof big, "more than %d", JWKS_MAX_KEYS);
		load_fails(text, big);
		free(text);
	}
	ck_assert_int_eq(load(jwks_text, &l, err, sizeof err), 0);
	ck_assert_uint_eq(l.added, 3);
	ck_assert_uint_eq(l.skipped, 0);
}
END_TEST

START_TEST(test_jwks_keys)
{
	/* RSA */
	key_variant(jwk_rsa(rsa_key, "r"), "alg", "\"RS256\"", 0, "");
	key_variant(jwk_rsa(rsa_key, "r"), "alg", "\"PS256\"", 1, "alg PS256 is not supported");
	key_variant(jwk_rsa(rsa_key, "r"), "alg", "\"ES256\"", -1, "does not fit");
	key_variant(jwk_rsa(rsa_key, "r"), "alg", "\"HS256\"", -1, "does not fit");
	key_variant(jwk_rsa(rsa_key, "r"), "alg", "\"none\"", 1, "not supported");
	key_variant(jwk_rsa(rsa_key, "r"), "alg", "256", -1, "\"alg\" is not a string");
	key_variant(jwk_rsa(rsa_key, "r"), "n", NULL, -1, "\"n\" is missing");
	key_variant(jwk_rsa(rsa_key, "r"), "e", "\"AQAB=\"", -1, "\"e\" is not base64url");
	key_variant(jwk_rsa(rsa_key, "r"), "e", "\"Ag\"", -1, "not an RSA public key");
	key_variant(jwk_rsa(rsa_key, "r"), "d", "\"AQAB\"", -1, "private key material");
	key_variant(jwk_rsa(rsa_key, "r"), "use", "\"enc\"", 1, "\"use\" is not \"sig\"");
	key_variant(jwk_rsa(rsa_key, "r"), "use", "\"sig\"", 0, "");
	key_variant(jwk_rsa(rsa_key, "r"), "key_ops", "[\"encrypt\"]", 1, "no \"verify\"");
	key_variant(jwk_rsa(rsa_key, "r"), "key_ops", "[\"verify\"]", 0, "");
	key_variant(jwk_rsa(rsa_key, "r"), "key_ops", "\"verify\"", -1, "not an array");
	key_variant(jwk_rsa(rsa_key, "r"), "kid", "\"\"", -1, "\"kid\" is empty");
	key_variant(jwk_rsa(rsa_key, "r"), "kid", "3", -1, "\"kid\" is not a string");
	key_variant(jwk_rsa(rsa_key, "r"), "kty", NULL, -1, "\"kty\" is missing");
	key_variant(jwk_rsa(rsa1024_key, "small"), "alg", "\"RS256\"", 1, "1024 bits");
	/* EC */
	key_variant(jwk_ec(ec_key, "e"), "alg", "\"ES256\"", 0, "");
	key_variant(jwk_ec(ec_key, "e"), "crv", "\"P-384\"", 1, "kty EC crv P-384 is not supported");
	key_variant(jwk_ec(ec_key, "e"), "crv", NULL, 1, "not supported");
	key_variant(jwk_ec(ec_key, "e"), "alg", "\"ES384\"", 1, "alg ES384 is not supported");
	key_variant(jwk_ec(ec_key, "e"), "alg", "\"RS256\"", -1, "does not fit");
	key_variant(jwk_ec(ec_key, "e"), "x", "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"", -1,
		    "not a point of the curve P-256");
	key_variant(jwk_ec(ec_key, "e"), "y", "\"AAAA\"", -1, "\"y\" is 3 bytes, expected 32");
	/* OKP */
	key_variant(jwk_ed(ed_key, "d"), "alg", "\"EdDSA\"", 0, "");
	key_variant(jwk_ed(ed_key, "d"), "crv", "\"Ed448\"", 1, "not supported");
	key_variant(jwk_ed(ed_key, "d"), "crv", "\"X25519\"", 1, "not supported");
	key_variant(jwk_ed(ed_key, "d"), "x", "\"AAAA\"", -1, "\"x\" is 3 bytes, expected 32");
	/* Others */
	key_variant(jwk_ed(ed_key, "d"), "kty", "\"oct\"", 1, "symmetric");
	key_variant(jwk_ed(ed_key, "d"), "kty", "\"RSA-OAEP\"", 1, "kty RSA-OAEP");
}
END_TEST

START_TEST(test_jwks_kid_and_alg_from_the_key)
{
	/* A JWKS of two RSA keys: the kid chooses; without kid both are tried. */
	json_t *keys = json_array();
	char *text, *t;
	struct jwks *ks;
	struct auth_identity who;

	json_array_append_new(keys, jwk_rsa(rsa2_key, "rsa2"));
	json_array_append_new(keys, jwk_rsa(rsa_key, "rsa1"));
	text = jwks_of(keys);
	ks = keys_of(text, false);
	t = token_of("{\"alg\":\"RS256\"}", claims(""), SIGN_RSA);
	ck_assert_int_eq(jwt_verify(ks, &policy, t, strlen(t), NOW, &who), AUTH_REASON_NONE);
	free(t);
	t = token_of("{\"alg\":\"RS256\",\"kid\":\"rsa2\"}", claims(""), SIGN_RSA);
	ck_assert_int_eq(jwt_verify(ks, &policy, t, strlen(t), NOW, &who), AUTH_REASON_BAD_SIGNATURE);
	free(t);
	t = token_of("{\"alg\":\"RS256\",\"kid\":\"rsa2\"}", claims(""), SIGN_RSA2);
	ck_assert_int_eq(jwt_verify(ks, &policy, t, strlen(t), NOW, &who), AUTH_REASON_NONE);
	free(t);
	jwks_free(ks);
	free(text);
}
END_TEST

/* ---- threads: one key set, many verifiers ---- */

struct verify_job {
	struct jwks *ks;
	const char *token;
	int ok;
};

static void *verify_many(void *arg)
{
	struct verify_job *j = arg;
	struct auth_identity who;

	for (int i = 0; i < 200; i++)
		j->ok += jwt_verify(j->ks, &policy, j->token, strlen(j->token), NOW, &who) == AUTH_REASON_NONE;
	return NULL;
}

START_TEST(test_threads_share_the_keys)
{
	struct jwks *ks = keys_of(jwks_text, true);
	char *tokens[4] = { token_of(RS_HEADER, claims(""), SIGN_RSA),
			    token_of("{\"alg\":\"ES256\"}", claims(""), SIGN_EC),
			    token_of("{\"alg\":\"EdDSA\"}", claims(""), SIGN_ED),
			    token_of("{\"alg\":\"HS256\"}", claims(""), SIGN_HS) };
	struct verify_job jobs[4];
	pthread_t th[4];

	for (int i = 0; i < 4; i++) {
		jobs[i] = (struct verify_job){ ks, tokens[i], 0 };
		ck_assert_int_eq(pthread_create(&th[i], NULL, verify_many, &jobs[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ck_assert_int_eq(jobs[i].ok, 200);
		free(tokens[i]);
	}
	jwks_free(ks);
}
END_TEST

/* ---- jwt_auth: the files of a configuration ---- */

static char dir[UNIT_DIR_SIZE];

static void dir_setup(void)
{
	unit_dir_make(dir, "jwt");
}

static void dir_teardown(void)
{
	unit_dir_remove(dir);
}

static char *write_file(const char *name, const char *text, mode_t mode)
{
	static char path[2][128];
	static int which;
	char *p = path[which++ % 2];
	FILE *f;

	snprintf(p, sizeof path[0], "%s/%s", dir, name);
	f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	chmod(p, mode);
	return p;
}

/* jwt_auth_new with these files ("" = not set): its return, err filled. */
static int auth_with(const char *jwks, const char *secret, char *err, size_t errlen, struct jwt_auth **out)
{
	struct config cfg;
	char e[CONFIG_ERR_SIZE];
	int rc;

	config_init(&cfg);
	ck_assert_int_eq(config_set(&cfg, "auth", "mode", "jwt", e, sizeof e), 0);
	ck_assert_int_eq(config_set(&cfg, "auth", "jwt_jwks_file", jwks, e, sizeof e), 0);
	ck_assert_int_eq(config_set(&cfg, "auth", "jwt_hs256_secret_file", secret, e, sizeof e), 0);
	ck_assert_int_eq(config_set(&cfg, "auth", "jwt_issuer", ISS, e, sizeof e), 0);
	ck_assert_int_eq(config_set(&cfg, "auth", "jwt_audience", AUD, e, sizeof e), 0);
	err[0] = '\0';
	rc = jwt_auth_new(&cfg, NULL, out, err, errlen);
	config_release(&cfg);
	return rc;
}

static void auth_fails(const char *jwks, const char *secret, const char *why)
{
	struct jwt_auth *ja = (struct jwt_auth *)1;
	char err[512];

	ck_assert_int_eq(auth_with(jwks, secret, err, sizeof err, &ja), -1);
	ck_assert_ptr_null(ja);
	ck_assert_msg(strstr(err, why) != NULL, "error '%s' does not say '%s'", err, why);
}

START_TEST(test_auth_files)
{
	struct jwt_auth *ja;
	struct auth_identity who;
	enum auth_reason why;
	char err[512], *path, *t, missing[160];
	time_t now = time(NULL);
	char payload[256];

	path = write_file("jwks.json", jwks_text, 0644);
	ck_assert_msg(auth_with(path, "", err, sizeof err, &ja) == 0, "%s", err);
	snprintf(payload, sizeof payload, "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"carol\",\"exp\":%lld,"
		 "\"scope\":\"tasks:read\"}", (long long)now + 120);
	t = token_of("{\"alg\":\"EdDSA\",\"kid\":\"ed1\"}", payload, SIGN_ED);
	ck_assert_int_eq(jwt_auth_check(ja, t, strlen(t), &who, &why), AUTH_OK);
	ck_assert_int_eq(why, AUTH_REASON_NONE);
	ck_assert_str_eq(who.owner, "carol");
	free(t);
	t = token_of("{\"alg\":\"HS256\"}", payload, SIGN_HS);
	ck_assert_int_eq(jwt_auth_check(ja, t, strlen(t), &who, &why), AUTH_UNAUTHENTICATED);
	ck_assert_int_eq(why, AUTH_REASON_BAD_SIGNATURE);
	jwt_auth_free(ja);

	/* HS256 with its secret file, alone or with the JWKS. */
	ck_assert_msg(auth_with("", write_file("hs.secret", HS_SECRET "\n", 0600), err, sizeof err, &ja) == 0, "%s",
		      err);
	ck_assert_int_eq(jwt_auth_check(ja, t, strlen(t), &who, &why), AUTH_OK);
	jwt_auth_free(ja);
	free(t);
	auth_fails("", write_file("short.secret", "too short\n", 0600), "at least 32");
	auth_fails("", write_file("open.secret", HS_SECRET "\n", 0644), "accessible by others");

	/* Each failure names the file and the problem. */
	snprintf(missing, sizeof missing, "%s/nowhere.json", dir);
	auth_fails(missing, "", "nowhere.json': cannot open it: No such file");
	auth_fails(dir, "", "not a regular file");
	auth_fails(write_file("bad.json", "{\"keys\": [", 0644), "", "bad.json': not JSON");
	auth_fails(write_file("empty.json", "{\"keys\": []}", 0644), "", "empty.json': no usable key");
	auth_fails(write_file("rsa384.json", "{\"keys\":[{\"kty\":\"RSA\",\"alg\":\"PS384\",\"n\":\"AQAB\",\"e\":"
				  "\"AQAB\"}]}", 0644), "", "no usable key (RSA, EC P-256 or OKP Ed25519 for RS256, "
				  "ES256 or EdDSA signatures); left out: key 0: alg PS384 is not supported");
	auth_fails("", "", "needs auth.jwt_jwks_file");
}
END_TEST

START_TEST(test_auth_check_through_auth)
{
	/* The bearer header, then jwt_auth: auth_check gives write its read. */
	struct config cfg;
	struct auth *a;
	struct request req;
	struct auth_identity who;
	enum auth_reason why;
	char e[CONFIG_ERR_SIZE], header[4096], payload[256], *t;

	config_init(&cfg);
	ck_assert_int_eq(config_set(&cfg, "auth", "mode", "jwt", e, sizeof e), 0);
	ck_assert_int_eq(config_set(&cfg, "auth", "jwt_jwks_file", write_file("jwks.json", jwks_text, 0644), e,
				    sizeof e), 0);
	ck_assert_msg(auth_new(&cfg, NULL, &a, e, sizeof e) == 0, "%s", e);
	snprintf(payload, sizeof payload, "{\"sub\":\"dave\",\"exp\":%lld,\"scope\":\"tasks:write\",\"jti\":\"j1\"}",
		 (long long)time(NULL) + 120);
	t = token_of("{\"alg\":\"ES256\"}", payload, SIGN_EC);
	snprintf(header, sizeof header, "Bearer %s", t);
	memset(&req, 0, sizeof req);
	req.authorization = header;
	ck_assert_int_eq(auth_check(a, &req, AUTH_SCOPE_READ, &who, &why), AUTH_OK);
	ck_assert_str_eq(who.owner, "dave");
	ck_assert_str_eq(who.credential_id, "j1");
	ck_assert_uint_eq(who.scopes, AUTH_SCOPE_ALL);
	header[strlen(header) - 3] ^= 1;
	ck_assert_int_eq(auth_check(a, &req, AUTH_SCOPE_READ, &who, &why), AUTH_UNAUTHENTICATED);
	ck_assert(why == AUTH_REASON_BAD_SIGNATURE || why == AUTH_REASON_MALFORMED);
	free(t);
	auth_free(a);
	config_release(&cfg);
}
END_TEST

/* ---- the keys, made once before check forks ---- */

static void free_keys(void)
{
	EVP_PKEY_free(rsa_key);
	EVP_PKEY_free(rsa2_key);
	EVP_PKEY_free(ec_key);
	EVP_PKEY_free(ed_key);
	EVP_PKEY_free(rsa1024_key);
	free(jwks_text);
}

Suite *unit_suite(void)
{
	Suite *s = suite_create("jwt");
	TCase *tc = unit_tcase(s, "core"), *files;
	json_t *keys, *rsa;

	rsa_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	rsa2_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	rsa1024_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	ec_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	ed_key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (!rsa_key || !rsa2_key || !rsa1024_key || !ec_key || !ed_key) {
		fprintf(stderr, "test_jwt: OpenSSL made no keys\n");
		exit(1);
	}
	keys = json_array();
	rsa = jwk_rsa(rsa_key, "rsa1");
	json_object_set_new(rsa, "alg", json_string("RS256"));
	json_object_set_new(rsa, "use", json_string("sig"));
	json_array_append_new(keys, rsa);
	json_array_append_new(keys, jwk_ec(ec_key, "ec1"));
	json_array_append_new(keys, jwk_ed(ed_key, "ed1"));
	jwks_text = jwks_of(keys);
	atexit(free_keys);

	tcase_set_timeout(tc, 60);
	unit_add_tests(tc, test_b64url_strict, test_b64url_round_trip, test_rs256_accepted, test_es256_accepted,
		       test_eddsa_accepted, test_hs256_only_with_the_secret, test_hs256_with_the_public_key_refused,
		       test_alg_other_than_the_keys_refused, test_alg_none_refused, test_kid_unknown_refused,
		       test_one_char_changed_refused, test_expired, test_leeway_edges, test_not_yet_valid,
		       test_issuer, test_audience, test_owner_claim, test_scopes, test_jti, test_malformed,
		       test_oversized, test_jwks_documents, test_jwks_keys, test_jwks_kid_and_alg_from_the_key,
		       test_threads_share_the_keys);
	files = unit_tcase(s, "files");
	tcase_add_checked_fixture(files, dir_setup, dir_teardown);
	unit_add_tests(files, test_auth_files, test_auth_check_through_auth);
	return s;
}
