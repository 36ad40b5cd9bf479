#include "db_cluster.h"

#include <errno.h>
#include <errmsg.h>
#include <mysqld_error.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "xalloc.h"

/* Galera's wsrep_local_state when the node is in sync with the cluster. */
#define WSREP_SYNCED "4"

struct db_node {
	struct db_cluster *cluster;     /* the one it belongs to */
	unsigned index;
	struct db_node_address addr;
	struct db_pool *pool;           /* owned */
	struct db_options check_opt;    /* the health check's connection: short timeouts */
	pthread_t checker;
	bool checking;                  /* the thread runs */
	/* Read without the lock on the request path (__atomic); written under it. */
	int state;                      /* enum db_node_state */
	long long down_until_ms;        /* monotonic; a check cannot bring it back before */
	unsigned long long failures, checks, check_failures;
};

struct db_cluster {
	struct db_cluster_options copt;
	struct db_node nodes[DB_CLUSTER_MAX_NODES];
	size_t n;
	unsigned acquire_timeout_ms;
	unsigned reads;                 /* round robin over readable nodes (__atomic) */
	pthread_mutex_t lock;           /* node state changes, and stop */
	pthread_cond_t stop_cond;
	bool stopping;
};

const char *db_node_state_name(enum db_node_state state)
{
	switch (state) {
	case DB_NODE_UP: return "up";
	case DB_NODE_DOWN: return "down";
	case DB_NODE_NOT_READY: return "not_ready";
	}
	return "unknown";
}

int db_topology_parse(const char *text, enum db_topology *out)
{
	if (strcmp(text, "single") == 0)
		*out = DB_TOPOLOGY_SINGLE;
	else if (strcmp(text, "galera") == 0)
		*out = DB_TOPOLOGY_GALERA;
	else if (strcmp(text, "primary_replicas") == 0)
		*out = DB_TOPOLOGY_PRIMARY_REPLICAS;
	else
		return -1;
	return 0;
}

/* ---- the node list --------------------------------------------------------------- */

static int parse_one(const char *s, size_t len, unsigned default_port, struct db_node_address *a,
		     char *err, size_t errlen)
{
	const char *colon = NULL, *host = s;
	size_t host_len = len;

	memset(a, 0, sizeof *a);
	if (len == 0 || len >= DB_NODE_NAME_MAX) {
		snprintf(err, errlen, "a node must be 1 to %d characters", DB_NODE_NAME_MAX - 1);
		return -1;
	}
	memcpy(a->name, s, len);
	if (s[0] == '/') {
		memcpy(a->socket, s, len);
		return 0;
	}
	if (s[0] == '[') {
		const char *close = memchr(s, ']', len);

		if (close == NULL) {
			snprintf(err, errlen, "node '%s': missing ']'", a->name);
			return -1;
		}
		host = s + 1;
		host_len = (size_t)(close - s) - 1;
		if ((size_t)(close - s) + 1 < len) {
			if (close[1] != ':') {
				snprintf(err, errlen, "node '%s': expected ':' after ']'", a->name);
				return -1;
			}
			colon = close + 1;
		}
	} else {
		colon = memchr(s, ':', len);
		if (colon != NULL && memchr(colon + 1, ':', len - (size_t)(colon - s) - 1) != NULL) {
			snprintf(err, errlen, "node '%s': write an IPv6 address as [addr]:port", a->name);
			return -1;
		}
		if (colon != NULL)
			host_len = (size_t)(colon - s);
	}
	if (host_len == 0) {
		snprintf(err, errlen, "node '%s': empty host", a->name);
		return -1;
	}
	memcpy(a->host, host, host_len);
	a->port = default_port;
	if (colon != NULL) {
		unsigned long port = 0;
		const char *p = colon + 1, *end = s + len;

		if (p == end) {
			snprintf(err, errlen, "node '%s': empty port", a->name);
			return -1;
		}
		for (; p < end; p++) {
			if (*p < '0' || *p > '9' || (port = port * 10 + (unsigned long)(*p - '0')) > 65535) {
				snprintf(err, errlen, "node '%s': the port must be 1..65535", a->name);
				return -1;
			}
		}
		if (port == 0) {
			snprintf(err, errlen, "node '%s': the port must be 1..65535", a->name);
			return -1;
		}
		a->port = (unsigned)port;
	}
	return 0;
}

int db_cluster_parse_nodes(const char *list, unsigned default_port, struct db_node_address *out,
			   size_t max, char *err, size_t errlen)
{
	size_t n = 0;
	const char *p = list;

	for (;;) {
		const char *end = strchr(p, ',');
		const char *stop = end ? end : p + strlen(p);

		while (p < stop && (*p == ' ' || *p == '\t'))
			p++;
		while (stop > p && (stop[-1] == ' ' || stop[-1] == '\t'))
			stop--;
		if (p == stop) {
			snprintf(err, errlen, "empty entry in the node list");
			return -1;
		}
		if (n == max) {
			snprintf(err, errlen, "more than %zu nodes", max);
			return -1;
		}
		if (parse_one(p, (size_t)(stop - p), default_port, &out[n], err, errlen) < 0)
			return -1;
		for (size_t i = 0; i < n; i++) {
			if (strcmp(out[i].host, out[n].host) == 0 && out[i].port == out[n].port &&
			    strcmp(out[i].socket, out[n].socket) == 0) {
				snprintf(err, errlen, "node '%s' is listed twice", out[n].name);
				return -1;
			}
		}
		n++;
		if (end == NULL)
			break;
		p = end + 1;
	}
	return (int)n;
}

/* ---- state ---------------------------------------------------------------------- */

static int node_state(const struct db_node *node)
{
	return __atomic_load_n(&node->state, __ATOMIC_ACQUIRE);
}

static void set_state(struct db_cluster *cluster, struct db_node *node, enum db_node_state state,
		      const char *why)
{
	int was;

	pthread_mutex_lock(&cluster->lock);
	was = node->state;
	if (state != DB_NODE_UP) {
		node->down_until_ms = clock_ms() + cluster->copt.node_down_ms;
		if (was == DB_NODE_UP)
			node->failures++;
	}
	__atomic_store_n(&node->state, (int)state, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&cluster->lock);
	if (was == (int)state)
		return;
	if (state == DB_NODE_UP)
		log_warn("db: node %s is back", node->addr.name);
	else
		log_warn("db: node %s is %s for %u ms at least: %s", node->addr.name,
			 db_node_state_name(state), cluster->copt.node_down_ms, why);
}

void db_cluster_mark_down(struct db_cluster *cluster, unsigned node, const char *why)
{
	/* One server has no alternative: marking it would change nothing but the figures. */
	if (cluster->n < 2 || node >= cluster->n)
		return;
	set_state(cluster, &cluster->nodes[node], DB_NODE_DOWN, why);
}

bool db_error_condemns_node(enum db_topology topology, unsigned err)
{
	if (topology == DB_TOPOLOGY_GALERA && err == ER_ERROR_DURING_COMMIT)
		return true;
	return err == ER_UNKNOWN_COM_ERROR || db_error_is_connection_lost(err);
}

/* ---- health checks --------------------------------------------------------------- */

/*
 * One check on conn (opened on demand, kept between checks). Returns the
 * state it found, why in why when not up.
 */
static enum db_node_state check_node(struct db_cluster *cluster, struct db_node *node, MYSQL **conn,
				     char *why, size_t whylen)
{
	static const char galera_sql[] =
		"SHOW GLOBAL STATUS WHERE Variable_name IN "
		"('wsrep_ready', 'wsrep_local_state', 'wsrep_cluster_status')";
	long long deadline = clock_ms() + cluster->copt.health_interval_ms;
	bool ready = false, synced = false, primary = false;
	MYSQL_RES *res;
	MYSQL_ROW row;

	if (*conn == NULL) {
		*conn = db_connect_by(&node->check_opt, deadline < clock_ms() + 1000 ? clock_ms() + 1000 : deadline,
				      why, whylen);
		if (*conn == NULL)
			return DB_NODE_DOWN;
	}
	if (cluster->copt.topology != DB_TOPOLOGY_GALERA) {
		if (mysql_ping(*conn) == 0)
			return DB_NODE_UP;
		snprintf(why, whylen, "check failed: %s (%u)", mysql_error(*conn), mysql_errno(*conn));
		goto lost;
	}
	if (mysql_real_query(*conn, galera_sql, sizeof galera_sql - 1) != 0 ||
	    (res = mysql_store_result(*conn)) == NULL) {
		snprintf(why, whylen, "check failed: %s (%u)", mysql_error(*conn), mysql_errno(*conn));
		goto lost;
	}
	while ((row = mysql_fetch_row(res)) != NULL) {
		if (row[0] == NULL || row[1] == NULL)
			continue;
		if (strcasecmp(row[0], "wsrep_ready") == 0)
			ready = strcasecmp(row[1], "ON") == 0;
		else if (strcasecmp(row[0], "wsrep_local_state") == 0)
			synced = strcmp(row[1], WSREP_SYNCED) == 0;
		else if (strcasecmp(row[0], "wsrep_cluster_status") == 0)
			primary = strcasecmp(row[1], "Primary") == 0;
	}
	mysql_free_result(res);
	if (ready && synced && primary)
		return DB_NODE_UP;
	snprintf(why, whylen, "wsrep_ready %s, %s, %s", ready ? "ON" : "OFF", synced ? "Synced" : "not Synced",
		 primary ? "Primary" : "not Primary");
	return DB_NODE_NOT_READY;
lost:
	mysql_close(*conn);
	*conn = NULL;
	return DB_NODE_DOWN;
}

static void *checker_main(void *arg)
{
	struct db_node *node = arg;
	struct db_cluster *cluster = node->cluster;
	MYSQL *conn = NULL;
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	/* Connector/C needs each thread to set itself up (and tear down at the end). */
	mysql_thread_init();
	pthread_mutex_lock(&cluster->lock);
	while (!cluster->stopping) {
		char why[256] = "";
		enum db_node_state found;
		struct timespec until;
		long long now;

		pthread_mutex_unlock(&cluster->lock);
		found = check_node(cluster, node, &conn, why, sizeof why);
		__atomic_add_fetch(&node->checks, 1, __ATOMIC_RELAXED);
		if (found != DB_NODE_UP)
			__atomic_add_fetch(&node->check_failures, 1, __ATOMIC_RELAXED);
		now = clock_ms();
		if (found != DB_NODE_UP)
			set_state(cluster, node, found, why);
		else if (node_state(node) != DB_NODE_UP &&
			 now >= __atomic_load_n(&node->down_until_ms, __ATOMIC_RELAXED))
			set_state(cluster, node, DB_NODE_UP, "");
		pthread_mutex_lock(&cluster->lock);
		if (cluster->stopping)
			break;
		clock_deadline_after(&until, cluster->copt.health_interval_ms);
		pthread_cond_timedwait(&cluster->stop_cond, &cluster->lock, &until);
	}
	pthread_mutex_unlock(&cluster->lock);
	if (conn != NULL)
		mysql_close(conn);
	mysql_thread_end();
	return NULL;
}

/* ---- the cluster ------------------------------------------------------------------ */

struct db_cluster *db_cluster_new(const struct db_options *opt, const struct db_pool_options *popt,
				  const struct db_cluster_options *copt,
				  const struct db_node_address *nodes, size_t n, char *err, size_t errlen)
{
	struct db_cluster *cluster;
	pthread_condattr_t attr;

	if (n == 0 || n > DB_CLUSTER_MAX_NODES) {
		snprintf(err, errlen, "between 1 and %d database nodes are needed", DB_CLUSTER_MAX_NODES);
		return NULL;
	}
	if (copt->topology == DB_TOPOLOGY_SINGLE && n > 1) {
		snprintf(err, errlen, "database.topology = single takes one node; %zu are listed "
			 "(set topology to galera or primary_replicas)", n);
		return NULL;
	}
	cluster = xcalloc(1, sizeof *cluster);
	cluster->copt = *copt;
	cluster->n = n;
	cluster->acquire_timeout_ms = popt->acquire_timeout_ms;
	pthread_mutex_init(&cluster->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&cluster->stop_cond, &attr);
	pthread_condattr_destroy(&attr);
	for (size_t i = 0; i < n; i++) {
		struct db_node *node = &cluster->nodes[i];
		struct db_options o = *opt;

		node->cluster = cluster;
		node->index = (unsigned)i;
		node->addr = nodes[i];
		o.socket = node->addr.socket;
		o.host = node->addr.host;
		o.port = node->addr.port;
		/* Galera and causal reads: a read waits for its node to catch up (see the header). */
		if (copt->topology == DB_TOPOLOGY_GALERA && copt->causal)
			o.session_sql = "wsrep_sync_wait = 1";
		node->pool = db_pool_new(&o, popt);
		/*
		 * The check's own connection: strings point into the node's
		 * pool copy would be cleaner, but the pool keeps its copy
		 * private; the addresses live in the node, the rest in opt's
		 * owner (the configuration), which outlives the cluster.
		 */
		node->check_opt = o;
		node->check_opt.session_sql = NULL;
		node->check_opt.connect_timeout_s = 1;
		node->check_opt.read_timeout_s = 1;
		node->check_opt.write_timeout_s = 1;
		node->check_opt.statement_timeout_ms = copt->health_interval_ms;
	}
	return cluster;
}

int db_cluster_start(struct db_cluster *cluster)
{
	int rc = 0;

	for (size_t i = 0; i < cluster->n; i++) {
		struct db_node *node = &cluster->nodes[i];

		if (db_pool_start_housekeeping(node->pool) < 0)
			rc = -1;
		if (cluster->n < 2)
			continue;
		errno = pthread_create(&node->checker, NULL, checker_main, node);
		if (errno != 0) {
			log_error("db: cannot start the health check of node %s: %s", node->addr.name,
				  strerror(errno));
			rc = -1;
			continue;
		}
		node->checking = true;
	}
	return rc;
}

void db_cluster_free(struct db_cluster *cluster)
{
	if (cluster == NULL)
		return;
	pthread_mutex_lock(&cluster->lock);
	cluster->stopping = true;
	pthread_cond_broadcast(&cluster->stop_cond);
	pthread_mutex_unlock(&cluster->lock);
	for (size_t i = 0; i < cluster->n; i++) {
		if (cluster->nodes[i].checking)
			pthread_join(cluster->nodes[i].checker, NULL);
		db_pool_free(cluster->nodes[i].pool);
	}
	pthread_cond_destroy(&cluster->stop_cond);
	pthread_mutex_destroy(&cluster->lock);
	free(cluster);
}

size_t db_cluster_n_nodes(const struct db_cluster *cluster)
{
	return cluster->n;
}

enum db_topology db_cluster_topology(const struct db_cluster *cluster)
{
	return cluster->copt.topology;
}

/* ---- choosing ---------------------------------------------------------------------- */

/* The writer: the first healthy node in order (Galera), the primary otherwise. */
static int writer_of(const struct db_cluster *cluster)
{
	if (cluster->copt.topology != DB_TOPOLOGY_GALERA)
		return 0;
	for (size_t i = 0; i < cluster->n; i++)
		if (node_state(&cluster->nodes[i]) == DB_NODE_UP)
			return (int)i;
	return -1;
}

/*
 * The nodes to try for intent, best first, into order; returns how many.
 * Healthy candidates first; then, so that a request is never refused
 * without trying, the others in configured order.
 */
static size_t candidates(struct db_cluster *cluster, enum db_intent intent, unsigned *order)
{
	size_t n = 0;
	bool taken[DB_CLUSTER_MAX_NODES] = { false };
	enum db_topology t = cluster->copt.topology;

	if (cluster->n == 1) {
		order[0] = 0;
		return 1;
	}
	if (intent == DB_WRITE || (t == DB_TOPOLOGY_PRIMARY_REPLICAS && cluster->copt.causal)) {
		int w = writer_of(cluster);

		if (w >= 0) {
			order[n++] = (unsigned)w;
			taken[w] = true;
		}
	} else {
		/* Reads: round robin over the healthy readers (replicas only, for primary_replicas). */
		size_t first = t == DB_TOPOLOGY_PRIMARY_REPLICAS ? 1 : 0;
		size_t span = cluster->n - first;
		unsigned start = __atomic_fetch_add(&cluster->reads, 1, __ATOMIC_RELAXED);

		for (size_t k = 0; k < span; k++) {
			size_t i = first + (start + k) % span;

			if (node_state(&cluster->nodes[i]) == DB_NODE_UP) {
				order[n++] = (unsigned)i;
				taken[i] = true;
			}
		}
	}
	/*
	 * primary_replicas: writes, and causal reads, go to the primary or
	 * nowhere: a replica may lag, so a causal read it answered could miss
	 * an acknowledged write (a 503 keeps the promise; eventual reads are
	 * the ones that take that risk).
	 */
	if (t == DB_TOPOLOGY_PRIMARY_REPLICAS && (intent == DB_WRITE || cluster->copt.causal))
		return n > 0 ? n : (order[0] = 0, 1);
	/* Eventual reads: the primary serves them when no replica can. */
	for (size_t i = 0; i < cluster->n; i++)
		if (!taken[i])
			order[n++] = (unsigned)i;
	return n;
}

static enum db_acquire_status acquire_on(struct db_cluster *cluster, enum db_intent intent, bool at_start,
					 struct db_lease *out, char *err, size_t errlen)
{
	unsigned order[DB_CLUSTER_MAX_NODES];
	size_t n = candidates(cluster, intent, order);
	enum db_acquire_status status = DB_CONNECT_FAILED;
	long long deadline = clock_ms() + cluster->acquire_timeout_ms;

	out->conn = NULL;
	out->intent = intent;
	for (size_t k = 0; k < n; k++) {
		struct db_node *node = &cluster->nodes[order[k]];

		/* Past the first node, only while the acquire timeout lasts. */
		if (k > 0 && clock_ms() >= deadline)
			break;
		status = at_start ? db_pool_acquire_at_start(node->pool, &out->conn, err, errlen)
				  : db_pool_acquire(node->pool, &out->conn, err, errlen);
		if (status == DB_ACQUIRED) {
			out->node = order[k];
			return DB_ACQUIRED;
		}
		/* Busy is not broken: the next node would only spread the overload. */
		if (status == DB_POOL_TIMEOUT)
			return status;
		db_cluster_mark_down(cluster, order[k], err);
	}
	return status;
}

enum db_acquire_status db_cluster_acquire(struct db_cluster *cluster, enum db_intent intent,
					  struct db_lease *out, char *err, size_t errlen)
{
	return acquire_on(cluster, intent, false, out, err, errlen);
}

enum db_acquire_status db_cluster_acquire_at_start(struct db_cluster *cluster, enum db_intent intent,
						   struct db_lease *out, char *err, size_t errlen)
{
	return acquire_on(cluster, intent, true, out, err, errlen);
}

void db_cluster_release(struct db_cluster *cluster, struct db_lease *lease)
{
	unsigned err;

	if (lease->conn == NULL)
		return;
	err = db_conn_last_error(lease->conn);
	if (err != 0 && db_error_condemns_node(cluster->copt.topology, err) && !db_conn_was_cut(lease->conn)) {
		char why[64];

		snprintf(why, sizeof why, "a connection failed with error %u", err);
		db_cluster_mark_down(cluster, lease->node, why);
	}
	db_pool_release(cluster->nodes[lease->node].pool, &lease->conn);
}

/* ---- figures ------------------------------------------------------------------------ */

void db_cluster_node_stats(struct db_cluster *cluster, size_t i, struct db_node_stats *out)
{
	struct db_node *node = &cluster->nodes[i];

	memset(out, 0, sizeof *out);
	out->name = node->addr.name;
	out->state = (enum db_node_state)node_state(node);
	out->writer = writer_of(cluster) == (int)i;
	pthread_mutex_lock(&cluster->lock);
	out->failures = node->failures;
	pthread_mutex_unlock(&cluster->lock);
	out->checks = __atomic_load_n(&node->checks, __ATOMIC_RELAXED);
	out->check_failures = __atomic_load_n(&node->check_failures, __ATOMIC_RELAXED);
	db_pool_get_stats(node->pool, &out->pool);
}

void db_cluster_pool_stats(struct db_cluster *cluster, struct db_pool_stats *out)
{
	memset(out, 0, sizeof *out);
	for (size_t i = 0; i < cluster->n; i++) {
		struct db_pool_stats s;

		db_pool_get_stats(cluster->nodes[i].pool, &s);
		out->size += s.size;
		out->min_idle += s.min_idle;
		out->in_use += s.in_use;
		out->idle += s.idle;
		out->waiters += s.waiters;
		out->timeouts += s.timeouts;
		out->discarded += s.discarded;
		out->created += s.created;
		out->connect_failures += s.connect_failures;
		out->retired += s.retired;
		out->validations += s.validations;
		out->keepalive_pings += s.keepalive_pings;
		out->rollbacks += s.rollbacks;
		out->cuts += s.cuts;
	}
}
