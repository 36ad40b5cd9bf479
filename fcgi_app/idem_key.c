#include "idem_key.h"

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int idem_key_check(const char *key, const char **why)
{
	size_t len = 0;

	for (const unsigned char *p = (const unsigned char *)key; *p != '\0'; p++, len++) {
		if (*p < 0x21 || *p > 0x7e) {
			*why = "Idempotency-Key must be visible ASCII characters (no spaces, control or non-ASCII characters)";
			return -1;
		}
	}
	if (len == 0) {
		*why = "Idempotency-Key must not be empty";
		return -1;
	}
	if (len > IDEM_KEY_MAX) {
		*why = "Idempotency-Key must be at most 255 characters";
		return -1;
	}
	return 0;
}

/* One field: a presence byte, then (when present) its length as 8 bytes big-endian and its bytes. */
static int digest_field(EVP_MD_CTX *md, const char *s, size_t len)
{
	unsigned char head[9];
	uint64_t n = len;

	head[0] = s != NULL;
	for (int i = 8; i >= 1; i--) {
		head[i] = (unsigned char)(n & 0xff);
		n >>= 8;
	}
	if (s == NULL)
		return EVP_DigestUpdate(md, head, 1) == 1 ? 0 : -1;
	if (EVP_DigestUpdate(md, head, sizeof head) != 1 || EVP_DigestUpdate(md, s, len) != 1)
		return -1;
	return 0;
}

static int digest_string(EVP_MD_CTX *md, const char *s)
{
	return digest_field(md, s, s ? strlen(s) : 0);
}

int idem_fingerprint(const struct idem_request *r, unsigned char out[IDEM_FINGERPRINT_SIZE])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	char *body = NULL;
	unsigned int n = 0;
	int rc = -1;

	if (md == NULL)
		return -1;
	if (r->body != NULL) {
		body = json_dumps(r->body, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY);
		if (body == NULL)
			goto out;
	}
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
	    digest_string(md, r->method) < 0 || digest_string(md, r->target) < 0 ||
	    digest_string(md, body) < 0 || digest_string(md, r->if_match) < 0 ||
	    digest_string(md, r->if_none_match) < 0 ||
	    EVP_DigestFinal_ex(md, out, &n) != 1 || n != IDEM_FINGERPRINT_SIZE)
		goto out;
	rc = 0;
out:
	free(body);
	EVP_MD_CTX_free(md);
	return rc;
}
