/* The in-memory store behind task_store.h and db_pool.h (fake_store.h says why). */
#include "fake_store.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_cluster.h"
#include "db_pool.h"
#include "idem_store.h"
#include "task_store.h"

#define FAKE_MAX_TASKS 64

/*
 * The harness's process is the store's only user, one request at a time:
 * one state, reset before every input so that an input's outcome depends on
 * nothing before it (libFuzzer needs that to reproduce).
 */
static struct {
	struct task tasks[FAKE_MAX_TASKS];
	unsigned n;
	uint64_t next_id;
	enum fake_fail fail;
	unsigned in_use;
	/*
	 * The one connection handed out: a real db_conn that is never opened, so
	 * that app.c may read and clear its last error like any other.
	 */
	struct db_conn *conn;
} fake;

static const char fake_time[] = "2026-12-07T12:00:00Z";

void fake_store_reset(unsigned n, enum fake_fail fail)
{
	struct db_conn *conn = fake.conn; /* made once, kept for the process */

	memset(&fake, 0, sizeof fake);
	fake.conn = conn;
	if (n > FAKE_MAX_TASKS)
		n = FAKE_MAX_TASKS;
	for (unsigned i = 0; i < n; i++) {
		struct task *t = &fake.tasks[i];

		t->id = i + 1;
		t->title_len = (unsigned long)snprintf(t->title, sizeof t->title, "Task %u", i + 1);
		t->description_null = i % 2 == 0;
		if (!t->description_null)
			t->description_len = (unsigned long)snprintf(t->description, sizeof t->description,
								      "Description \xc3\xa9 %u", i + 1);
		t->is_completed = i % 3 == 0;
		t->version = i + 1;
		memcpy(t->created_at, fake_time, sizeof fake_time);
		memcpy(t->updated_at, fake_time, sizeof fake_time);
	}
	fake.n = n;
	fake.next_id = n + 1;
	fake.fail = fail;
}

unsigned fake_store_in_use(void)
{
	return fake.in_use;
}

/* ---- db_pool.h: one connection that is never really opened ----------------- */

void db_pool_options_init(struct db_pool_options *popt, unsigned size)
{
	memset(popt, 0, sizeof *popt);
	popt->size = size;
	popt->min_idle = -1;
	popt->acquire_timeout_ms = DB_POOL_DEFAULT_ACQUIRE_TIMEOUT_MS;
}

struct db_pool *db_pool_new(const struct db_options *opt, const struct db_pool_options *popt)
{
	(void)opt;
	(void)popt;
	return NULL; /* the harnesses serve with app.pool NULL: the fake has no pool to make */
}

int db_pool_start_housekeeping(struct db_pool *pool)
{
	(void)pool;
	return 0;
}

void db_pool_free(struct db_pool *pool)
{
	(void)pool;
}

enum db_acquire_status db_pool_acquire(struct db_pool *pool, struct db_conn **out, char *err,
				       size_t errlen)
{
	(void)pool;
	*out = NULL;
	if (fake.fail == FAKE_FAIL_ACQUIRE_TIMEOUT) {
		snprintf(err, errlen, "fake store: every connection busy");
		return DB_POOL_TIMEOUT;
	}
	if (fake.fail == FAKE_FAIL_CONNECT) {
		snprintf(err, errlen, "fake store: the database is down");
		return DB_CONNECT_FAILED;
	}
	fake.in_use++;
	if (fake.conn == NULL)
		fake.conn = db_conn_new(0, 0);
	*out = fake.conn;
	return DB_ACQUIRED;
}

enum db_acquire_status db_pool_acquire_at_start(struct db_pool *pool, struct db_conn **out,
						char *err, size_t errlen)
{
	return db_pool_acquire(pool, out, err, errlen);
}

void db_pool_release(struct db_pool *pool, struct db_conn **conn)
{
	(void)pool;
	if (*conn == NULL)
		return;
	if (*conn != fake.conn || fake.in_use == 0)
		abort(); /* a connection the fake never handed out, or given back twice */
	fake.in_use--;
	*conn = NULL;
}

void db_pool_get_stats(struct db_pool *pool, struct db_pool_stats *out)
{
	(void)pool;
	memset(out, 0, sizeof *out);
	out->size = 1;
	out->in_use = fake.in_use;
	out->idle = 1 - fake.in_use;
}

/* ---- db_cluster.h: one node, the fake pool's one connection ------------------ */

int db_cluster_parse_nodes(const char *list, unsigned default_port, struct db_node_address *out,
			   size_t max, char *err, size_t errlen)
{
	(void)default_port;
	if (max == 0 || list[0] == '\0') {
		snprintf(err, errlen, "fake store: no node");
		return -1;
	}
	memset(out, 0, sizeof *out);
	snprintf(out->name, sizeof out->name, "fake");
	return 1;
}

int db_topology_parse(const char *text, enum db_topology *out)
{
	(void)text;
	*out = DB_TOPOLOGY_SINGLE;
	return 0;
}

struct db_cluster *db_cluster_new(const struct db_options *opt, const struct db_pool_options *popt,
				  const struct db_cluster_options *copt,
				  const struct db_node_address *nodes, size_t n, char *err, size_t errlen)
{
	(void)opt, (void)popt, (void)copt, (void)nodes, (void)n, (void)err, (void)errlen;
	return NULL; /* the harnesses serve with app.db NULL */
}

int db_cluster_start(struct db_cluster *cluster)
{
	(void)cluster;
	return 0;
}

void db_cluster_free(struct db_cluster *cluster)
{
	(void)cluster;
}

enum db_acquire_status db_cluster_acquire(struct db_cluster *cluster, enum db_intent intent,
					  struct db_lease *out, char *err, size_t errlen)
{
	(void)cluster;
	out->node = 0;
	out->intent = intent;
	return db_pool_acquire(NULL, &out->conn, err, errlen);
}

enum db_acquire_status db_cluster_acquire_at_start(struct db_cluster *cluster, enum db_intent intent,
						   struct db_lease *out, char *err, size_t errlen)
{
	return db_cluster_acquire(cluster, intent, out, err, errlen);
}

void db_cluster_release(struct db_cluster *cluster, struct db_lease *lease)
{
	(void)cluster;
	db_pool_release(NULL, &lease->conn);
}

bool db_error_condemns_node(enum db_topology topology, unsigned err)
{
	(void)topology;
	return err == 1047 || err == 2006 || err == 2013;
}

void db_cluster_mark_down(struct db_cluster *cluster, unsigned node, const char *why)
{
	(void)cluster, (void)node, (void)why;
}

size_t db_cluster_n_nodes(const struct db_cluster *cluster)
{
	(void)cluster;
	return 1;
}

enum db_topology db_cluster_topology(const struct db_cluster *cluster)
{
	(void)cluster;
	return DB_TOPOLOGY_SINGLE;
}

void db_cluster_node_stats(struct db_cluster *cluster, size_t i, struct db_node_stats *out)
{
	(void)i;
	memset(out, 0, sizeof *out);
	out->name = "fake";
	db_pool_get_stats(NULL, &out->pool);
	(void)cluster;
}

void db_cluster_pool_stats(struct db_cluster *cluster, struct db_pool_stats *out)
{
	(void)cluster;
	db_pool_get_stats(NULL, out);
}

const char *db_node_state_name(enum db_node_state state)
{
	return state == DB_NODE_UP ? "up" : "down";
}

/* ---- task_store.h ------------------------------------------------------------ */

const char *store_strerror(enum store_status status)
{
	switch (status) {
	case STORE_OK: return "ok";
	case STORE_NOT_FOUND: return "not found";
	case STORE_CONFLICT: return "version conflict";
	case STORE_UNAVAILABLE: return "database unavailable";
	case STORE_ERROR: return "database error";
	default: break; /* a status added to task_store.h later */
	}
	return "unknown";
}

/* Every store call starts here: a connection must be borrowed, and may be told to fail. */
/* owner NULL: a statement that is nobody's (the schema version). */
static enum store_status use(struct db_conn *conn, const struct task_owner *owner)
{
	if (conn != fake.conn || fake.in_use == 0)
		abort(); /* the store called without a borrowed connection */
	if (owner != NULL && (owner->name == NULL || owner->len == 0))
		abort(); /* a task statement without an owner would see every owner's tasks */
	return fake.fail == FAKE_FAIL_UNAVAILABLE ? STORE_UNAVAILABLE : STORE_OK;
}

static struct task *find(uint64_t id)
{
	for (unsigned i = 0; i < fake.n; i++)
		if (fake.tasks[i].id == id)
			return &fake.tasks[i];
	return NULL;
}

/*
 * What MariaDB (strict mode, utf8mb4) accepts in a VARCHAR(max_chars):
 * valid UTF-8 of at most max_chars code points. Anything else is an error
 * there (1366 or 1406), STORE_ERROR here. Written apart from validate.c on
 * purpose: the harness checks that validation lets nothing through that the
 * database would refuse.
 */
static bool fits_column(const char *s, size_t len, size_t max_chars)
{
	size_t chars = 0;

	for (size_t i = 0; i < len; chars++) {
		unsigned char c = (unsigned char)s[i];
		size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
		unsigned long cp;

		if (n == 0 || i + n > len)
			return false;
		cp = n == 1 ? c : n == 2 ? c & 0x1f : n == 3 ? c & 0x0f : c & 0x07;
		for (size_t k = 1; k < n; k++) {
			if (((unsigned char)s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | ((unsigned char)s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n;
	}
	return chars <= max_chars;
}

static bool fields_fit(const struct task_fields *in)
{
	if (in->set_title && (in->title == NULL || in->title_len > TASK_TITLE_MAX_BYTES ||
			      !fits_column(in->title, in->title_len, TASK_TITLE_MAX_CHARS)))
		return false;
	if (in->set_description && in->description != NULL &&
	    (in->description_len > TASK_DESCRIPTION_MAX_BYTES ||
	     !fits_column(in->description, in->description_len, TASK_DESCRIPTION_MAX_CHARS)))
		return false;
	return true;
}

static void apply(struct task *t, const struct task_fields *in)
{
	if (in->set_title) {
		memcpy(t->title, in->title, in->title_len);
		t->title[in->title_len] = '\0';
		t->title_len = in->title_len;
	}
	if (in->set_description) {
		t->description_null = in->description == NULL;
		t->description_len = in->description ? in->description_len : 0;
		if (in->description)
			memcpy(t->description, in->description, in->description_len);
		t->description[t->description_len] = '\0';
	}
	if (in->set_completed)
		t->is_completed = in->is_completed;
}

enum store_status task_store_list(struct db_conn *conn, const struct task_owner *owner,
				  const struct task_list_query *q, task_row_fn on_row, void *ctx)
{
	enum store_status status = use(conn, owner);
	uint64_t skipped = 0;
	unsigned sent = 0;

	if (status != STORE_OK)
		return status;
	for (unsigned i = 0; i < fake.n && sent < q->limit; i++) { /* kept in id order */
		const struct task *t = &fake.tasks[i];

		if (t->id <= q->after_id || (q->completed >= 0 && t->is_completed != (q->completed == 1)))
			continue;
		if (skipped < q->skip) {
			skipped++;
			continue;
		}
		sent++;
		if (on_row(ctx, t) != 0)
			break;
	}
	return STORE_OK;
}

enum store_status task_store_get(struct db_conn *conn, const struct task_owner *owner, uint64_t id,
				 struct task *out)
{
	enum store_status status = use(conn, owner);
	const struct task *t;

	if (status != STORE_OK)
		return status;
	t = find(id);
	if (t == NULL)
		return STORE_NOT_FOUND;
	*out = *t;
	return STORE_OK;
}

enum store_status task_store_create(struct db_conn *conn, const struct task_owner *owner,
				    const struct task_fields *in, long max_tasks, struct task *out)
{
	enum store_status status = use(conn, owner);
	struct task *t;

	if (status != STORE_OK)
		return status;
	if (!in->set_title || !fields_fit(in) || fake.n == FAKE_MAX_TASKS)
		return STORE_ERROR;
	if (max_tasks > 0 && fake.n >= (unsigned)max_tasks)
		return STORE_QUOTA;
	t = &fake.tasks[fake.n++];
	memset(t, 0, sizeof *t);
	t->id = fake.next_id++;
	t->description_null = true;
	apply(t, in);
	t->version = 1;
	memcpy(t->created_at, fake_time, sizeof fake_time);
	memcpy(t->updated_at, fake_time, sizeof fake_time);
	*out = *t;
	return STORE_OK;
}

enum store_status task_store_update(struct db_conn *conn, const struct task_owner *owner, uint64_t id,
				    const struct task_fields *in, const unsigned *expected_version,
				    struct task *out)
{
	enum store_status status = use(conn, owner);
	struct task *t;

	if (status != STORE_OK)
		return status;
	t = find(id);
	if (t == NULL)
		return STORE_NOT_FOUND;
	if (expected_version != NULL && t->version != *expected_version)
		return STORE_CONFLICT;
	if (!fields_fit(in))
		return STORE_ERROR;
	if (in->set_title || in->set_description || in->set_completed) {
		apply(t, in);
		t->version++;
	}
	*out = *t;
	return STORE_OK;
}

enum store_status task_store_delete(struct db_conn *conn, const struct task_owner *owner, uint64_t id,
				    const unsigned *expected_version)
{
	enum store_status status = use(conn, owner);
	struct task *t;

	if (status != STORE_OK)
		return status;
	t = find(id);
	if (t == NULL)
		return STORE_NOT_FOUND;
	if (expected_version != NULL && t->version != *expected_version)
		return STORE_CONFLICT;
	memmove(t, t + 1, (size_t)(fake.tasks + fake.n - (t + 1)) * sizeof *t);
	fake.n--;
	return STORE_OK;
}

enum store_status task_store_schema_version(struct db_conn *conn, unsigned *version)
{
	enum store_status status = use(conn, NULL);

	*version = 0;
	if (status != STORE_OK)
		return status;
	*version = fake.fail == FAKE_FAIL_SCHEMA_OLD ? 1 : TASK_STORE_SCHEMA_VERSION;
	return STORE_OK;
}

/*
 * ---- idem_store.h -------------------------------------------------------------
 * Idempotency-Key without a database: every key is new (claimed), its answer is
 * not kept. Enough for the pipeline's checks; the SQL is e2e 41-44's.
 */

enum idem_claim idem_store_claim(struct db_conn *conn, const struct idem_slot *slot,
				 const unsigned char fp[IDEM_FINGERPRINT_SIZE], unsigned retention_s,
				 struct idem_answer *found, enum store_status *status)
{
	(void)fp;
	(void)retention_s;
	(void)found;
	*status = use(conn, slot->owner);
	if (slot->key == NULL || slot->key_len == 0 || slot->key_len > IDEM_KEY_MAX)
		abort(); /* a key that idem_key_check should have refused */
	return *status == STORE_OK ? IDEM_CLAIMED : IDEM_FAILED;
}

enum store_status idem_store_save(struct db_conn *conn, const struct idem_slot *slot, int status,
				  const char *location, const char *etag, const char *body, size_t body_len)
{
	(void)location;
	(void)etag;
	(void)body;
	(void)body_len;
	if (status >= 500)
		abort(); /* a 5xx is rolled back, never stored */
	return use(conn, slot->owner);
}

enum store_status idem_store_commit(struct db_conn *conn)
{
	return use(conn, NULL);
}

void idem_store_rollback(struct db_conn *conn)
{
	(void)use(conn, NULL);
}

enum store_status idem_store_purge(struct db_conn *conn, unsigned long long *deleted)
{
	*deleted = 0;
	return use(conn, NULL);
}
