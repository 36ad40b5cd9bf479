#include "jwks.h"

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64url.h"
#include "utf8.h"
#include "xalloc.h"

struct jwks_key {
	char *kid;             /* NULL: the key has none */
	enum jwt_alg alg;      /* the one algorithm this key verifies */
	EVP_PKEY *pkey;        /* RS256, ES256, EdDSA */
	unsigned char *secret; /* HS256 */
	size_t secret_len;
};

struct jwks {
	struct jwks_key *keys;
	size_t n;
};

static const struct {
	const char *name;
	enum jwt_alg alg;
} alg_names[] = {
	{ "RS256", JWT_ALG_RS256 },
	{ "ES256", JWT_ALG_ES256 },
	{ "EdDSA", JWT_ALG_EDDSA },
	{ "HS256", JWT_ALG_HS256 },
};

enum jwt_alg jwt_alg_parse(const char *name)
{
	for (size_t i = 0; i < sizeof alg_names / sizeof alg_names[0]; i++)
		if (strcmp(name, alg_names[i].name) == 0)
			return alg_names[i].alg;
	return JWT_ALG_UNKNOWN;
}

const char *jwt_alg_name(enum jwt_alg alg)
{
	for (size_t i = 0; i < sizeof alg_names / sizeof alg_names[0]; i++)
		if (alg_names[i].alg == alg)
			return alg_names[i].name;
	return "unknown";
}

struct jwks *jwks_new(void)
{
	return xcalloc(1, sizeof(struct jwks));
}

static void key_clear(struct jwks_key *k)
{
	free(k->kid);
	EVP_PKEY_free(k->pkey);
	if (k->secret != NULL) {
		OPENSSL_cleanse(k->secret, k->secret_len);
		free(k->secret);
	}
	memset(k, 0, sizeof *k);
}

void jwks_free(struct jwks *ks)
{
	if (ks == NULL)
		return;
	for (size_t i = 0; i < ks->n; i++)
		key_clear(&ks->keys[i]);
	free(ks->keys);
	free(ks);
}

size_t jwks_count(const struct jwks *ks)
{
	return ks->n;
}

static void append(struct jwks *ks, const struct jwks_key *keys, size_t n)
{
	if (n == 0)
		return;
	ks->keys = xrealloc(ks->keys, xsize_mul(xsize_add(ks->n, n), sizeof *ks->keys));
	memcpy(ks->keys + ks->n, keys, n * sizeof *keys);
	ks->n += n;
}

int jwks_add_hs256(struct jwks *ks, const void *secret, size_t len, char *err, size_t errlen)
{
	struct jwks_key k = { 0 };

	if (len < JWKS_MIN_HS256_SECRET) {
		snprintf(err, errlen, "the HS256 secret is %zu bytes; at least %d are needed", len,
			 JWKS_MIN_HS256_SECRET);
		return -1;
	}
	k.alg = JWT_ALG_HS256;
	k.secret = xmalloc(len);
	memcpy(k.secret, secret, len);
	k.secret_len = len;
	append(ks, &k, 1);
	return 0;
}

/* ---- reading one JWK ---- */

/* How one key is named in messages: its place and its kid (cleaned: the file may hold anything). */
struct key_ctx {
	size_t index;
	char kid[48];
	char *err;
	size_t errlen;
};

static int key_fail(struct key_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int key_fail(struct key_ctx *c, const char *fmt, ...)
{
	char what[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	if (c->kid[0] != '\0')
		snprintf(c->err, c->errlen, "key %zu (kid '%s'): %s", c->index, c->kid, what);
	else
		snprintf(c->err, c->errlen, "key %zu: %s", c->index, what);
	return -1;
}

/* An optional string member: 0 with *out (NULL when absent), -1 when it is not a string. */
static int opt_string(struct key_ctx *c, json_t *key, const char *name, const char **out)
{
	json_t *v = json_object_get(key, name);

	*out = NULL;
	if (v == NULL)
		return 0;
	if (!json_is_string(v))
		return key_fail(c, "\"%s\" is not a string", name);
	*out = json_string_value(v);
	return 0;
}

/*
 * A base64url member holding key material: exactly want bytes (want 0: 1 to
 * max bytes). Returns the length, or -1 with the error set.
 */
static long key_bytes(struct key_ctx *c, json_t *key, const char *name, unsigned char *out, size_t max,
		      size_t want)
{
	const char *text;
	long n;

	if (opt_string(c, key, name, &text) < 0)
		return -1;
	if (text == NULL)
		return key_fail(c, "\"%s\" is missing", name);
	n = b64url_decode(text, json_string_length(json_object_get(key, name)), out, max);
	if (n < 0)
		return key_fail(c, "\"%s\" is not base64url of at most %zu bytes", name, max);
	if (want != 0 && (size_t)n != want)
		return key_fail(c, "\"%s\" is %ld bytes, expected %zu", name, n, want);
	if (n == 0)
		return key_fail(c, "\"%s\" is empty", name);
	return n;
}

/* An EVP_PKEY of type name ("RSA", "EC") from params; NULL when OpenSSL refuses them. */
static EVP_PKEY *pkey_from(const char *name, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, name, NULL);
	EVP_PKEY *pkey = NULL;

	if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return pkey;
}

/* 1 when pkey is a valid public key (an EC point on the curve, of the group's order). */
static int public_check(EVP_PKEY *pkey)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	int ok = ctx != NULL && EVP_PKEY_public_check(ctx) == 1;

	EVP_PKEY_CTX_free(ctx);
	return ok;
}

/* 0 with *pkey, 1 when the key is too short to use (skip says so), -1 with the error. */
static int rsa_key(struct key_ctx *c, json_t *key, EVP_PKEY **pkey, char *skip, size_t skiplen)
{
	unsigned char n[JWKS_MAX_RSA_BITS / 8 + 1], e[8];
	long nlen, elen;
	BIGNUM *bn_n = NULL, *bn_e = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	int rc = -1, bits;

	if ((nlen = key_bytes(c, key, "n", n, sizeof n, 0)) < 0 || (elen = key_bytes(c, key, "e", e, sizeof e, 0)) < 0)
		return -1;
	bn_n = BN_bin2bn(n, (int)nlen, NULL);
	bn_e = BN_bin2bn(e, (int)elen, NULL);
	bld = OSSL_PARAM_BLD_new();
	if (bn_n == NULL || bn_e == NULL || bld == NULL) {
		key_fail(c, "out of memory in OpenSSL");
		goto done;
	}
	bits = BN_num_bits(bn_n);
	if (bits > JWKS_MAX_RSA_BITS) {
		key_fail(c, "the RSA modulus has %d bits, more than %d", bits, JWKS_MAX_RSA_BITS);
		goto done;
	}
	if (!BN_is_odd(bn_e) || BN_is_one(bn_e) || !BN_is_odd(bn_n)) {
		key_fail(c, "not an RSA public key (\"n\" and \"e\" must be odd, \"e\" above 1)");
		goto done;
	}
	if (bits < JWKS_MIN_RSA_BITS) {
		snprintf(skip, skiplen, "an RSA key of %d bits (at least %d are needed)", bits, JWKS_MIN_RSA_BITS);
		rc = 1;
		goto done;
	}
	if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) || (*pkey = pkey_from("RSA", bld)) == NULL) {
		key_fail(c, "OpenSSL does not take it as an RSA public key");
		goto done;
	}
	rc = 0;
done:
	BN_free(bn_n);
	BN_free(bn_e);
	OSSL_PARAM_BLD_free(bld);
	return rc;
}

static int p256_key(struct key_ctx *c, json_t *key, EVP_PKEY **pkey)
{
	unsigned char point[65];
	OSSL_PARAM_BLD *bld;

	/* RFC 7518 6.2.1.2: x and y are the full 32 bytes, leading zeros kept. */
	if (key_bytes(c, key, "x", point + 1, 32, 32) < 0 || key_bytes(c, key, "y", point + 33, 32, 32) < 0)
		return -1;
	point[0] = POINT_CONVERSION_UNCOMPRESSED;
	bld = OSSL_PARAM_BLD_new();
	if (bld == NULL || !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point) ||
	    (*pkey = pkey_from("EC", bld)) == NULL || !public_check(*pkey)) {
		OSSL_PARAM_BLD_free(bld);
		EVP_PKEY_free(*pkey);
		*pkey = NULL;
		ERR_clear_error();
		return key_fail(c, "\"x\" and \"y\" are not a point of the curve P-256");
	}
	OSSL_PARAM_BLD_free(bld);
	return 0;
}

static int ed25519_key(struct key_ctx *c, json_t *key, EVP_PKEY **pkey)
{
	unsigned char x[32];

	if (key_bytes(c, key, "x", x, sizeof x, sizeof x) < 0)
		return -1;
	*pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, sizeof x);
	if (*pkey == NULL) {
		ERR_clear_error();
		return key_fail(c, "OpenSSL does not take \"x\" as an Ed25519 public key");
	}
	return 0;
}

/* Whether the JWK's "use" and "key_ops" allow verifying signatures: NULL when they do, else why not. */
static const char *not_for_signatures(json_t *key)
{
	json_t *use = json_object_get(key, "use"), *ops = json_object_get(key, "key_ops"), *op;
	size_t i;

	if (use != NULL && strcmp(json_string_value(use), "sig") != 0)
		return "its \"use\" is not \"sig\"";
	if (ops == NULL)
		return NULL;
	json_array_foreach(ops, i, op)
		if (strcmp(json_string_value(op), "verify") == 0)
			return NULL;
	return "its \"key_ops\" has no \"verify\"";
}

/* The checks of a JWK's optional members' types. 0, or -1 with the error set. */
static int member_types(struct key_ctx *c, json_t *key)
{
	static const char *const private_members[] = { "d", "p", "q", "dp", "dq", "qi", "oth", "k" };
	const char *s;
	json_t *ops, *op;
	size_t i;

	if (opt_string(c, key, "use", &s) < 0 || opt_string(c, key, "alg", &s) < 0)
		return -1;
	ops = json_object_get(key, "key_ops");
	if (ops != NULL) {
		if (!json_is_array(ops))
			return key_fail(c, "\"key_ops\" is not an array");
		json_array_foreach(ops, i, op)
			if (!json_is_string(op))
				return key_fail(c, "\"key_ops\" holds something other than strings");
	}
	/* A public JWKS that holds a private key is a leak waiting to be served: say so, use nothing. */
	for (i = 0; i < sizeof private_members / sizeof private_members[0]; i++)
		if (json_object_get(key, private_members[i]) != NULL &&
		    strcmp(json_string_value(json_object_get(key, "kty")), "oct") != 0)
			return key_fail(c, "it holds private key material (\"%s\"): a JWKS file for taskapi needs "
					"only the public keys", private_members[i]);
	return 0;
}

/* A member's text in a message: cut short, and valid UTF-8 whatever the file holds. */
#define CLEAN_SIZE 24
static const char *clean(char out[CLEAN_SIZE], const char *s)
{
	utf8_copy_clean(out, CLEAN_SIZE, s, strlen(s));
	return out;
}

/*
 * One JWK into *out. 0 with the key, 1 when taskapi does not verify with it
 * (skip says why), -1 with the error in c.
 */
static int read_key(struct key_ctx *c, json_t *key, struct jwks_key *out, char *skip, size_t skiplen)
{
	const char *kty, *crv = NULL, *kid, *alg_text, *why;
	char kty_c[CLEAN_SIZE], crv_c[CLEAN_SIZE], alg_c[CLEAN_SIZE];
	enum jwt_alg implied, alg;
	EVP_PKEY *pkey = NULL;
	int rc;

	memset(out, 0, sizeof *out);
	if (!json_is_object(key))
		return key_fail(c, "not a JSON object");
	if (opt_string(c, key, "kid", &kid) < 0)
		return -1;
	if (kid != NULL) {
		size_t len = json_string_length(json_object_get(key, "kid"));

		utf8_copy_clean(c->kid, sizeof c->kid, kid, len);
		if (len > JWKS_MAX_KID || len == 0 || strlen(kid) != len)
			return key_fail(c, "\"kid\" is empty, longer than %d bytes or holds a NUL", JWKS_MAX_KID);
	}
	if (opt_string(c, key, "kty", &kty) < 0)
		return -1;
	if (kty == NULL)
		return key_fail(c, "\"kty\" is missing");
	if (member_types(c, key) < 0 || opt_string(c, key, "crv", &crv) < 0 ||
	    opt_string(c, key, "alg", &alg_text) < 0)
		return -1;
	if (strcmp(kty, "RSA") == 0)
		implied = JWT_ALG_RS256;
	else if (strcmp(kty, "EC") == 0 && crv != NULL && strcmp(crv, "P-256") == 0)
		implied = JWT_ALG_ES256;
	else if (strcmp(kty, "OKP") == 0 && crv != NULL && strcmp(crv, "Ed25519") == 0)
		implied = JWT_ALG_EDDSA;
	else if (strcmp(kty, "oct") == 0) {
		snprintf(skip, skiplen, "a symmetric key (kty oct): HS256 takes its secret only from "
			 "auth.jwt_hs256_secret_file");
		return 1;
	} else {
		snprintf(skip, skiplen, "kty %s%s%s is not supported (RSA, EC P-256 and OKP Ed25519 are)",
			 clean(kty_c, kty), crv != NULL ? " crv " : "", crv != NULL ? clean(crv_c, crv) : "");
		return 1;
	}
	if (alg_text != NULL) {
		alg = jwt_alg_parse(alg_text);
		if (alg == JWT_ALG_UNKNOWN) {
			snprintf(skip, skiplen, "alg %s is not supported (RS256, ES256 and EdDSA are)",
				 clean(alg_c, alg_text));
			return 1;
		}
		if (alg != implied)
			return key_fail(c, "alg %s does not fit a key of kty %s%s%s", clean(alg_c, alg_text),
					clean(kty_c, kty), crv != NULL ? " crv " : "", crv != NULL ? clean(crv_c, crv) : "");
	}
	if ((why = not_for_signatures(key)) != NULL) {
		snprintf(skip, skiplen, "%s", why);
		return 1;
	}
	switch (implied) {
	case JWT_ALG_RS256:
		rc = rsa_key(c, key, &pkey, skip, skiplen);
		break;
	case JWT_ALG_ES256:
		rc = p256_key(c, key, &pkey);
		break;
	default:
		rc = ed25519_key(c, key, &pkey);
		break;
	}
	ERR_clear_error();
	if (rc != 0)
		return rc;
	out->pkey = pkey;
	out->alg = implied;
	out->kid = kid != NULL ? xstrdup(kid) : NULL;
	return 0;
}

/*
 * A message is printed into a fixed buffer: a cut there, or jansson's quote
 * of the text near a syntax error, can split a character. The start-up log
 * takes valid UTF-8 only.
 */
static void repair(char *msg, size_t size)
{
	char copy[512];
	size_t n = strlen(msg);

	if (size == 0 || utf8_is_valid(msg, n))
		return;
	if (n >= sizeof copy)
		n = sizeof copy - 1;
	memcpy(copy, msg, n);
	utf8_copy_clean(msg, size, copy, n);
}

int jwks_add_json(struct jwks *ks, const char *text, size_t len, struct jwks_load *load, char *err,
		  size_t errlen)
{
	json_error_t jerr;
	json_t *doc, *keys, *key;
	struct jwks_key *got = NULL;
	size_t n = 0, i;
	int rc = -1;

	memset(load, 0, sizeof *load);
	if (len > JWKS_MAX_BYTES) {
		snprintf(err, errlen, "it is larger than %d bytes", JWKS_MAX_BYTES);
		return -1;
	}
	doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (doc == NULL) {
		snprintf(err, errlen, "not JSON: %s at line %d, column %d", jerr.text, jerr.line, jerr.column);
		repair(err, errlen);
		return -1;
	}
	keys = json_object_get(doc, "keys");
	if (!json_is_object(doc) || !json_is_array(keys)) {
		snprintf(err, errlen, "not a JWKS: the document is not an object with a \"keys\" array");
		goto done;
	}
	if (json_array_size(keys) > JWKS_MAX_KEYS) {
		snprintf(err, errlen, "%zu keys, more than %d", json_array_size(keys), JWKS_MAX_KEYS);
		goto done;
	}
	got = xcalloc(json_array_size(keys) + 1, sizeof *got);
	json_array_foreach(keys, i, key) {
		struct key_ctx c = { i, "", err, errlen };
		char skip[sizeof load->first_skip - 32];
		int r = read_key(&c, key, &got[n], skip, sizeof skip);

		if (r < 0)
			goto done;
		if (r > 0) {
			if (load->skipped++ == 0)
				snprintf(load->first_skip, sizeof load->first_skip, "key %zu: %s", i, skip);
			continue;
		}
		n++;
	}
	append(ks, got, n);
	load->added = n;
	n = 0;
	rc = 0;
done:
	for (i = 0; i < n; i++)
		key_clear(&got[i]);
	free(got);
	json_decref(doc);
	if (rc < 0)
		repair(err, errlen);
	repair(load->first_skip, sizeof load->first_skip);
	return rc;
}

/* ---- verifying ---- */

/* ES256's JWS signature is r || s (RFC 7518 3.4); OpenSSL verifies the DER SEQUENCE of the two. */
static int es256_der(const unsigned char *sig, unsigned char **der, int *derlen)
{
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);

	*der = NULL;
	if (es == NULL || r == NULL || s == NULL || !ECDSA_SIG_set0(es, r, s)) {
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(es);
		return -1;
	}
	*derlen = i2d_ECDSA_SIG(es, der);
	ECDSA_SIG_free(es);
	return *derlen > 0 ? 0 : -1;
}

static bool verify_one(const struct jwks_key *k, const unsigned char *data, size_t len, const unsigned char *sig,
		       size_t siglen)
{
	EVP_MD_CTX *md = NULL;
	unsigned char *der = NULL, mac[EVP_MAX_MD_SIZE];
	unsigned maclen = 0;
	int derlen = 0;
	bool ok = false;

	switch (k->alg) {
	case JWT_ALG_HS256:
		if (siglen != 32 || HMAC(EVP_sha256(), k->secret, (int)k->secret_len, data, len, mac, &maclen) == NULL)
			break;
		ok = maclen == 32 && CRYPTO_memcmp(mac, sig, 32) == 0;
		OPENSSL_cleanse(mac, sizeof mac);
		break;
	case JWT_ALG_RS256:
		if (siglen != (size_t)EVP_PKEY_get_size(k->pkey) || (md = EVP_MD_CTX_new()) == NULL)
			break;
		ok = EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k->pkey) == 1 &&
		     EVP_DigestVerify(md, sig, siglen, data, len) == 1;
		break;
	case JWT_ALG_ES256:
		if (siglen != 64 || es256_der(sig, &der, &derlen) < 0 || (md = EVP_MD_CTX_new()) == NULL)
			break;
		ok = EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k->pkey) == 1 &&
		     EVP_DigestVerify(md, der, (size_t)derlen, data, len) == 1;
		break;
	case JWT_ALG_EDDSA:
		if (siglen != 64 || (md = EVP_MD_CTX_new()) == NULL)
			break;
		ok = EVP_DigestVerifyInit(md, NULL, NULL, NULL, k->pkey) == 1 &&
		     EVP_DigestVerify(md, sig, siglen, data, len) == 1;
		break;
	case JWT_ALG_UNKNOWN:
		break;
	}
	EVP_MD_CTX_free(md);
	OPENSSL_free(der);
	/* A refused signature leaves reasons on this thread's error queue: nobody reads them. */
	ERR_clear_error();
	return ok;
}

enum jwks_verdict jwks_verify(const struct jwks *ks, enum jwt_alg alg, const char *kid,
			      const unsigned char *data, size_t len, const unsigned char *sig, size_t siglen)
{
	bool tried = false;

	if (alg == JWT_ALG_UNKNOWN)
		return JWKS_NO_KEY;
	for (size_t i = 0; i < ks->n; i++) {
		const struct jwks_key *k = &ks->keys[i];

		if (k->alg != alg)
			continue;
		/* The one HS256 secret has no kid; the keys of a JWKS are chosen by theirs. */
		if (kid != NULL && alg != JWT_ALG_HS256 && (k->kid == NULL || strcmp(k->kid, kid) != 0))
			continue;
		tried = true;
		if (verify_one(k, data, len, sig, siglen))
			return JWKS_VERIFIED;
	}
	return tried ? JWKS_MISMATCH : JWKS_NO_KEY;
}
