/*
 * Unit tests for the /metrics and /status renderers: a fixed snapshot, filled by
 * hand, rendered and compared byte for byte with the text the admin socket answers.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "metrics_render.h"
#include "unit.h"

static const char *const routes[] = { "r.a", "r.b", "we\"ird" };

/* Route indexes after metrics_setup: the three above, then "other". */
enum { R_A, R_B, R_WEIRD, R_OTHER };
/* Status code indexes (metrics.c's code_labels). */
enum { C_200 = 0, C_201 = 1, C_500 = 26, C_OTHER = METRICS_N_CODES - 1 };

/*
 * The snapshot every golden text is made from: three routes and "other", two
 * workers (one leaving), every counter a distinct value; uptimes 3600 s (the
 * master), 3599 s and 600 s (the workers).
 */
static const struct metrics_snapshot fixture_snapshot = {
	.total = {
		.requests = { [R_A] = { [C_200] = 5, [C_201] = 2 }, [R_WEIRD] = { [C_500] = 1 },
			      [R_OTHER] = { [C_OTHER] = 3 } },
		.latency = { [R_A] = { [0] = 3, [2] = 4 }, [R_WEIRD] = { [METRICS_N_BUCKETS - 1] = 1 },
			     [R_OTHER] = { [5] = 3 } },
		.latency_sum_ns = { [R_A] = 14500000, [R_WEIRD] = 12000000000ULL, [R_OTHER] = 90000001 },
		.wait = { [0] = 2, [4] = 1 }, .wait_sum_ns = 12345678901ULL,
		.connections = 9, .slow = 1, .all_busy = 2,
		.intake_closed = { 21, 22, 23, 24, 25 },
		.auth_refused = { 99, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41 },
		.idempotency = { 51, 52, 53, 54 }, .idempotency_purged = 55,
		/* By metrics_pool_counters row: timeouts, evictions, retirements, created, connect failures, ... */
		.pool = { 11, 12, 15, 13, 14, 16, 17, 18, 19 },
		.db_reruns = { 0, 42, 43, 44 },
		.node_failures = { 51, 52 }, .node_checks = { 5300, 5400 }, .node_check_failures = { 55, 56 },
	},
	.start_ms = 1700000000123LL, .taken_ms = 1700003600999LL,
	.restarts = 1, .workers_started = 3, .max_active = 4, .listen_queue_max = 7,
	.threads = 8, .busy = 3, .pool_size = 10, .pool_in_use = 2, .pool_idle = 5, .pool_waiters = 1,
	.n_workers = 2,
	.workers = {
		{ .pid = 101, .generation = 1, .started_ms = 1700000001456LL, .threads = 4, .busy = 2,
		  .pool_size = 5, .pool_in_use = 1, .pool_idle = 3, .requests = 7, .connections = 5 },
		{ .pid = 102, .generation = 2, .leaving = true, .started_ms = 1700003000000LL, .threads = 4,
		  .busy = 1, .pool_size = 5, .pool_in_use = 1, .pool_idle = 2, .pool_waiters = 1, .requests = 4,
		  .connections = 4 },
	},
	.n_nodes = 2,
	.nodes = { { "127.0.0.1:3307", 1, 1, 2, 3 }, { "db\"2\":3306", 0, 0, 0, 1 } },
};

/* fixture_snapshot in a copy of the caller's to free, with the routes set up as in the program. */
static struct metrics_snapshot *fixture(void)
{
	struct metrics_snapshot *s = malloc(sizeof *s);
	char err[128];

	ck_assert_ptr_nonnull(s);
	metrics_free();
	ck_assert_int_eq(metrics_setup(routes, 3, err, sizeof err), 0);
	ck_assert_str_eq(metrics_code_label(C_500), "500");
	*s = fixture_snapshot;
	return s;
}

/* What every test ends with. */
static void done(struct metrics_snapshot *s, struct buf *out)
{
	buf_release(out);
	free(s);
	metrics_free();
}

/* Compares whole texts; on a difference, names the first line that differs. */
static void expect_text(const char *want, const struct buf *got_buf)
{
	char *expected = strdup(want);
	char *got = strndup(got_buf->data ? got_buf->data : "", got_buf->len);
	const char *w, *g;
	int line = 1;

	ck_assert_ptr_nonnull(expected);
	ck_assert_ptr_nonnull(got);
	for (w = expected, g = got; *w && *w == *g; w++, g++)
		if (*w == '\n')
			line++;
	if (*w != *g) {
		const char *wl = w, *gl = g;

		while (wl > expected && wl[-1] != '\n')
			wl--;
		while (gl > got && gl[-1] != '\n')
			gl--;
		ck_abort_msg("line %d differs:\nwant: %.*s\ngot:  %.*s", line, (int)strcspn(wl, "\n"), wl,
			     (int)strcspn(gl, "\n"), gl);
	}
	free(expected);
	free(got);
}

static const char prometheus_text[] =
	"# HELP taskapi_requests_total Requests answered, by route and HTTP status.\n"
	"# TYPE taskapi_requests_total counter\n"
	"taskapi_requests_total{route=\"r.a\",code=\"200\"} 5\n"
	"taskapi_requests_total{route=\"r.a\",code=\"201\"} 2\n"
	"taskapi_requests_total{route=\"we\\\"ird\",code=\"500\"} 1\n"
	"taskapi_requests_total{route=\"other\",code=\"other\"} 3\n"
	"# HELP taskapi_request_duration_seconds Time from reading a request to having written its answer, by route.\n"
	"# TYPE taskapi_request_duration_seconds histogram\n"
	"taskapi_request_duration_seconds_bucket{route=\"r.a\",le=\"0.001\"} 3\n"
	"taskapi_request_duration_seconds_bucket{route=\"r.a\",le=\"0.0025\"} 3\n"
	"taskapi_request_duration_seconds_bucket{route=\"r.a\",le=\"0.005\"} 7\n"
	"taskapi_request_duration_seconds_bucket{route=\"r.a\",le=\"0.01\"} 7\n"
	"taskapi_request_duration_seconds_bucket{route=\"r.a\",le=\"0.025\"} 7\n"
	"taskapi_request_duration_seconds_bucket{route=\"r.a\",le=\"0.05\"} 7\n"
	"taskapi_request_duration_seconds_bucket{route=\"r.a\",le=\"0.1\"} 7\n"
	"taskapi_request_duration_seconds_bucket{route=\"r.a\",le=\"0.25\"} 7\n"
	"taskapi_request_duration_seconds_bucket{route=\"r.a\",le=\"0.5\"} 7\n"
	"taskapi_request_duration_seconds_bucket{route=\"r.a\",le=\"1\"} 7\n"
	"taskapi_request_duration_seconds_bucket{route=\"r.a\",le=\"2.5\"} 7\n"
	"taskapi_request_duration_seconds_bucket{route=\"r.a\",le=\"5\"} 7\n"
	"taskapi_request_duration_seconds_bucket{route=\"r.a\",le=\"10\"} 7\n"
	"taskapi_request_duration_seconds_bucket{route=\"r.a\",le=\"+Inf\"} 7\n"
	"taskapi_request_duration_seconds_sum{route=\"r.a\"} 0.014500000\n"
	"taskapi_request_duration_seconds_count{route=\"r.a\"} 7\n"
	"taskapi_request_duration_seconds_bucket{route=\"we\\\"ird\",le=\"0.001\"} 0\n"
	"taskapi_request_duration_seconds_bucket{route=\"we\\\"ird\",le=\"0.0025\"} 0\n"
	"taskapi_request_duration_seconds_bucket{route=\"we\\\"ird\",le=\"0.005\"} 0\n"
	"taskapi_request_duration_seconds_bucket{route=\"we\\\"ird\",le=\"0.01\"} 0\n"
	"taskapi_request_duration_seconds_bucket{route=\"we\\\"ird\",le=\"0.025\"} 0\n"
	"taskapi_request_duration_seconds_bucket{route=\"we\\\"ird\",le=\"0.05\"} 0\n"
	"taskapi_request_duration_seconds_bucket{route=\"we\\\"ird\",le=\"0.1\"} 0\n"
	"taskapi_request_duration_seconds_bucket{route=\"we\\\"ird\",le=\"0.25\"} 0\n"
	"taskapi_request_duration_seconds_bucket{route=\"we\\\"ird\",le=\"0.5\"} 0\n"
	"taskapi_request_duration_seconds_bucket{route=\"we\\\"ird\",le=\"1\"} 0\n"
	"taskapi_request_duration_seconds_bucket{route=\"we\\\"ird\",le=\"2.5\"} 0\n"
	"taskapi_request_duration_seconds_bucket{route=\"we\\\"ird\",le=\"5\"} 0\n"
	"taskapi_request_duration_seconds_bucket{route=\"we\\\"ird\",le=\"10\"} 0\n"
	"taskapi_request_duration_seconds_bucket{route=\"we\\\"ird\",le=\"+Inf\"} 1\n"
	"taskapi_request_duration_seconds_sum{route=\"we\\\"ird\"} 12.000000000\n"
	"taskapi_request_duration_seconds_count{route=\"we\\\"ird\"} 1\n"
	"taskapi_request_duration_seconds_bucket{route=\"other\",le=\"0.001\"} 0\n"
	"taskapi_request_duration_seconds_bucket{route=\"other\",le=\"0.0025\"} 0\n"
	"taskapi_request_duration_seconds_bucket{route=\"other\",le=\"0.005\"} 0\n"
	"taskapi_request_duration_seconds_bucket{route=\"other\",le=\"0.01\"} 0\n"
	"taskapi_request_duration_seconds_bucket{route=\"other\",le=\"0.025\"} 0\n"
	"taskapi_request_duration_seconds_bucket{route=\"other\",le=\"0.05\"} 3\n"
	"taskapi_request_duration_seconds_bucket{route=\"other\",le=\"0.1\"} 3\n"
	"taskapi_request_duration_seconds_bucket{route=\"other\",le=\"0.25\"} 3\n"
	"taskapi_request_duration_seconds_bucket{route=\"other\",le=\"0.5\"} 3\n"
	"taskapi_request_duration_seconds_bucket{route=\"other\",le=\"1\"} 3\n"
	"taskapi_request_duration_seconds_bucket{route=\"other\",le=\"2.5\"} 3\n"
	"taskapi_request_duration_seconds_bucket{route=\"other\",le=\"5\"} 3\n"
	"taskapi_request_duration_seconds_bucket{route=\"other\",le=\"10\"} 3\n"
	"taskapi_request_duration_seconds_bucket{route=\"other\",le=\"+Inf\"} 3\n"
	"taskapi_request_duration_seconds_sum{route=\"other\"} 0.090000001\n"
	"taskapi_request_duration_seconds_count{route=\"other\"} 3\n"
	"# HELP taskapi_db_pool_wait_seconds Time requests waited in db_pool_acquire for a database connection.\n"
	"# TYPE taskapi_db_pool_wait_seconds histogram\n"
	"taskapi_db_pool_wait_seconds_bucket{le=\"0.0001\"} 2\n"
	"taskapi_db_pool_wait_seconds_bucket{le=\"0.0005\"} 2\n"
	"taskapi_db_pool_wait_seconds_bucket{le=\"0.001\"} 2\n"
	"taskapi_db_pool_wait_seconds_bucket{le=\"0.005\"} 2\n"
	"taskapi_db_pool_wait_seconds_bucket{le=\"0.01\"} 3\n"
	"taskapi_db_pool_wait_seconds_bucket{le=\"0.05\"} 3\n"
	"taskapi_db_pool_wait_seconds_bucket{le=\"0.1\"} 3\n"
	"taskapi_db_pool_wait_seconds_bucket{le=\"0.5\"} 3\n"
	"taskapi_db_pool_wait_seconds_bucket{le=\"1\"} 3\n"
	"taskapi_db_pool_wait_seconds_bucket{le=\"2.5\"} 3\n"
	"taskapi_db_pool_wait_seconds_bucket{le=\"5\"} 3\n"
	"taskapi_db_pool_wait_seconds_bucket{le=\"10\"} 3\n"
	"taskapi_db_pool_wait_seconds_bucket{le=\"+Inf\"} 3\n"
	"taskapi_db_pool_wait_seconds_sum 12.345678901\n"
	"taskapi_db_pool_wait_seconds_count 3\n"
	"# HELP taskapi_slow_requests_total Requests slower than log.slow_request_ms.\n"
	"# TYPE taskapi_slow_requests_total counter\n"
	"taskapi_slow_requests_total 1\n"
	"# HELP taskapi_connections_accepted_total FastCGI connections accepted.\n"
	"# TYPE taskapi_connections_accepted_total counter\n"
	"taskapi_connections_accepted_total 9\n"
	"# HELP taskapi_intake_closed_total FastCGI connections closed without being served, by reason.\n"
	"# TYPE taskapi_intake_closed_total counter\n"
	"taskapi_intake_closed_total{reason=\"idle\"} 21\n"
	"taskapi_intake_closed_total{reason=\"slow\"} 22\n"
	"taskapi_intake_closed_total{reason=\"rejected\"} 23\n"
	"taskapi_intake_closed_total{reason=\"refused\"} 24\n"
	"taskapi_intake_closed_total{reason=\"evicted\"} 25\n"
	"# HELP taskapi_auth_refused_total Requests refused by authentication (401), scope (403) or an unavailable check (503), by reason.\n"
	"# TYPE taskapi_auth_refused_total counter\n"
	"taskapi_auth_refused_total{reason=\"missing\"} 31\n"
	"taskapi_auth_refused_total{reason=\"malformed\"} 32\n"
	"taskapi_auth_refused_total{reason=\"unknown\"} 33\n"
	"taskapi_auth_refused_total{reason=\"expired\"} 34\n"
	"taskapi_auth_refused_total{reason=\"revoked\"} 35\n"
	"taskapi_auth_refused_total{reason=\"not_yet_valid\"} 36\n"
	"taskapi_auth_refused_total{reason=\"bad_signature\"} 37\n"
	"taskapi_auth_refused_total{reason=\"bad_claims\"} 38\n"
	"taskapi_auth_refused_total{reason=\"bad_owner\"} 39\n"
	"taskapi_auth_refused_total{reason=\"insufficient_scope\"} 40\n"
	"taskapi_auth_refused_total{reason=\"unavailable\"} 41\n"
	"# HELP taskapi_idempotency_total Writes with an Idempotency-Key, by result: stored (done, answer kept), replayed, mismatch (422: the key came with another request), busy (409: its first request still ran).\n"
	"# TYPE taskapi_idempotency_total counter\n"
	"taskapi_idempotency_total{result=\"stored\"} 51\n"
	"taskapi_idempotency_total{result=\"replayed\"} 52\n"
	"taskapi_idempotency_total{result=\"mismatch\"} 53\n"
	"taskapi_idempotency_total{result=\"busy\"} 54\n"
	"# HELP taskapi_idempotency_purged_total Expired Idempotency-Key rows deleted by the purge.\n"
	"# TYPE taskapi_idempotency_purged_total counter\n"
	"taskapi_idempotency_purged_total 55\n"
	"# HELP taskapi_threads Serving threads of live workers, busy with a request or idle.\n"
	"# TYPE taskapi_threads gauge\n"
	"taskapi_threads{state=\"busy\"} 3\n"
	"taskapi_threads{state=\"idle\"} 5\n"
	"# HELP taskapi_threads_busy_max Most threads busy at once since the start.\n"
	"# TYPE taskapi_threads_busy_max gauge\n"
	"taskapi_threads_busy_max 4\n"
	"# HELP taskapi_threads_all_busy_total Times every thread of a worker was busy (PHP-FPM's max children reached).\n"
	"# TYPE taskapi_threads_all_busy_total counter\n"
	"taskapi_threads_all_busy_total 2\n"
	"# HELP taskapi_workers Worker processes alive (draining ones included).\n"
	"# TYPE taskapi_workers gauge\n"
	"taskapi_workers 2\n"
	"# HELP taskapi_worker_restarts_total Workers restarted after a crash.\n"
	"# TYPE taskapi_worker_restarts_total counter\n"
	"taskapi_worker_restarts_total 1\n"
	"# HELP taskapi_workers_started_total Worker processes started (first start, crashes, recycling, reloads).\n"
	"# TYPE taskapi_workers_started_total counter\n"
	"taskapi_workers_started_total 3\n"
	"# HELP taskapi_db_pool_connections Database connections of live workers by state.\n"
	"# TYPE taskapi_db_pool_connections gauge\n"
	"taskapi_db_pool_connections{state=\"in_use\"} 2\n"
	"taskapi_db_pool_connections{state=\"idle\"} 5\n"
	"# HELP taskapi_db_pool_size Pool capacity, all live workers.\n"
	"# TYPE taskapi_db_pool_size gauge\n"
	"taskapi_db_pool_size 10\n"
	"# HELP taskapi_db_pool_waiters Requests waiting for a database connection.\n"
	"# TYPE taskapi_db_pool_waiters gauge\n"
	"taskapi_db_pool_waiters 1\n"
	"# HELP taskapi_db_pool_acquire_timeouts_total Acquires that gave up after database.acquire_timeout_ms (answered 503).\n"
	"# TYPE taskapi_db_pool_acquire_timeouts_total counter\n"
	"taskapi_db_pool_acquire_timeouts_total 11\n"
	"# HELP taskapi_db_pool_evictions_total Connections thrown away: broken, failed validation or keepalive, returned unclean.\n"
	"# TYPE taskapi_db_pool_evictions_total counter\n"
	"taskapi_db_pool_evictions_total 12\n"
	"# HELP taskapi_db_pool_lifetime_retirements_total Connections closed at the end of database.max_lifetime_s.\n"
	"# TYPE taskapi_db_pool_lifetime_retirements_total counter\n"
	"taskapi_db_pool_lifetime_retirements_total 15\n"
	"# HELP taskapi_db_pool_connections_created_total Database connections opened.\n"
	"# TYPE taskapi_db_pool_connections_created_total counter\n"
	"taskapi_db_pool_connections_created_total 13\n"
	"# HELP taskapi_db_pool_connect_failures_total Connection attempts that failed.\n"
	"# TYPE taskapi_db_pool_connect_failures_total counter\n"
	"taskapi_db_pool_connect_failures_total 14\n"
	"# HELP taskapi_db_pool_validations_total Pings on borrow of a connection idle longer than database.validation_idle_ms.\n"
	"# TYPE taskapi_db_pool_validations_total counter\n"
	"taskapi_db_pool_validations_total 16\n"
	"# HELP taskapi_db_pool_keepalive_pings_total Pings of idle connections by the pool's housekeeper.\n"
	"# TYPE taskapi_db_pool_keepalive_pings_total counter\n"
	"taskapi_db_pool_keepalive_pings_total 17\n"
	"# HELP taskapi_db_pool_rollbacks_total Connections returned inside a transaction and rolled back.\n"
	"# TYPE taskapi_db_pool_rollbacks_total counter\n"
	"taskapi_db_pool_rollbacks_total 18\n"
	"# HELP taskapi_db_pool_statement_deadline_cuts_total Borrowed connections cut at their statement deadline (database.statement_timeout_ms + 500 ms).\n"
	"# TYPE taskapi_db_pool_statement_deadline_cuts_total counter\n"
	"taskapi_db_pool_statement_deadline_cuts_total 19\n"
	"# HELP taskapi_db_reruns_total Requests whose handler ran again after a database failure, by why.\n"
	"# TYPE taskapi_db_reruns_total counter\n"
	"taskapi_db_reruns_total{reason=\"node\"} 42\n"
	"taskapi_db_reruns_total{reason=\"deadlock\"} 43\n"
	"taskapi_db_reruns_total{reason=\"unknown_outcome\"} 44\n"
	"# HELP taskapi_db_node_up Live workers that see the database node healthy (of taskapi_workers).\n"
	"# TYPE taskapi_db_node_up gauge\n"
	"taskapi_db_node_up{node=\"127.0.0.1:3307\"} 1\n"
	"taskapi_db_node_up{node=\"db\\\"2\\\":3306\"} 0\n"
	"# HELP taskapi_db_node_writer Live workers whose writes go to the node.\n"
	"# TYPE taskapi_db_node_writer gauge\n"
	"taskapi_db_node_writer{node=\"127.0.0.1:3307\"} 1\n"
	"taskapi_db_node_writer{node=\"db\\\"2\\\":3306\"} 0\n"
	"# HELP taskapi_db_node_connections Connections to the node, all live workers, by state.\n"
	"# TYPE taskapi_db_node_connections gauge\n"
	"taskapi_db_node_connections{node=\"127.0.0.1:3307\",state=\"in_use\"} 2\n"
	"taskapi_db_node_connections{node=\"127.0.0.1:3307\",state=\"idle\"} 3\n"
	"taskapi_db_node_connections{node=\"db\\\"2\\\":3306\",state=\"in_use\"} 0\n"
	"taskapi_db_node_connections{node=\"db\\\"2\\\":3306\",state=\"idle\"} 1\n"
	"# HELP taskapi_db_node_failures_total Times a worker marked the node down (failed check, connect, lost connection, 1047).\n"
	"# TYPE taskapi_db_node_failures_total counter\n"
	"taskapi_db_node_failures_total{node=\"127.0.0.1:3307\"} 51\n"
	"taskapi_db_node_failures_total{node=\"db\\\"2\\\":3306\"} 52\n"
	"# HELP taskapi_db_node_checks_total Background health checks of the node.\n"
	"# TYPE taskapi_db_node_checks_total counter\n"
	"taskapi_db_node_checks_total{node=\"127.0.0.1:3307\"} 5300\n"
	"taskapi_db_node_checks_total{node=\"db\\\"2\\\":3306\"} 5400\n"
	"# HELP taskapi_db_node_check_failures_total Health checks the node failed (down, or not Synced/ready/Primary on Galera).\n"
	"# TYPE taskapi_db_node_check_failures_total counter\n"
	"taskapi_db_node_check_failures_total{node=\"127.0.0.1:3307\"} 55\n"
	"taskapi_db_node_check_failures_total{node=\"db\\\"2\\\":3306\"} 56\n"
	"# HELP taskapi_listen_queue Connections waiting in the FastCGI socket's accept queue.\n"
	"# TYPE taskapi_listen_queue gauge\n"
	"taskapi_listen_queue 3\n"
	"# HELP taskapi_listen_queue_max Longest accept queue sampled since the start.\n"
	"# TYPE taskapi_listen_queue_max gauge\n"
	"taskapi_listen_queue_max 7\n"
	"# HELP taskapi_listen_queue_length Limit of the accept queue (backlog).\n"
	"# TYPE taskapi_listen_queue_length gauge\n"
	"taskapi_listen_queue_length 511\n"
	"# HELP taskapi_start_time_seconds When the master started, unix time.\n"
	"# TYPE taskapi_start_time_seconds gauge\n"
	"taskapi_start_time_seconds 1700000000.123\n"
	"# HELP taskapi_uptime_seconds Seconds since the master started.\n"
	"# TYPE taskapi_uptime_seconds gauge\n"
	"taskapi_uptime_seconds 3600\n"
	"# HELP taskapi_build_info The running version.\n"
	"# TYPE taskapi_build_info gauge\n"
	"taskapi_build_info{version=\"" PACKAGE_VERSION "\"} 1\n"
;

static const char status_full[] =
	"{\"pool\":\"taskapi\",\"listen\":\"\",\"process_manager\":\"static\",\"version\":\"" PACKAGE_VERSION "\","
	"\"start_time\":1700000000,\"uptime_seconds\":3600,\"accepted_conn\":9,\"requests\":11,"
	"\"slow_requests\":1,\"intake_closed\":{\"idle\":21,\"slow\":22,\"rejected\":23,\"refused\":24,\"evicted\":25},"
	"\"auth_refused\":{\"missing\":31,\"malformed\":32,\"unknown\":33,\"expired\":34,\"revoked\":35,\"not_yet_valid\":36,\"bad_signature\":37,\"bad_claims\":38,\"bad_owner\":39,\"insufficient_scope\":40,\"unavailable\":41},"
	"\"idempotency\":{\"stored\":51,\"replayed\":52,\"mismatch\":53,\"busy\":54,\"purged\":55},"
	"\"listen_queue\":3,\"max_listen_queue\":7,\"listen_queue_len\":511,"
	"\"idle_threads\":5,\"active_threads\":3,\"total_threads\":8,\"max_active_threads\":4,"
	"\"max_threads_reached\":2,\"workers\":2,\"worker_restarts\":1,\"workers_started\":3,\"db_pool\":{"
	"\"size\":10,\"in_use\":2,\"idle\":5,\"waiters\":1,\"acquire_timeouts\":11,\"evictions\":12,"
	"\"lifetime_retirements\":15,\"connections_created\":13,\"connect_failures\":14,"
	"\"validations\":16,\"keepalive_pings\":17,\"rollbacks\":18,\"statement_deadline_cuts\":19},"
	"\"db_reruns\":{\"node\":42,\"deadlock\":43,\"unknown_outcome\":44},"
	"\"db_nodes\":[{\"node\":\"127.0.0.1:3307\",\"workers_up\":1,\"workers_writing\":1,\"in_use\":2,\"idle\":3,"
	"\"failures\":51,\"checks\":5300,\"check_failures\":55},{\"node\":\"db\\\"2\\\":3306\",\"workers_up\":0,"
	"\"workers_writing\":0,\"in_use\":0,\"idle\":1,\"failures\":52,\"checks\":5400,\"check_failures\":56}],\"processes\":[{\"pid\":101,"
	"\"state\":\"running\",\"generation\":1,\"start_time\":1700000001,\"uptime_seconds\":3599,"
	"\"requests\":7,\"accepted_conn\":5,\"active_threads\":2,\"idle_threads\":2,\"total_threads\":4,"
	"\"db_pool\":{\"size\":5,\"in_use\":1,\"idle\":3,\"waiters\":0}},{\"pid\":102,\"state\":\"leaving\","
	"\"generation\":2,\"start_time\":1700003000,\"uptime_seconds\":600,\"requests\":4,"
	"\"accepted_conn\":4,\"active_threads\":1,\"idle_threads\":3,\"total_threads\":4,\"db_pool\":{"
	"\"size\":5,\"in_use\":1,\"idle\":2,\"waiters\":1}}]}\n"
;

static const char status_short[] =
	"{\"pool\":\"taskapi\",\"listen\":\"\",\"process_manager\":\"static\",\"version\":\"" PACKAGE_VERSION "\","
	"\"start_time\":1700000000,\"uptime_seconds\":3600,\"accepted_conn\":9,\"requests\":11,"
	"\"slow_requests\":1,\"intake_closed\":{\"idle\":21,\"slow\":22,\"rejected\":23,\"refused\":24,\"evicted\":25},"
	"\"auth_refused\":{\"missing\":31,\"malformed\":32,\"unknown\":33,\"expired\":34,\"revoked\":35,\"not_yet_valid\":36,\"bad_signature\":37,\"bad_claims\":38,\"bad_owner\":39,\"insufficient_scope\":40,\"unavailable\":41},"
	"\"idempotency\":{\"stored\":51,\"replayed\":52,\"mismatch\":53,\"busy\":54,\"purged\":55},"
	"\"listen_queue\":null,\"max_listen_queue\":null,\"listen_queue_len\":null,"
	"\"idle_threads\":5,\"active_threads\":3,\"total_threads\":8,\"max_active_threads\":4,"
	"\"max_threads_reached\":2,\"workers\":2,\"worker_restarts\":1,\"workers_started\":3,\"db_pool\":{"
	"\"size\":10,\"in_use\":2,\"idle\":5,\"waiters\":1,\"acquire_timeouts\":11,\"evictions\":12,"
	"\"lifetime_retirements\":15,\"connections_created\":13,\"connect_failures\":14,"
	"\"validations\":16,\"keepalive_pings\":17,\"rollbacks\":18,\"statement_deadline_cuts\":19},"
	"\"db_reruns\":{\"node\":42,\"deadlock\":43,\"unknown_outcome\":44},"
	"\"db_nodes\":[{\"node\":\"127.0.0.1:3307\",\"workers_up\":1,\"workers_writing\":1,\"in_use\":2,\"idle\":3,"
	"\"failures\":51,\"checks\":5300,\"check_failures\":55},{\"node\":\"db\\\"2\\\":3306\",\"workers_up\":0,"
	"\"workers_writing\":0,\"in_use\":0,\"idle\":1,\"failures\":52,\"checks\":5400,\"check_failures\":56}]}\n"
;

START_TEST(test_prometheus_golden)
{
	struct metrics_snapshot *s = fixture();
	struct metrics_listen listen = { true, 3, 511 };
	struct buf out = BUF_INIT;

	metrics_render_prometheus(s, &listen, &out);
	expect_text(prometheus_text, &out);
	done(s, &out);
}
END_TEST

START_TEST(test_status_golden)
{
	struct metrics_snapshot *s = fixture();
	struct metrics_listen listen = { true, 3, 511 };
	struct metrics_listen unknown = { false, 0, 0 };
	struct buf out = BUF_INIT;

	metrics_render_status(s, &listen, NULL, true, &out);
	expect_text(status_full, &out);
	buf_reset(&out);
	metrics_render_status(s, &unknown, NULL, false, &out);
	expect_text(status_short, &out);
	done(s, &out);
}
END_TEST

/* The routes a metrics_setup allows: quotes, backslashes and newlines escaped in labels. */
START_TEST(test_prometheus_labels_and_no_listen_queue)
{
	static const char *const odd[] = { "back\\slash", "new\nline" };
	struct metrics_snapshot *s = calloc(1, sizeof *s);
	struct buf out = BUF_INIT;
	char err[128];

	ck_assert_ptr_nonnull(s);
	metrics_free();
	ck_assert_int_eq(metrics_setup(odd, 2, err, sizeof err), 0);
	s->total.requests[0][C_200] = 1;
	s->total.requests[1][C_200] = 2;
	s->start_ms = 1000;
	s->taken_ms = 62999;
	metrics_render_prometheus(s, NULL, &out);
	ck_assert_ptr_nonnull(strstr(out.data, "\ntaskapi_requests_total{route=\"back\\\\slash\",code=\"200\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(out.data, "\ntaskapi_requests_total{route=\"new\\nline\",code=\"200\"} 2\n"));
	ck_assert_ptr_null(strstr(out.data, "taskapi_listen_queue")); /* not known: not shown */
	ck_assert_ptr_nonnull(strstr(out.data, "\ntaskapi_start_time_seconds 1.000\n"));
	ck_assert_ptr_nonnull(strstr(out.data, "\ntaskapi_uptime_seconds 61\n"));
	/* Nothing counted: an empty wait histogram, no duration series. */
	ck_assert_ptr_nonnull(strstr(out.data, "\ntaskapi_db_pool_wait_seconds_sum 0.000000000\n"));
	ck_assert_ptr_null(strstr(out.data, "taskapi_request_duration_seconds_bucket"));
	done(s, &out);
}
END_TEST

START_TEST(test_status_listen_name)
{
	struct metrics_snapshot *s = fixture();
	struct metrics_listen unknown = { false, 0, 0 };
	struct buf out = BUF_INIT;

	metrics_render_status(s, &unknown, "/run/taskapi/\"fcgi\".sock", false, &out);
	ck_assert_ptr_nonnull(strstr(out.data, "{\"pool\":\"taskapi\",\"listen\":\"/run/taskapi/\\\"fcgi\\\".sock\","));
	ck_assert_ptr_null(strstr(out.data, "\"processes\""));
	ck_assert_int_eq(out.data[out.len - 1], '\n');
	done(s, &out);
}
END_TEST

/* Lines (or pieces) of the texts test_rendered_from_the_board makes; NULL ends each list. */
static const char *const prometheus_wanted[] = {
	"# TYPE taskapi_requests_total counter\n",
	"\ntaskapi_requests_total{route=\"r.a\",code=\"200\"} 1\n",
	"\ntaskapi_requests_total{route=\"r.a\",code=\"201\"} 1\n",
	"\ntaskapi_requests_total{route=\"we\\\"ird\",code=\"500\"} 1\n",
	/* Cumulative: 3 ms is in le=0.005 and above, 30 ms from le=0.05 on. */
	"bucket{route=\"r.a\",le=\"0.0025\"} 0\n",
	"bucket{route=\"r.a\",le=\"0.005\"} 1\n",
	"bucket{route=\"r.a\",le=\"0.025\"} 1\n",
	"bucket{route=\"r.a\",le=\"0.05\"} 2\n",
	"bucket{route=\"r.a\",le=\"+Inf\"} 2\n",
	"\ntaskapi_request_duration_seconds_sum{route=\"r.a\"} 0.033000000\n",
	"\ntaskapi_request_duration_seconds_count{route=\"r.a\"} 2\n",
	"\ntaskapi_db_pool_wait_seconds_count 2\n",
	"\ntaskapi_listen_queue 3\n",
	"\ntaskapi_listen_queue_max 7\n",
	"\ntaskapi_listen_queue_length 511\n",
	"\ntaskapi_threads{state=\"idle\"} 3\n",
	"\ntaskapi_worker_restarts_total 0\n",
	NULL,
};
static const char *const status_wanted[] = {
	"\"listen_queue\":null", "\"active_threads\":1,", "\"idle_threads\":3,", "\"requests\":3,",
	"\"processes\":[{\"pid\":", NULL,
};

/* Each wanted piece occurs in out, and out ends with a newline. */
static void expect_lines(const struct buf *out, const char *const *wanted)
{
	for (; *wanted != NULL; wanted++)
		ck_assert_msg(strstr(out->data, *wanted) != NULL, "missing: %s", *wanted);
	ck_assert_int_eq(out->data[out->len - 1], '\n');
}

/* Counted by the board as a worker counts, then rendered: both texts agree with the counts. */
START_TEST(test_rendered_from_the_board)
{
	struct metrics_snapshot *s = malloc(sizeof *s);
	struct metrics_listen listen = { true, 3, 511 };
	struct metrics_listen unknown = { false, 0, 0 };
	struct buf out = BUF_INIT;
	char err[128];

	ck_assert_ptr_nonnull(s);
	metrics_free();
	ck_assert_int_eq(metrics_setup(routes, 3, err, sizeof err), 0);
	metrics_attach_self(4);
	metrics_request("r.a", 200, 3000000, 1, 0, false);
	metrics_request("r.a", 201, 30000000, 1, 0, false);
	metrics_request("we\"ird", 500, 1000000, 0, 0, false);
	metrics_note_listen_queue(7);
	metrics_busy_begin();
	ck_assert(metrics_snapshot_take(s));
	metrics_render_prometheus(s, &listen, &out);
	expect_lines(&out, prometheus_wanted);
	ck_assert_ptr_null(strstr(out.data, "route=\"r.b\"")); /* nothing counted, nothing shown */
	buf_reset(&out);
	metrics_render_status(s, &unknown, NULL, true, &out);
	expect_lines(&out, status_wanted);
	metrics_busy_end();
	done(s, &out);
}
END_TEST

Suite *unit_suite(void)
{
	return unit_suite_of("metrics_render", NULL, NULL, test_prometheus_golden,
			     test_status_golden,
			     test_prometheus_labels_and_no_listen_queue,
			     test_status_listen_name, test_rendered_from_the_board);
}
