#include "token_auth.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "db_cluster.h"
#include "log.h"
#include "token.h"
#include "token_store.h"
#include "xalloc.h"

/* Token ids waiting for their last_used_at; more in one interval are dropped (written next time). */
#define TOUCH_PENDING_MAX 64

struct cache_entry {
	bool used;
	unsigned char hash[TOKEN_HASH_LEN];
	long long fetched_ms;      /* monotonic: when the database answered */
	enum auth_reason reason;   /* NONE: a valid token; UNKNOWN or REVOKED */
	long long expires_ms;      /* monotonic, from the database's seconds left */
	uint64_t id;
	unsigned scopes;
	size_t owner_len;
	char owner[CONFIG_OWNER_MAX + 1];
};

struct touched {
	uint64_t id;               /* 0: free */
	long long at_ms;
};

struct token_auth {
	char *key;
	size_t keylen;
	struct db_cluster *db;     /* borrowed; NULL: validation only */
	long long cache_ms;

	pthread_mutex_t lock;      /* the cache and everything of the toucher below */
	struct cache_entry cache[TOKEN_CACHE_SLOTS];
	struct touched touched[TOKEN_CACHE_SLOTS];
	uint64_t pending[TOUCH_PENDING_MAX];
	size_t n_pending;
	pthread_cond_t wake;
	bool stopping;
	bool toucher_started;
	pthread_t toucher;
};

int token_key_load(const char *path, char **key, size_t *len, char *err, size_t errlen)
{
	char msg[CONFIG_ERR_SIZE];

	*key = NULL;
	*len = 0;
	if (path == NULL || path[0] == '\0') {
		snprintf(err, errlen, "auth.token_key_file is not set: make one with "
			 "'openssl rand -hex 32 > FILE; chmod 0640 FILE'");
		return -1;
	}
	if (config_read_secret_file(path, key, msg, sizeof msg) < 0) {
		snprintf(err, errlen, "auth.token_key_file: %s", msg);
		return -1;
	}
	*len = strlen(*key);
	if (*len < TOKEN_KEY_MIN) {
		snprintf(err, errlen, "auth.token_key_file '%s': the key is %zu bytes, at least %d are needed "
			 "(make one with 'openssl rand -hex 32')", path, *len, TOKEN_KEY_MIN);
		token_key_free(*key, *len);
		*key = NULL;
		*len = 0;
		return -1;
	}
	return 0;
}

void token_key_free(char *key, size_t len)
{
	if (key == NULL)
		return;
	OPENSSL_cleanse(key, len);
	free(key);
}

/* ---- last_used_at, off the request path ------------------------------------ */

static void touch_now(struct token_auth *ta, const uint64_t *ids, size_t n)
{
	char err[256];

	for (size_t i = 0; i < n; i++) {
		struct db_lease lease;
		enum store_status status;

		if (db_cluster_acquire(ta->db, DB_WRITE, &lease, err, sizeof err) != DB_ACQUIRED) {
			log_warn("token: last_used_at of %zu token(s) not written: %s", n - i, err);
			return;
		}
		status = token_store_touch(lease.conn, ids[i]);
		db_cluster_release(ta->db, &lease);
		if (status != STORE_OK)
			log_warn("token: last_used_at of token %" PRIu64 " not written: %s", ids[i],
				 store_strerror(status));
	}
}

/* The toucher: writes what the checks queued; on stop, what is left, then leaves. */
static void *toucher_main(void *arg)
{
	struct token_auth *ta = arg;
	uint64_t ids[TOUCH_PENDING_MAX];
	size_t n;
	bool stop;

	for (;;) {
		pthread_mutex_lock(&ta->lock);
		while (!ta->stopping && ta->n_pending == 0)
			pthread_cond_wait(&ta->wake, &ta->lock);
		n = ta->n_pending;
		memcpy(ids, ta->pending, n * sizeof ids[0]);
		ta->n_pending = 0;
		stop = ta->stopping;
		pthread_mutex_unlock(&ta->lock);
		touch_now(ta, ids, n);
		if (stop)
			return NULL;
	}
}

/* Queues id for the toucher unless this worker wrote it in the last interval. Under the lock. */
static void note_use_locked(struct token_auth *ta, uint64_t id, long long now)
{
	struct touched *t = &ta->touched[id % TOKEN_CACHE_SLOTS];

	if (!ta->toucher_started)
		return;
	if (t->id == id && now - t->at_ms < TOKEN_TOUCH_INTERVAL_S * 1000LL)
		return;
	if (ta->n_pending == TOUCH_PENDING_MAX)
		return;
	t->id = id;
	t->at_ms = now;
	ta->pending[ta->n_pending++] = id;
	pthread_cond_signal(&ta->wake);
}

/* ---- the token_auth ------------------------------------------------------- */

int token_auth_new(const struct config *cfg, struct db_cluster *db, struct token_auth **out,
		   char *err, size_t errlen)
{
	struct token_auth *ta = xcalloc(1, sizeof *ta);
	sigset_t all, old;
	int rc;

	*out = NULL;
	pthread_mutex_init(&ta->lock, NULL);
	pthread_cond_init(&ta->wake, NULL);
	if (token_key_load(cfg->auth.token_key_file, &ta->key, &ta->keylen, err, errlen) < 0)
		goto fail;
	ta->db = db;
	ta->cache_ms = cfg->auth.token_cache_ms;
	if (db != NULL) {
		/* The toucher takes no signal: the worker's threads handle them as they always did. */
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		rc = pthread_create(&ta->toucher, NULL, toucher_main, ta);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (rc == 0)
			ta->toucher_started = true;
		else
			log_warn("token: cannot start the last_used_at thread (%s): last_used_at stays as it is",
				 strerror(rc));
	}
	*out = ta;
	return 0;
fail:
	token_auth_free(ta);
	return -1;
}

void token_auth_free(struct token_auth *ta)
{
	if (ta == NULL)
		return;
	if (ta->toucher_started) {
		pthread_mutex_lock(&ta->lock);
		ta->stopping = true;
		pthread_cond_signal(&ta->wake);
		pthread_mutex_unlock(&ta->lock);
		pthread_join(ta->toucher, NULL);
	}
	token_key_free(ta->key, ta->keylen);
	OPENSSL_cleanse(ta->cache, sizeof ta->cache);
	pthread_cond_destroy(&ta->wake);
	pthread_mutex_destroy(&ta->lock);
	free(ta);
}

static struct cache_entry *slot_of(struct token_auth *ta, const unsigned char *hash)
{
	/* The hash is uniform: its first bytes are as good an index as any. */
	unsigned idx = ((unsigned)hash[0] << 8 | hash[1]) % TOKEN_CACHE_SLOTS;

	return &ta->cache[idx];
}

/* The database's answer for hash, as a cache entry. AUTH_OK, or AUTH_UNAVAILABLE. */
static enum auth_verdict fetch(struct token_auth *ta, const unsigned char *hash, struct cache_entry *e)
{
	struct db_lease lease;
	struct token_found found;
	enum store_status status;
	char err[256];

	if (ta->db == NULL)
		return AUTH_UNAVAILABLE;
	if (db_cluster_acquire(ta->db, DB_READ, &lease, err, sizeof err) != DB_ACQUIRED) {
		log_warn("token: cannot check a token: %s", err);
		return AUTH_UNAVAILABLE;
	}
	status = token_store_lookup(lease.conn, hash, &found);
	db_cluster_release(ta->db, &lease);
	memset(e, 0, sizeof *e);
	e->used = true;
	memcpy(e->hash, hash, TOKEN_HASH_LEN);
	e->fetched_ms = clock_ms();
	switch (status) {
	case STORE_OK:
		break;
	case STORE_NOT_FOUND:
		e->reason = AUTH_REASON_UNKNOWN;
		return AUTH_OK;
	default:
		log_warn("token: cannot check a token: %s", store_strerror(status));
		return AUTH_UNAVAILABLE;
	}
	e->reason = found.revoked ? AUTH_REASON_REVOKED : AUTH_REASON_NONE;
	e->id = found.id;
	e->scopes = found.scopes;
	e->expires_ms = e->fetched_ms + (found.expires_in_s > 0 ? found.expires_in_s * 1000 : 0);
	memcpy(e->owner, found.owner, found.owner_len + 1);
	e->owner_len = found.owner_len;
	return AUTH_OK;
}

enum auth_verdict token_auth_check(struct token_auth *ta, const char *secret, size_t len,
				   struct auth_identity *who, enum auth_reason *why)
{
	unsigned char hash[TOKEN_HASH_LEN];
	struct cache_entry *slot, e;
	long long now;
	bool hit = false;

	*why = AUTH_REASON_NONE;
	if (!token_well_formed(secret, len)) {
		*why = AUTH_REASON_MALFORMED;
		return AUTH_UNAUTHENTICATED;
	}
	if (token_hash(ta->key, ta->keylen, secret, len, hash) < 0) {
		log_error("token: HMAC-SHA-256 failed");
		*why = AUTH_REASON_UNAVAILABLE;
		return AUTH_UNAVAILABLE;
	}
	slot = slot_of(ta, hash);
	now = clock_ms();
	pthread_mutex_lock(&ta->lock);
	if (slot->used && now - slot->fetched_ms < ta->cache_ms && token_equal(slot->hash, hash, TOKEN_HASH_LEN)) {
		e = *slot;
		hit = true;
	}
	pthread_mutex_unlock(&ta->lock);
	if (!hit) {
		if (fetch(ta, hash, &e) != AUTH_OK) {
			*why = AUTH_REASON_UNAVAILABLE;
			return AUTH_UNAVAILABLE;
		}
		if (ta->cache_ms > 0) {
			pthread_mutex_lock(&ta->lock);
			*slot = e;
			pthread_mutex_unlock(&ta->lock);
		}
		now = clock_ms();
	}
	if (e.reason != AUTH_REASON_NONE) {
		*why = e.reason;
		goto refused;
	}
	if (now >= e.expires_ms) {
		*why = AUTH_REASON_EXPIRED;
		goto refused;
	}
	if (auth_identity_set_owner(who, e.owner, e.owner_len) < 0) {
		*why = AUTH_REASON_BAD_OWNER;
		goto refused;
	}
	who->scopes = e.scopes;
	snprintf(who->credential_id, sizeof who->credential_id, "%" PRIu64, e.id);
	pthread_mutex_lock(&ta->lock);
	note_use_locked(ta, e.id, now);
	pthread_mutex_unlock(&ta->lock);
	OPENSSL_cleanse(&e, sizeof e);
	return AUTH_OK;
refused:
	OPENSSL_cleanse(&e, sizeof e);
	return AUTH_UNAUTHENTICATED;
}
