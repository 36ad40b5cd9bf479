#ifndef TASKAPI_METRICS_H
#define TASKAPI_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "db_cluster.h"
#include "db_pool.h"

/*
 * Counters and gauges shared by every process of one taskapi (the board), for
 * /metrics and /status: admin.c serves them, metrics_render.c writes their text.
 *
 * The master maps one anonymous shared area (MAP_SHARED | MAP_ANONYMOUS)
 * before it forks anything. Each worker process owns one slot in it and is
 * the only writer of that slot's counters: its threads add with relaxed
 * atomics, no lock, nothing shared with other processes on the request path
 * except two counters (active threads and their maximum). A reader sums the
 * slots of live workers plus a "retired" total into which the master folds a
 * slot when its worker has exited (crash, recycling, reload), before the slot
 * is reused. So counters never go backwards across worker restarts; a
 * sequence counter around the fold lets a reader that raced with one try
 * again instead of counting a worker twice or not at all.
 *
 * Gauges (busy threads, pool connections) count live workers only. Pool
 * figures are published by each worker's signal thread every 50 ms
 * (metrics_publish_pool), since the pool itself lives in the worker.
 *
 * Without metrics_setup (taskapi migrate, unit tests of other modules) or
 * in a process without a slot, the recording calls do nothing.
 */

#define METRICS_MAX_ROUTES 32  /* route names, "other" included */
#define METRICS_MAX_SLOTS 1024 /* worker processes alive at once, old generations included */
#define METRICS_N_CODES 33     /* the status codes taskapi can answer, and "other" */
#define METRICS_N_BUCKETS 14   /* request duration: 1 ms .. 10 s, +Inf */
#define METRICS_N_WAIT_BUCKETS 13 /* pool wait: 100 us .. 10 s, +Inf */
#define METRICS_N_POOL_COUNTERS 9 /* rows of metrics_pool_counters */

/* Connections the FastCGI intake ended without serving them, by why (intake.c). */
enum metrics_intake_close {
	METRICS_INTAKE_IDLE = 0, /* silent past server.idle_timeout_ms / keepalive_timeout_ms */
	METRICS_INTAKE_SLOW,     /* no whole request within server.request_timeout_ms */
	METRICS_INTAKE_REJECTED, /* records past a cap, or not what a web server sends */
	METRICS_INTAKE_REFUSED,  /* at server.max_connections: closed on accept */
	METRICS_INTAKE_EVICTED,  /* silent, closed to make room for a new connection */
	METRICS_N_INTAKE_CLOSES
};
/* Their /status keys and /metrics reason labels, in enum order. */
extern const char *const metrics_intake_close_names[METRICS_N_INTAKE_CLOSES];

/* What became of a write with an Idempotency-Key (idem.c). */
enum metrics_idem {
	METRICS_IDEM_STORED = 0, /* done and its answer stored with it */
	METRICS_IDEM_REPLAYED,   /* answered from the stored answer */
	METRICS_IDEM_MISMATCH,   /* the key came with another request: 422 */
	METRICS_IDEM_BUSY,       /* the key's first request still ran after the bound: 409 */
	METRICS_N_IDEM
};
/* Their /status keys and /metrics result labels, in enum order. */
extern const char *const metrics_idem_names[METRICS_N_IDEM];

/* Database nodes shown (db_cluster.h's limit). */
#define METRICS_MAX_NODES DB_CLUSTER_MAX_NODES
/* Handler re-runs by why: enum app_rerun of app.h, "none" (0) unused. */
#define METRICS_N_RERUNS 4
extern const char *const metrics_rerun_names[METRICS_N_RERUNS];

/* Room for every auth_reason of auth.h (checked there at compile time). */
#define METRICS_N_AUTH_REASONS 16

/*
 * The pool's cumulative counters, one row per counter of struct db_pool_stats,
 * in the order /metrics and /status show them. metrics_publish_pool copies them
 * into the board by stats_offset and the renderers name them from this table:
 * a new counter is one row here (and its field in db_pool_stats).
 */
struct metrics_pool_counter {
	const char *name;    /* /status "db_pool" key; /metrics: taskapi_db_pool_<name>_total */
	const char *help;    /* /metrics HELP text */
	size_t stats_offset; /* of its unsigned long long in struct db_pool_stats */
};
extern const struct metrics_pool_counter metrics_pool_counters[METRICS_N_POOL_COUNTERS];

/* The le labels of the histogram buckets (upper bounds in seconds; the last is "+Inf"). */
extern const char *const metrics_latency_le[METRICS_N_BUCKETS];
extern const char *const metrics_wait_le[METRICS_N_WAIT_BUCKETS];

/*
 * Creates the shared area and fixes the route names (borrowed: static
 * strings; "other" is added for names not listed). Call once, before any
 * fork or thread. Returns 0, or -1 with err.
 */
int metrics_setup(const char *const *routes, size_t n_routes, char *err, size_t errlen);
/*
 * Names the database nodes (copied, at most METRICS_MAX_NODES, each cut to
 * DB_NODE_NAME_MAX - 1): the labels of the per-node figures. After
 * metrics_setup, before any fork; without it no node figures are shown.
 */
void metrics_set_nodes(const char *const *names, size_t n);

/* Unmaps the area and forgets the routes (unit tests; the program keeps it to the end). */
void metrics_free(void);

/* ---- the master ---------------------------------------------------------- */

/*
 * Takes a free slot (zeroed) for a worker about to be forked; -1 when all
 * are in use (that worker then runs unmeasured).
 */
int metrics_slot_claim(unsigned generation, int threads);
/* Records the forked worker's pid (in the parent) and counts a start. */
void metrics_slot_started(int slot, pid_t pid);
/* Frees a slot whose fork failed, without folding anything. */
void metrics_slot_unclaim(int slot);
/* Marks the worker as leaving (draining after a reload, stop or recycling). */
void metrics_slot_leaving(int slot);
/* Folds an exited worker's counters into the retired total and frees the slot. */
void metrics_slot_retire(int slot);
/*
 * What an exited worker did, read by the master before metrics_slot_retire:
 * connections it accepted (*connections) and requests it answered
 * (*requests). False (both 0) when the worker had no slot.
 */
bool metrics_slot_activity(int slot, uint64_t *connections, uint64_t *requests);
/* Counts a worker restart after a crash. */
void metrics_worker_restarted(void);

/* ---- a worker ------------------------------------------------------------- */

/* In the forked worker, before its threads start: this process writes slot. */
void metrics_slot_attach(int slot);
/* --workers 0: claims a slot for this very process and attaches it. */
void metrics_attach_self(int threads);

void metrics_connection_accepted(void);
/* The intake closed a connection without serving it. */
void metrics_intake_closed(enum metrics_intake_close why);
/* A caller refused with 401/403/503 by auth_check, by its auth_reason (auth.h). */
void metrics_auth_refused(unsigned reason);
/* A write with an Idempotency-Key ended so. */
void metrics_idempotency(enum metrics_idem result);
/* The purge deleted rows expired keys. */
void metrics_idempotency_purged(uint64_t rows);
/* A thread starts / finishes answering a request. */
void metrics_busy_begin(void);
void metrics_busy_end(void);
/*
 * Threads of all accepting workers not in a request right now (the caller
 * included, if it is not), or -1 when this process has no slot. A hint, read
 * without locks: busy threads of draining workers make it low for a while.
 */
int metrics_idle_threads(void);
/*
 * One answered request: its route name (as app_handle returns it), status,
 * duration and pool wait (acquires = how many db_pool_acquire calls; the
 * wait is observed only when there was one).
 */
void metrics_request(const char *route, int status, long long duration_ns, unsigned acquires,
		     long long pool_wait_ns, bool slow);
/* Copies the pools' figures (all nodes added up) and each node's into this worker's slot. */
void metrics_publish_db(struct db_cluster *db);
/* A handler ran again (app.h's enum app_rerun, 1..METRICS_N_RERUNS-1). */
void metrics_db_rerun(unsigned why);

/* ---- reading ----------------------------------------------------------------- */

struct metrics_counters {
	uint64_t requests[METRICS_MAX_ROUTES][METRICS_N_CODES];
	uint64_t latency[METRICS_MAX_ROUTES][METRICS_N_BUCKETS]; /* per bucket, not cumulative */
	uint64_t latency_sum_ns[METRICS_MAX_ROUTES];
	uint64_t wait[METRICS_N_WAIT_BUCKETS];
	uint64_t wait_sum_ns;
	uint64_t connections;
	uint64_t slow;
	uint64_t all_busy;        /* times every thread of a worker was busy at once */
	uint64_t intake_closed[METRICS_N_INTAKE_CLOSES];
	uint64_t auth_refused[METRICS_N_AUTH_REASONS]; /* by enum auth_reason */
	uint64_t idempotency[METRICS_N_IDEM];          /* by enum metrics_idem */
	uint64_t idempotency_purged;                   /* expired keys deleted */
	/* db_pool_stats counters as each worker last published them, by metrics_pool_counters row */
	uint64_t pool[METRICS_N_POOL_COUNTERS];
	uint64_t db_reruns[METRICS_N_RERUNS];
	/* Per database node, as each worker last published them (db_node_stats). */
	uint64_t node_failures[METRICS_MAX_NODES];
	uint64_t node_checks[METRICS_MAX_NODES];
	uint64_t node_check_failures[METRICS_MAX_NODES];
};

/* A database node as the live workers see it. */
struct metrics_node {
	char name[DB_NODE_NAME_MAX];
	unsigned workers_up;      /* live workers that see it healthy */
	unsigned workers_writing; /* live workers whose writes go to it */
	unsigned in_use, idle;    /* its connections, all live workers */
};

struct metrics_worker {
	pid_t pid;
	unsigned generation;
	bool leaving;
	long long started_ms;     /* unix time */
	int threads, busy;
	unsigned pool_size, pool_in_use, pool_idle, pool_waiters;
	uint64_t requests, connections;
};

struct metrics_snapshot {
	struct metrics_counters total;   /* retired + live workers */
	long long start_ms;              /* unix time of metrics_setup (the master's start) */
	long long taken_ms;              /* unix time of metrics_snapshot_take: "now" for uptimes */
	uint64_t restarts;               /* workers restarted after a crash */
	uint64_t workers_started;
	int max_active;                  /* most threads busy at once, all workers */
	int listen_queue_max;            /* highest sampled, see metrics_note_listen_queue */
	int threads, busy;               /* live workers */
	unsigned pool_size, pool_in_use, pool_idle, pool_waiters;
	unsigned n_workers;
	struct metrics_worker workers[METRICS_MAX_SLOTS];
	size_t n_nodes;                  /* 0: node figures are not shown */
	struct metrics_node nodes[METRICS_MAX_NODES];
};

/* The FastCGI listening socket's accept queue, as admin.c sampled it. */
struct metrics_listen {
	bool known;      /* false: no way to read it for this socket */
	int queue;       /* connections waiting for accept() */
	int backlog;     /* the queue's limit */
};

/* Fills *snap (caller-owned; it is large: allocate it). False when metrics are off. */
bool metrics_snapshot_take(struct metrics_snapshot *snap);
/* Remembers a sampled listen queue length for the "max" figure. */
void metrics_note_listen_queue(int queue);

/* Route names and labels by index, for rendering. */
size_t metrics_n_routes(void);
const char *metrics_route_name(size_t i);
const char *metrics_code_label(size_t i);

/* Requests answered by a worker or in total (every route and status). */
uint64_t metrics_requests_sum(const struct metrics_counters *c);

#endif
