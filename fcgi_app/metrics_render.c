#include "metrics_render.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "auth.h"

/* ---- Prometheus text --------------------------------------------------------- */

/* /status "intake_closed": {"idle": n, "slow": n, ...} */
static json_t *intake_closed_object(const struct metrics_counters *t)
{
	json_t *o = json_object();

	for (int i = 0; i < METRICS_N_INTAKE_CLOSES; i++)
		json_object_set_new(o, metrics_intake_close_names[i], json_integer((json_int_t)t->intake_closed[i]));
	return o;
}

/* /status "idempotency": {"stored": n, ..., "purged": n} */
static json_t *idempotency_object(const struct metrics_counters *t)
{
	json_t *o = json_object();

	for (int i = 0; i < METRICS_N_IDEM; i++)
		json_object_set_new(o, metrics_idem_names[i], json_integer((json_int_t)t->idempotency[i]));
	json_object_set_new(o, "purged", json_integer((json_int_t)t->idempotency_purged));
	return o;
}

/* /status "auth_refused": {"missing": n, ...}, every refusal reason */
static json_t *auth_refused_object(const struct metrics_counters *t)
{
	json_t *o = json_object();

	for (unsigned i = AUTH_REASON_NONE + 1; i < AUTH_REASON_COUNT; i++)
		json_object_set_new(o, auth_reason_name(i), json_integer((json_int_t)t->auth_refused[i]));
	return o;
}

static void family(struct buf *out, const char *name, const char *type, const char *help)
{
	buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void label_value(struct buf *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			buf_putc(out, '\\');
		if (*s == '\n') {
			buf_puts(out, "\\n");
			continue;
		}
		buf_putc(out, *s);
	}
}

static void seconds(struct buf *out, uint64_t ns)
{
	buf_printf(out, "%llu.%09llu", (unsigned long long)(ns / 1000000000ULL),
		   (unsigned long long)(ns % 1000000000ULL));
}

/* `{route="..."}` after a sample name; nothing without a route. */
static void route_label(struct buf *out, const char *route)
{
	if (route == NULL)
		return;
	buf_puts(out, "{route=\"");
	label_value(out, route);
	buf_puts(out, "\"}");
}

static void histogram(struct buf *out, const char *name, const char *route, const uint64_t *buckets,
		      const char *const *le, size_t n, uint64_t sum_ns)
{
	uint64_t cumulative = 0;

	for (size_t b = 0; b < n; b++) {
		cumulative += buckets[b];
		buf_printf(out, "%s_bucket{", name);
		if (route != NULL) {
			buf_puts(out, "route=\"");
			label_value(out, route);
			buf_puts(out, "\",");
		}
		buf_printf(out, "le=\"%s\"} %llu\n", le[b], (unsigned long long)cumulative);
	}
	buf_printf(out, "%s_sum", name);
	route_label(out, route);
	buf_putc(out, ' ');
	seconds(out, sum_ns);
	buf_printf(out, "\n%s_count", name);
	route_label(out, route);
	buf_printf(out, " %llu\n", (unsigned long long)cumulative);
}

static void gauge_line(struct buf *out, const char *name, const char *labels, long long value)
{
	buf_printf(out, "%s%s%s%s %lld\n", name, labels ? "{" : "", labels ? labels : "", labels ? "}" : "",
		   value);
}

/* A family of one sample without labels. */
static void single(struct buf *out, const char *name, const char *type, const char *help, long long value)
{
	family(out, name, type, help);
	gauge_line(out, name, NULL, value);
}

static void pool_counters(struct buf *out, const struct metrics_counters *t)
{
	for (size_t i = 0; i < METRICS_N_POOL_COUNTERS; i++) {
		char name[96];

		snprintf(name, sizeof name, "taskapi_db_pool_%s_total", metrics_pool_counters[i].name);
		single(out, name, "counter", metrics_pool_counters[i].help, (long long)t->pool[i]);
	}
}

/* One sample per database node: name{node="..."} value, by the value function. */
static void node_family(struct buf *out, const struct metrics_snapshot *snap, const char *name,
			const char *type, const char *help, const char *extra_label,
			long long (*value)(const struct metrics_snapshot *, size_t))
{
	family(out, name, type, help);
	for (size_t k = 0; k < snap->n_nodes; k++) {
		buf_printf(out, "%s{node=\"", name);
		label_value(out, snap->nodes[k].name);
		buf_printf(out, "\"%s%s} %lld\n", extra_label ? "," : "", extra_label ? extra_label : "",
			   value(snap, k));
	}
}

static long long node_up(const struct metrics_snapshot *s, size_t k) { return s->nodes[k].workers_up; }
static long long node_writing(const struct metrics_snapshot *s, size_t k) { return s->nodes[k].workers_writing; }
static long long node_failures(const struct metrics_snapshot *s, size_t k)
{
	return (long long)s->total.node_failures[k];
}
static long long node_checks(const struct metrics_snapshot *s, size_t k)
{
	return (long long)s->total.node_checks[k];
}
static long long node_check_failures(const struct metrics_snapshot *s, size_t k)
{
	return (long long)s->total.node_check_failures[k];
}

static void db_figures(struct buf *out, const struct metrics_snapshot *snap)
{
	family(out, "taskapi_db_reruns_total", "counter",
	       "Requests whose handler ran again after a database failure, by why.");
	for (size_t i = 1; i < METRICS_N_RERUNS; i++)
		buf_printf(out, "taskapi_db_reruns_total{reason=\"%s\"} %llu\n", metrics_rerun_names[i],
			   (unsigned long long)snap->total.db_reruns[i]);
	if (snap->n_nodes == 0)
		return;
	node_family(out, snap, "taskapi_db_node_up", "gauge",
		    "Live workers that see the database node healthy (of taskapi_workers).", NULL, node_up);
	node_family(out, snap, "taskapi_db_node_writer", "gauge",
		    "Live workers whose writes go to the node.", NULL, node_writing);
	family(out, "taskapi_db_node_connections", "gauge", "Connections to the node, all live workers, by state.");
	for (size_t k = 0; k < snap->n_nodes; k++) {
		buf_puts(out, "taskapi_db_node_connections{node=\"");
		label_value(out, snap->nodes[k].name);
		buf_printf(out, "\",state=\"in_use\"} %u\n", snap->nodes[k].in_use);
		buf_puts(out, "taskapi_db_node_connections{node=\"");
		label_value(out, snap->nodes[k].name);
		buf_printf(out, "\",state=\"idle\"} %u\n", snap->nodes[k].idle);
	}
	node_family(out, snap, "taskapi_db_node_failures_total", "counter",
		    "Times a worker marked the node down (failed check, connect, lost connection, 1047).", NULL,
		    node_failures);
	node_family(out, snap, "taskapi_db_node_checks_total", "counter", "Background health checks of the node.",
		    NULL, node_checks);
	node_family(out, snap, "taskapi_db_node_check_failures_total", "counter",
		    "Health checks the node failed (down, or not Synced/ready/Primary on Galera).", NULL,
		    node_check_failures);
}

void metrics_render_prometheus(const struct metrics_snapshot *snap, const struct metrics_listen *listen,
			       struct buf *out)
{
	const struct metrics_counters *t = &snap->total;
	size_t n_routes = metrics_n_routes();

	family(out, "taskapi_requests_total", "counter", "Requests answered, by route and HTTP status.");
	for (size_t r = 0; r < n_routes; r++) {
		for (size_t k = 0; k < METRICS_N_CODES; k++) {
			if (t->requests[r][k] == 0)
				continue;
			buf_puts(out, "taskapi_requests_total{route=\"");
			label_value(out, metrics_route_name(r));
			buf_printf(out, "\",code=\"%s\"} %llu\n", metrics_code_label(k),
				   (unsigned long long)t->requests[r][k]);
		}
	}
	family(out, "taskapi_request_duration_seconds", "histogram",
	       "Time from reading a request to having written its answer, by route.");
	for (size_t r = 0; r < n_routes; r++) {
		uint64_t count = 0;

		for (size_t b = 0; b < METRICS_N_BUCKETS; b++)
			count += t->latency[r][b];
		if (count > 0)
			histogram(out, "taskapi_request_duration_seconds", metrics_route_name(r), t->latency[r],
				  metrics_latency_le, METRICS_N_BUCKETS, t->latency_sum_ns[r]);
	}
	family(out, "taskapi_db_pool_wait_seconds", "histogram",
	       "Time requests waited in db_pool_acquire for a database connection.");
	histogram(out, "taskapi_db_pool_wait_seconds", NULL, t->wait, metrics_wait_le, METRICS_N_WAIT_BUCKETS,
		  t->wait_sum_ns);
	single(out, "taskapi_slow_requests_total", "counter", "Requests slower than log.slow_request_ms.",
	       (long long)t->slow);
	single(out, "taskapi_connections_accepted_total", "counter", "FastCGI connections accepted.",
	       (long long)t->connections);
	family(out, "taskapi_intake_closed_total", "counter",
	       "FastCGI connections closed without being served, by reason.");
	for (int i = 0; i < METRICS_N_INTAKE_CLOSES; i++) {
		char label[48];

		snprintf(label, sizeof label, "reason=\"%s\"", metrics_intake_close_names[i]);
		gauge_line(out, "taskapi_intake_closed_total", label, (long long)t->intake_closed[i]);
	}
	family(out, "taskapi_auth_refused_total", "counter",
	       "Requests refused by authentication (401), scope (403) or an unavailable check (503), by reason.");
	for (unsigned i = AUTH_REASON_NONE + 1; i < AUTH_REASON_COUNT; i++) {
		char label[48];

		snprintf(label, sizeof label, "reason=\"%s\"", auth_reason_name(i));
		gauge_line(out, "taskapi_auth_refused_total", label, (long long)t->auth_refused[i]);
	}
	family(out, "taskapi_idempotency_total", "counter",
	       "Writes with an Idempotency-Key, by result: stored (done, answer kept), replayed, "
	       "mismatch (422: the key came with another request), busy (409: its first request still ran).");
	for (int i = 0; i < METRICS_N_IDEM; i++) {
		char label[48];

		snprintf(label, sizeof label, "result=\"%s\"", metrics_idem_names[i]);
		gauge_line(out, "taskapi_idempotency_total", label, (long long)t->idempotency[i]);
	}
	single(out, "taskapi_idempotency_purged_total", "counter",
	       "Expired Idempotency-Key rows deleted by the purge.", (long long)t->idempotency_purged);

	family(out, "taskapi_threads", "gauge", "Serving threads of live workers, busy with a request or idle.");
	gauge_line(out, "taskapi_threads", "state=\"busy\"", snap->busy);
	gauge_line(out, "taskapi_threads", "state=\"idle\"", snap->threads - snap->busy);
	single(out, "taskapi_threads_busy_max", "gauge", "Most threads busy at once since the start.",
	       snap->max_active);
	single(out, "taskapi_threads_all_busy_total", "counter",
	       "Times every thread of a worker was busy (PHP-FPM's max children reached).", (long long)t->all_busy);

	single(out, "taskapi_workers", "gauge", "Worker processes alive (draining ones included).", snap->n_workers);
	single(out, "taskapi_worker_restarts_total", "counter", "Workers restarted after a crash.",
	       (long long)snap->restarts);
	single(out, "taskapi_workers_started_total", "counter",
	       "Worker processes started (first start, crashes, recycling, reloads).",
	       (long long)snap->workers_started);

	family(out, "taskapi_db_pool_connections", "gauge", "Database connections of live workers by state.");
	gauge_line(out, "taskapi_db_pool_connections", "state=\"in_use\"", snap->pool_in_use);
	gauge_line(out, "taskapi_db_pool_connections", "state=\"idle\"", snap->pool_idle);
	single(out, "taskapi_db_pool_size", "gauge", "Pool capacity, all live workers.", snap->pool_size);
	single(out, "taskapi_db_pool_waiters", "gauge", "Requests waiting for a database connection.",
	       snap->pool_waiters);
	pool_counters(out, t);
	db_figures(out, snap);

	if (listen != NULL && listen->known) {
		single(out, "taskapi_listen_queue", "gauge", "Connections waiting in the FastCGI socket's accept queue.",
		       listen->queue);
		single(out, "taskapi_listen_queue_max", "gauge", "Longest accept queue sampled since the start.",
		       snap->listen_queue_max);
		single(out, "taskapi_listen_queue_length", "gauge", "Limit of the accept queue (backlog).",
		       listen->backlog);
	}
	family(out, "taskapi_start_time_seconds", "gauge", "When the master started, unix time.");
	buf_printf(out, "taskapi_start_time_seconds %lld.%03lld\n", snap->start_ms / 1000, snap->start_ms % 1000);
	single(out, "taskapi_uptime_seconds", "gauge", "Seconds since the master started.",
	       (snap->taken_ms - snap->start_ms) / 1000);
	family(out, "taskapi_build_info", "gauge", "The running version.");
	buf_printf(out, "taskapi_build_info{version=\"%s\"} 1\n", PACKAGE_VERSION);
}

/* ---- /status JSON ------------------------------------------------------------ */

/* A "db_pool" object: the gauges, and the cumulative counters when c is given. */
static json_t *pool_json(unsigned size, unsigned in_use, unsigned idle, unsigned waiters,
			 const struct metrics_counters *c)
{
	json_t *o = json_object();

	json_object_set_new(o, "size", json_integer(size));
	json_object_set_new(o, "in_use", json_integer(in_use));
	json_object_set_new(o, "idle", json_integer(idle));
	json_object_set_new(o, "waiters", json_integer(waiters));
	for (size_t i = 0; c != NULL && i < METRICS_N_POOL_COUNTERS; i++)
		json_object_set_new(o, metrics_pool_counters[i].name, json_integer((json_int_t)c->pool[i]));
	return o;
}

static json_t *worker_json(const struct metrics_worker *w, long long now_ms)
{
	json_t *p = json_object();

	json_object_set_new(p, "pid", json_integer(w->pid));
	json_object_set_new(p, "state", json_string(w->leaving ? "leaving" : "running"));
	json_object_set_new(p, "generation", json_integer(w->generation));
	json_object_set_new(p, "start_time", json_integer(w->started_ms / 1000));
	json_object_set_new(p, "uptime_seconds", json_integer((now_ms - w->started_ms) / 1000));
	json_object_set_new(p, "requests", json_integer((json_int_t)w->requests));
	json_object_set_new(p, "accepted_conn", json_integer((json_int_t)w->connections));
	json_object_set_new(p, "active_threads", json_integer(w->busy));
	json_object_set_new(p, "idle_threads", json_integer(w->threads - w->busy));
	json_object_set_new(p, "total_threads", json_integer(w->threads));
	json_object_set_new(p, "db_pool", pool_json(w->pool_size, w->pool_in_use, w->pool_idle, w->pool_waiters,
						    NULL));
	return p;
}

/* An integer when the accept queue could be read, else null. */
static json_t *reruns_object(const struct metrics_counters *t)
{
	json_t *o = json_object();

	for (size_t i = 1; i < METRICS_N_RERUNS; i++)
		json_object_set_new(o, metrics_rerun_names[i], json_integer((json_int_t)t->db_reruns[i]));
	return o;
}

static json_t *nodes_array(const struct metrics_snapshot *snap)
{
	json_t *list = json_array();

	for (size_t k = 0; k < snap->n_nodes; k++) {
		const struct metrics_node *n = &snap->nodes[k];

		json_array_append_new(list, json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "node", n->name,
						      "workers_up", (json_int_t)n->workers_up,
						      "workers_writing", (json_int_t)n->workers_writing,
						      "in_use", (json_int_t)n->in_use, "idle", (json_int_t)n->idle,
						      "failures", (json_int_t)snap->total.node_failures[k],
						      "checks", (json_int_t)snap->total.node_checks[k],
						      "check_failures",
						      (json_int_t)snap->total.node_check_failures[k]));
	}
	return list;
}

static json_t *listen_figure(const struct metrics_listen *listen, int value)
{
	return listen->known ? json_integer(value) : json_null();
}

void metrics_render_status(const struct metrics_snapshot *snap, const struct metrics_listen *listen,
			   const char *listen_name, bool full, struct buf *out)
{
	json_t *root = json_object();
	long long now_ms = snap->taken_ms;
	char *text;

	json_object_set_new(root, "pool", json_string("taskapi"));
	json_object_set_new(root, "listen", json_string(listen_name ? listen_name : ""));
	json_object_set_new(root, "process_manager", json_string("static"));
	json_object_set_new(root, "version", json_string(PACKAGE_VERSION));
	json_object_set_new(root, "start_time", json_integer(snap->start_ms / 1000));
	json_object_set_new(root, "uptime_seconds", json_integer((now_ms - snap->start_ms) / 1000));
	json_object_set_new(root, "accepted_conn", json_integer((json_int_t)snap->total.connections));
	json_object_set_new(root, "requests", json_integer((json_int_t)metrics_requests_sum(&snap->total)));
	json_object_set_new(root, "slow_requests", json_integer((json_int_t)snap->total.slow));
	json_object_set_new(root, "intake_closed", intake_closed_object(&snap->total));
	json_object_set_new(root, "auth_refused", auth_refused_object(&snap->total));
	json_object_set_new(root, "idempotency", idempotency_object(&snap->total));
	json_object_set_new(root, "listen_queue", listen_figure(listen, listen->queue));
	json_object_set_new(root, "max_listen_queue", listen_figure(listen, snap->listen_queue_max));
	json_object_set_new(root, "listen_queue_len", listen_figure(listen, listen->backlog));
	json_object_set_new(root, "idle_threads", json_integer(snap->threads - snap->busy));
	json_object_set_new(root, "active_threads", json_integer(snap->busy));
	json_object_set_new(root, "total_threads", json_integer(snap->threads));
	json_object_set_new(root, "max_active_threads", json_integer(snap->max_active));
	json_object_set_new(root, "max_threads_reached", json_integer((json_int_t)snap->total.all_busy));
	json_object_set_new(root, "workers", json_integer(snap->n_workers));
	json_object_set_new(root, "worker_restarts", json_integer((json_int_t)snap->restarts));
	json_object_set_new(root, "workers_started", json_integer((json_int_t)snap->workers_started));
	json_object_set_new(root, "db_pool", pool_json(snap->pool_size, snap->pool_in_use, snap->pool_idle,
						       snap->pool_waiters, &snap->total));
	json_object_set_new(root, "db_reruns", reruns_object(&snap->total));
	if (snap->n_nodes > 0)
		json_object_set_new(root, "db_nodes", nodes_array(snap));
	if (full) {
		json_t *list = json_array();

		for (unsigned i = 0; i < snap->n_workers; i++)
			json_array_append_new(list, worker_json(&snap->workers[i], now_ms));
		json_object_set_new(root, "processes", list);
	}
	text = json_dumps(root, JSON_COMPACT);
	if (text != NULL) {
		buf_puts(out, text);
		buf_putc(out, '\n');
		free(text);
	}
	json_decref(root);
}
