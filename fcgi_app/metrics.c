#include "metrics.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <unistd.h>

#include "log.h"

#define RELAXED __ATOMIC_RELAXED

enum slot_state { SLOT_FREE = 0, SLOT_USED, SLOT_LEAVING };

struct metrics_slot {
	int pid;
	unsigned generation;
	int threads;
	long long started_ms;
	int busy;
	unsigned pool_size, pool_in_use, pool_idle, pool_waiters;
	/* Per database node: enum db_node_state, whether writes go there, connections. */
	unsigned char node_state[METRICS_MAX_NODES], node_writer[METRICS_MAX_NODES];
	unsigned node_in_use[METRICS_MAX_NODES], node_idle[METRICS_MAX_NODES];
	/* The counters start on their own cache line, away from the master's fields. */
	struct metrics_counters c __attribute__((aligned(64)));
};

struct metrics_shm {
	uint64_t fold_seq;          /* odd while the master folds a slot into retired */
	long long start_ms;
	uint64_t restarts;
	uint64_t workers_started;
	int listen_queue_max;
	int active __attribute__((aligned(64))); /* busy threads, all workers: request path */
	int max_active;
	int capacity;               /* threads of the workers that take new connections */
	size_t n_nodes;             /* set once before any fork */
	char node_names[METRICS_MAX_NODES][DB_NODE_NAME_MAX];
	unsigned char state[METRICS_MAX_SLOTS] __attribute__((aligned(64)));
	struct metrics_counters retired;
	struct metrics_slot slots[METRICS_MAX_SLOTS];
};

static struct metrics_shm *shm;
static struct metrics_slot *my_slot;      /* this process's slot, if any */

static const char *route_names[METRICS_MAX_ROUTES];
static size_t n_routes;                   /* the last one is "other" */

static const short codes[METRICS_N_CODES - 1] = {
	200, 201, 202, 204, 301, 302, 304, 400, 401, 403, 404, 405, 406, 408, 409, 410,
	411, 412, 413, 414, 415, 416, 422, 428, 429, 431, 500, 501, 502, 503, 504, 505,
};
static const char *const code_labels[METRICS_N_CODES] = {
	"200", "201", "202", "204", "301", "302", "304", "400", "401", "403", "404", "405",
	"406", "408", "409", "410", "411", "412", "413", "414", "415", "416", "422", "428",
	"429", "431", "500", "501", "502", "503", "504", "505", "other",
};
static unsigned char code_index[600];

/* Upper bounds, in ns and as the le label; the last bucket is +Inf. */
static const long long latency_bound_ns[METRICS_N_BUCKETS - 1] = {
	1000000LL, 2500000LL, 5000000LL, 10000000LL, 25000000LL, 50000000LL, 100000000LL,
	250000000LL, 500000000LL, 1000000000LL, 2500000000LL, 5000000000LL, 10000000000LL,
};
const char *const metrics_latency_le[METRICS_N_BUCKETS] = {
	"0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5",
	"10", "+Inf",
};
static const long long wait_bound_ns[METRICS_N_WAIT_BUCKETS - 1] = {
	100000LL, 500000LL, 1000000LL, 5000000LL, 10000000LL, 50000000LL, 100000000LL,
	500000000LL, 1000000000LL, 2500000000LL, 5000000000LL, 10000000000LL,
};
const char *const metrics_wait_le[METRICS_N_WAIT_BUCKETS] = {
	"0.0001", "0.0005", "0.001", "0.005", "0.01", "0.05", "0.1", "0.5", "1", "2.5", "5", "10",
	"+Inf",
};

#define POOL_COUNTER(field, name, help) { name, help, offsetof(struct db_pool_stats, field) }
const struct metrics_pool_counter metrics_pool_counters[METRICS_N_POOL_COUNTERS] = {
	POOL_COUNTER(timeouts, "acquire_timeouts",
		     "Acquires that gave up after database.acquire_timeout_ms (answered 503)."),
	POOL_COUNTER(discarded, "evictions",
		     "Connections thrown away: broken, failed validation or keepalive, returned unclean."),
	POOL_COUNTER(retired, "lifetime_retirements", "Connections closed at the end of database.max_lifetime_s."),
	POOL_COUNTER(created, "connections_created", "Database connections opened."),
	POOL_COUNTER(connect_failures, "connect_failures", "Connection attempts that failed."),
	POOL_COUNTER(validations, "validations",
		     "Pings on borrow of a connection idle longer than database.validation_idle_ms."),
	POOL_COUNTER(keepalive_pings, "keepalive_pings", "Pings of idle connections by the pool's housekeeper."),
	POOL_COUNTER(rollbacks, "rollbacks", "Connections returned inside a transaction and rolled back."),
	POOL_COUNTER(cuts, "statement_deadline_cuts",
		     "Borrowed connections cut at their statement deadline (database.statement_timeout_ms + 500 ms)."),
};

static long long unix_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

int metrics_setup(const char *const *routes, size_t n, char *err, size_t errlen)
{
	void *area;

	if (shm != NULL)
		return 0;
	if (n > METRICS_MAX_ROUTES - 1) {
		log_warn("metrics: %zu routes, only the first %d are told apart", n, METRICS_MAX_ROUTES - 1);
		n = METRICS_MAX_ROUTES - 1;
	}
	/* Anonymous and shared: inherited by every fork, zero-filled, pages made on first touch. */
	area = mmap(NULL, sizeof *shm, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED) {
		snprintf(err, errlen, "cannot map %zu bytes for metrics: %s", sizeof *shm, strerror(errno));
		return -1;
	}
	shm = area;
	shm->start_ms = unix_ms();
	for (size_t i = 0; i < n; i++)
		route_names[i] = routes[i];
	route_names[n] = "other";
	n_routes = n + 1;
	memset(code_index, METRICS_N_CODES - 1, sizeof code_index);
	for (size_t i = 0; i < METRICS_N_CODES - 1; i++)
		code_index[codes[i]] = (unsigned char)i;
	return 0;
}

void metrics_free(void)
{
	if (shm != NULL)
		munmap(shm, sizeof *shm);
	shm = NULL;
	my_slot = NULL;
	n_routes = 0;
}

/* ---- the master ---------------------------------------------------------- */

int metrics_slot_claim(unsigned generation, int threads)
{
	if (shm == NULL)
		return -1;
	for (int i = 0; i < METRICS_MAX_SLOTS; i++) {
		struct metrics_slot *s = &shm->slots[i];

		if (__atomic_load_n(&shm->state[i], __ATOMIC_ACQUIRE) != SLOT_FREE)
			continue;
		/* Free slots are read by nobody: plain writes, then publish. */
		memset(s, 0, sizeof *s);
		s->generation = generation;
		s->threads = threads;
		s->started_ms = unix_ms();
		__atomic_add_fetch(&shm->capacity, threads, RELAXED);
		__atomic_store_n(&shm->state[i], SLOT_USED, __ATOMIC_RELEASE);
		return i;
	}
	log_warn("metrics: all %d worker slots are in use; a worker runs unmeasured", METRICS_MAX_SLOTS);
	return -1;
}

void metrics_slot_started(int slot, pid_t pid)
{
	if (shm == NULL)
		return;
	__atomic_add_fetch(&shm->workers_started, 1, RELAXED);
	if (slot >= 0)
		__atomic_store_n(&shm->slots[slot].pid, (int)pid, RELAXED);
}

/* A slot stops counting towards capacity once, when it leaves USED (only the master changes states). */
static void slot_stops_accepting(int slot)
{
	if (__atomic_load_n(&shm->state[slot], RELAXED) == SLOT_USED)
		__atomic_sub_fetch(&shm->capacity, shm->slots[slot].threads, RELAXED);
}

void metrics_slot_unclaim(int slot)
{
	if (shm == NULL || slot < 0)
		return;
	slot_stops_accepting(slot);
	__atomic_store_n(&shm->state[slot], SLOT_FREE, __ATOMIC_RELEASE);
}

void metrics_slot_leaving(int slot)
{
	if (shm == NULL || slot < 0)
		return;
	slot_stops_accepting(slot);
	__atomic_store_n(&shm->state[slot], SLOT_LEAVING, RELAXED);
}

static void add_counters(struct metrics_counters *to, const struct metrics_counters *from)
{
	const uint64_t *src = (const uint64_t *)from;
	uint64_t *dst = (uint64_t *)to;

	for (size_t i = 0; i < sizeof *from / sizeof(uint64_t); i++) {
		uint64_t v = __atomic_load_n(&src[i], RELAXED);

		if (v != 0)
			__atomic_store_n(&dst[i], __atomic_load_n(&dst[i], RELAXED) + v, RELAXED);
	}
}

void metrics_slot_retire(int slot)
{
	struct metrics_slot *s;

	if (shm == NULL || slot < 0)
		return;
	s = &shm->slots[slot];
	/* Only the master writes fold_seq and retired: a plain increment, fenced. */
	__atomic_store_n(&shm->fold_seq, shm->fold_seq + 1, RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	add_counters(&shm->retired, &s->c);
	/* Threads that died in a request never said so. */
	__atomic_sub_fetch(&shm->active, __atomic_load_n(&s->busy, RELAXED), RELAXED);
	slot_stops_accepting(slot);
	__atomic_store_n(&shm->state[slot], SLOT_FREE, RELAXED);
	__atomic_store_n(&shm->fold_seq, shm->fold_seq + 1, __ATOMIC_RELEASE);
}

bool metrics_slot_activity(int slot, uint64_t *connections, uint64_t *requests)
{
	const struct metrics_counters *c;

	*connections = *requests = 0;
	if (shm == NULL || slot < 0)
		return false;
	c = &shm->slots[slot].c;
	*connections = __atomic_load_n(&c->connections, RELAXED);
	for (size_t r = 0; r < METRICS_MAX_ROUTES; r++)
		for (size_t k = 0; k < METRICS_N_CODES; k++)
			*requests += __atomic_load_n(&c->requests[r][k], RELAXED);
	return true;
}

void metrics_worker_restarted(void)
{
	if (shm != NULL)
		__atomic_add_fetch(&shm->restarts, 1, RELAXED);
}

/* ---- a worker ------------------------------------------------------------- */

void metrics_slot_attach(int slot)
{
	my_slot = shm != NULL && slot >= 0 ? &shm->slots[slot] : NULL;
	if (my_slot != NULL)
		__atomic_store_n(&my_slot->pid, (int)getpid(), RELAXED);
}

void metrics_attach_self(int threads)
{
	int slot = metrics_slot_claim(1, threads);

	metrics_slot_started(slot, getpid());
	metrics_slot_attach(slot);
}

void metrics_connection_accepted(void)
{
	if (my_slot != NULL)
		__atomic_add_fetch(&my_slot->c.connections, 1, RELAXED);
}

const char *const metrics_intake_close_names[METRICS_N_INTAKE_CLOSES] = {
	"idle", "slow", "rejected", "refused", "evicted",
};

void metrics_intake_closed(enum metrics_intake_close why)
{
	if (my_slot != NULL && why < METRICS_N_INTAKE_CLOSES)
		__atomic_add_fetch(&my_slot->c.intake_closed[why], 1, RELAXED);
}

void metrics_auth_refused(unsigned reason)
{
	if (my_slot != NULL && reason < METRICS_N_AUTH_REASONS)
		__atomic_add_fetch(&my_slot->c.auth_refused[reason], 1, RELAXED);
}

const char *const metrics_idem_names[METRICS_N_IDEM] = {
	"stored", "replayed", "mismatch", "busy",
};

void metrics_idempotency(enum metrics_idem result)
{
	if (my_slot != NULL && result < METRICS_N_IDEM)
		__atomic_add_fetch(&my_slot->c.idempotency[result], 1, RELAXED);
}

void metrics_idempotency_purged(uint64_t rows)
{
	if (my_slot != NULL && rows > 0)
		__atomic_add_fetch(&my_slot->c.idempotency_purged, rows, RELAXED);
}

void metrics_busy_begin(void)
{
	int busy, active, max;

	if (my_slot == NULL)
		return;
	busy = __atomic_add_fetch(&my_slot->busy, 1, RELAXED);
	if (busy == my_slot->threads)
		__atomic_add_fetch(&my_slot->c.all_busy, 1, RELAXED);
	active = __atomic_add_fetch(&shm->active, 1, RELAXED);
	max = __atomic_load_n(&shm->max_active, RELAXED);
	while (active > max &&
	       !__atomic_compare_exchange_n(&shm->max_active, &max, active, true, RELAXED, RELAXED))
		;
}

int metrics_idle_threads(void)
{
	if (my_slot == NULL)
		return -1;
	return __atomic_load_n(&shm->capacity, RELAXED) - __atomic_load_n(&shm->active, RELAXED);
}

void metrics_busy_end(void)
{
	if (my_slot == NULL)
		return;
	__atomic_sub_fetch(&my_slot->busy, 1, RELAXED);
	__atomic_sub_fetch(&shm->active, 1, RELAXED);
}

static size_t route_index(const char *route)
{
	size_t last = n_routes - 1;

	/* The names are the route table's own strings: pointers usually match. */
	for (size_t i = 0; i < last; i++)
		if (route_names[i] == route)
			return i;
	for (size_t i = 0; route != NULL && i < last; i++)
		if (strcmp(route_names[i], route) == 0)
			return i;
	return last;
}

static size_t bucket_of(const long long *bounds, size_t n_bounds, long long ns)
{
	size_t i = 0;

	while (i < n_bounds && ns > bounds[i])
		i++;
	return i;
}

void metrics_request(const char *route, int status, long long duration_ns, unsigned acquires,
		     long long pool_wait_ns, bool slow)
{
	struct metrics_counters *c;
	size_t r, code;

	if (my_slot == NULL)
		return;
	c = &my_slot->c;
	r = route_index(route);
	code = status >= 0 && status < (int)sizeof code_index ? code_index[status] : METRICS_N_CODES - 1;
	if (duration_ns < 0)
		duration_ns = 0;
	__atomic_add_fetch(&c->requests[r][code], 1, RELAXED);
	__atomic_add_fetch(&c->latency[r][bucket_of(latency_bound_ns, METRICS_N_BUCKETS - 1, duration_ns)],
			   1, RELAXED);
	__atomic_add_fetch(&c->latency_sum_ns[r], (uint64_t)duration_ns, RELAXED);
	if (acquires > 0) {
		if (pool_wait_ns < 0)
			pool_wait_ns = 0;
		__atomic_add_fetch(&c->wait[bucket_of(wait_bound_ns, METRICS_N_WAIT_BUCKETS - 1, pool_wait_ns)],
				   1, RELAXED);
		__atomic_add_fetch(&c->wait_sum_ns, (uint64_t)pool_wait_ns, RELAXED);
	}
	if (slow)
		__atomic_add_fetch(&c->slow, 1, RELAXED);
}

const char *const metrics_rerun_names[METRICS_N_RERUNS] = { "none", "node", "deadlock", "unknown_outcome" };

void metrics_set_nodes(const char *const *names, size_t n)
{
	if (shm == NULL)
		return;
	if (n > METRICS_MAX_NODES)
		n = METRICS_MAX_NODES;
	for (size_t i = 0; i < n; i++)
		snprintf(shm->node_names[i], sizeof shm->node_names[i], "%s", names[i]);
	shm->n_nodes = n;
}

void metrics_db_rerun(unsigned why)
{
	if (my_slot != NULL && why < METRICS_N_RERUNS)
		__atomic_add_fetch(&my_slot->c.db_reruns[why], 1, RELAXED);
}

void metrics_publish_db(struct db_cluster *db)
{
	struct db_pool_stats st;
	size_t n;

	if (my_slot == NULL || db == NULL)
		return;
	n = db_cluster_n_nodes(db);
	for (size_t i = 0; i < n && i < METRICS_MAX_NODES; i++) {
		struct db_node_stats ns;

		db_cluster_node_stats(db, i, &ns);
		__atomic_store_n(&my_slot->node_state[i], (unsigned char)ns.state, RELAXED);
		__atomic_store_n(&my_slot->node_writer[i], (unsigned char)ns.writer, RELAXED);
		__atomic_store_n(&my_slot->node_in_use[i], ns.pool.in_use, RELAXED);
		__atomic_store_n(&my_slot->node_idle[i], ns.pool.idle, RELAXED);
		__atomic_store_n(&my_slot->c.node_failures[i], (uint64_t)ns.failures, RELAXED);
		__atomic_store_n(&my_slot->c.node_checks[i], (uint64_t)ns.checks, RELAXED);
		__atomic_store_n(&my_slot->c.node_check_failures[i], (uint64_t)ns.check_failures, RELAXED);
	}
	db_cluster_pool_stats(db, &st);
	__atomic_store_n(&my_slot->pool_size, st.size, RELAXED);
	__atomic_store_n(&my_slot->pool_in_use, st.in_use, RELAXED);
	__atomic_store_n(&my_slot->pool_idle, st.idle, RELAXED);
	__atomic_store_n(&my_slot->pool_waiters, st.waiters, RELAXED);
	for (size_t i = 0; i < METRICS_N_POOL_COUNTERS; i++) {
		unsigned long long v;

		memcpy(&v, (const char *)&st + metrics_pool_counters[i].stats_offset, sizeof v);
		__atomic_store_n(&my_slot->c.pool[i], (uint64_t)v, RELAXED);
	}
}

/* ---- reading ----------------------------------------------------------------- */

uint64_t metrics_requests_sum(const struct metrics_counters *c)
{
	uint64_t sum = 0;

	for (size_t r = 0; r < METRICS_MAX_ROUTES; r++)
		for (size_t k = 0; k < METRICS_N_CODES; k++)
			sum += c->requests[r][k];
	return sum;
}

static void read_worker(int i, enum slot_state state, struct metrics_snapshot *snap)
{
	const struct metrics_slot *s = &shm->slots[i];
	struct metrics_worker *w = &snap->workers[snap->n_workers++];
	struct metrics_counters mine;

	memset(&mine, 0, sizeof mine);
	add_counters(&mine, &s->c);
	add_counters(&snap->total, &s->c);
	w->pid = __atomic_load_n(&s->pid, RELAXED);
	w->generation = s->generation;
	w->leaving = state == SLOT_LEAVING;
	w->started_ms = s->started_ms;
	w->threads = s->threads;
	w->busy = __atomic_load_n(&s->busy, RELAXED);
	w->pool_size = __atomic_load_n(&s->pool_size, RELAXED);
	w->pool_in_use = __atomic_load_n(&s->pool_in_use, RELAXED);
	w->pool_idle = __atomic_load_n(&s->pool_idle, RELAXED);
	w->pool_waiters = __atomic_load_n(&s->pool_waiters, RELAXED);
	w->requests = metrics_requests_sum(&mine);
	w->connections = mine.connections;
	snap->threads += w->threads;
	snap->busy += w->busy;
	snap->pool_size += w->pool_size;
	snap->pool_in_use += w->pool_in_use;
	snap->pool_idle += w->pool_idle;
	snap->pool_waiters += w->pool_waiters;
	if (state == SLOT_LEAVING)
		return;
	for (size_t k = 0; k < snap->n_nodes; k++) {
		struct metrics_node *node = &snap->nodes[k];

		if (__atomic_load_n(&s->node_state[k], RELAXED) == DB_NODE_UP)
			node->workers_up++;
		if (__atomic_load_n(&s->node_writer[k], RELAXED))
			node->workers_writing++;
		node->in_use += __atomic_load_n(&s->node_in_use[k], RELAXED);
		node->idle += __atomic_load_n(&s->node_idle[k], RELAXED);
	}
}

bool metrics_snapshot_take(struct metrics_snapshot *snap)
{
	if (shm == NULL)
		return false;
	/* A fold that ran meanwhile may have moved a worker into retired: read again. */
	for (int attempt = 0; attempt < 100; attempt++) {
		uint64_t seq = __atomic_load_n(&shm->fold_seq, __ATOMIC_ACQUIRE);

		if (seq & 1) {
			usleep(100);
			continue;
		}
		memset(&snap->total, 0, sizeof snap->total);
		snap->n_workers = 0;
		snap->threads = snap->busy = 0;
		snap->pool_size = snap->pool_in_use = snap->pool_idle = snap->pool_waiters = 0;
		snap->n_nodes = shm->n_nodes;
		for (size_t k = 0; k < snap->n_nodes; k++) {
			memset(&snap->nodes[k], 0, sizeof snap->nodes[k]);
			memcpy(snap->nodes[k].name, shm->node_names[k], sizeof snap->nodes[k].name);
		}
		add_counters(&snap->total, &shm->retired);
		for (int i = 0; i < METRICS_MAX_SLOTS; i++) {
			enum slot_state state = __atomic_load_n(&shm->state[i], __ATOMIC_ACQUIRE);

			if (state != SLOT_FREE)
				read_worker(i, state, snap);
		}
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&shm->fold_seq, RELAXED) == seq)
			break;
	}
	snap->start_ms = shm->start_ms;
	snap->taken_ms = unix_ms();
	snap->restarts = __atomic_load_n(&shm->restarts, RELAXED);
	snap->workers_started = __atomic_load_n(&shm->workers_started, RELAXED);
	snap->max_active = __atomic_load_n(&shm->max_active, RELAXED);
	snap->listen_queue_max = __atomic_load_n(&shm->listen_queue_max, RELAXED);
	return true;
}

void metrics_note_listen_queue(int queue)
{
	int max;

	if (shm == NULL)
		return;
	max = __atomic_load_n(&shm->listen_queue_max, RELAXED);
	while (queue > max &&
	       !__atomic_compare_exchange_n(&shm->listen_queue_max, &max, queue, true, RELAXED, RELAXED))
		;
}

size_t metrics_n_routes(void)
{
	return n_routes;
}

const char *metrics_route_name(size_t i)
{
	return i < n_routes ? route_names[i] : "other";
}

const char *metrics_code_label(size_t i)
{
	return i < METRICS_N_CODES ? code_labels[i] : "other";
}
