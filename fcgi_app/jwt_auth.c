#include "jwt_auth.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "jwks.h"
#include "jwt.h"
#include "log.h"
#include "xalloc.h"

struct jwt_auth {
	struct jwks *keys;
	char *issuer;
	char *audience;
	char *owner_claim;
	long leeway_s;
};

/* The whole JWKS file (at most JWKS_MAX_BYTES). 0 with *text (the caller frees it), or -1 with err. */
static int read_jwks_file(const char *path, char **text, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	size_t got = 0;
	char *buf = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(err, errlen, "cannot open it: %s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "it is not a regular file");
		goto fail;
	}
	if (st.st_size > JWKS_MAX_BYTES) {
		snprintf(err, errlen, "it is larger than %d bytes", JWKS_MAX_BYTES);
		goto fail;
	}
	/* One byte more than the size said, to see a file that grew while it was read. */
	buf = xmalloc((size_t)st.st_size + 1);
	for (;;) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size + 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "cannot read it: %s", strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got > (size_t)st.st_size) {
			snprintf(err, errlen, "it changed while it was read; try again");
			goto fail;
		}
	}
	close(fd);
	*text = buf;
	*len = got;
	return 0;
fail:
	free(buf);
	close(fd);
	return -1;
}

static int load_jwks(struct jwks *keys, const char *path, char *err, size_t errlen)
{
	struct jwks_load load;
	char why[256];
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (read_jwks_file(path, &text, &len, why, sizeof why) < 0) {
		snprintf(err, errlen, "auth.jwt_jwks_file '%s': %s", path, why);
		return -1;
	}
	rc = jwks_add_json(keys, text, len, &load, why, sizeof why);
	free(text);
	if (rc < 0) {
		snprintf(err, errlen, "auth.jwt_jwks_file '%s': %s", path, why);
		return -1;
	}
	if (load.added == 0) {
		snprintf(err, errlen, "auth.jwt_jwks_file '%s': no usable key (RSA, EC P-256 or OKP Ed25519 for "
			 "RS256, ES256 or EdDSA signatures)%s%s", path, load.skipped ? "; left out: " : "",
			 load.first_skip);
		return -1;
	}
	if (load.skipped > 0)
		log_info("auth.jwt_jwks_file '%s': %zu keys used, %zu left out (%s%s)", path, load.added,
			 load.skipped, load.first_skip, load.skipped > 1 ? ", ..." : "");
	return 0;
}

static int load_hs256(struct jwks *keys, const char *path, char *err, size_t errlen)
{
	char why[256];
	char *secret = NULL;
	int rc;

	if (config_read_secret_file(path, &secret, why, sizeof why) < 0) {
		snprintf(err, errlen, "auth.jwt_hs256_secret_file: %s", why);
		return -1;
	}
	rc = jwks_add_hs256(keys, secret, strlen(secret), why, sizeof why);
	OPENSSL_cleanse(secret, strlen(secret));
	free(secret);
	if (rc < 0) {
		snprintf(err, errlen, "auth.jwt_hs256_secret_file '%s': %s (its first line is the secret)", path, why);
		return -1;
	}
	return 0;
}

int jwt_auth_new(const struct config *cfg, struct db_cluster *db, struct jwt_auth **out, char *err,
		 size_t errlen)
{
	struct jwt_auth *ja = xcalloc(1, sizeof *ja);

	(void)db;
	*out = NULL;
	ja->keys = jwks_new();
	if (cfg->auth.jwt_jwks_file[0] != '\0' && load_jwks(ja->keys, cfg->auth.jwt_jwks_file, err, errlen) < 0)
		goto fail;
	if (cfg->auth.jwt_hs256_secret_file[0] != '\0' &&
	    load_hs256(ja->keys, cfg->auth.jwt_hs256_secret_file, err, errlen) < 0)
		goto fail;
	if (jwks_count(ja->keys) == 0) {
		snprintf(err, errlen, "auth.mode = jwt needs auth.jwt_jwks_file (or auth.jwt_hs256_secret_file)");
		goto fail;
	}
	if (cfg->auth.jwt_owner_claim[0] == '\0') {
		snprintf(err, errlen, "auth.jwt_owner_claim must not be empty");
		goto fail;
	}
	ja->issuer = xstrdup(cfg->auth.jwt_issuer);
	ja->audience = xstrdup(cfg->auth.jwt_audience);
	ja->owner_claim = xstrdup(cfg->auth.jwt_owner_claim);
	ja->leeway_s = cfg->auth.jwt_leeway_s;
	*out = ja;
	return 0;
fail:
	jwt_auth_free(ja);
	return -1;
}

void jwt_auth_free(struct jwt_auth *ja)
{
	if (ja == NULL)
		return;
	jwks_free(ja->keys);
	free(ja->issuer);
	free(ja->audience);
	free(ja->owner_claim);
	free(ja);
}

enum auth_verdict jwt_auth_check(struct jwt_auth *ja, const char *token, size_t len, struct auth_identity *who,
				 enum auth_reason *why)
{
	const struct jwt_policy policy = { ja->issuer, ja->audience, ja->owner_claim, ja->leeway_s };

	/* exp and nbf are wall-clock times: the one place taskapi compares with the wall clock. */
	*why = jwt_verify(ja->keys, &policy, token, len, (long long)time(NULL), who);
	return *why == AUTH_REASON_NONE ? AUTH_OK : AUTH_UNAUTHENTICATED;
}
