/*
 * Unit tests for metrics.c (shared counters, slots, snapshots), and the
 * pieces of trace.c and log.c that the request log lines are made of.
 */
#include <check.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "db_env.h"
#include "metrics.h"
#include "trace.h"
#include "unit.h"

#define MS 1000000LL

static const char *const routes[] = { "r.a", "r.b", "we\"ird" };

static void setup(void)
{
	char err[128];

	metrics_free();
	ck_assert_int_eq(metrics_setup(routes, 3, err, sizeof err), 0);
}

static void teardown(void)
{
	metrics_free();
}

static size_t route_index(const char *name)
{
	for (size_t i = 0; i < metrics_n_routes(); i++)
		if (strcmp(metrics_route_name(i), name) == 0)
			return i;
	ck_abort_msg("no route %s", name);
	return 0;
}

static size_t code_index(const char *label)
{
	for (size_t i = 0; i < METRICS_N_CODES; i++)
		if (strcmp(metrics_code_label(i), label) == 0)
			return i;
	ck_abort_msg("no code %s", label);
	return 0;
}

static struct metrics_snapshot *snapshot(void)
{
	struct metrics_snapshot *s = malloc(sizeof *s);

	ck_assert_ptr_nonnull(s);
	ck_assert(metrics_snapshot_take(s));
	return s;
}

/* A worker slot attached to this process, as the master and the worker do it. */
static int start_worker(int threads)
{
	int slot = metrics_slot_claim(1, threads);

	ck_assert_int_ge(slot, 0);
	metrics_slot_started(slot, getpid());
	metrics_slot_attach(slot);
	return slot;
}

START_TEST(test_counts_by_route_and_status)
{
	struct metrics_snapshot *s;
	size_t a, b, other;

	setup();
	a = route_index("r.a");
	b = route_index("r.b");
	other = route_index("other");
	start_worker(4);
	metrics_request("r.a", 200, 1 * MS, 1, 50000, false);
	metrics_request("r.a", 200, 1 * MS + 1, 1, 2 * MS, false);
	metrics_request(routes[1], 404, 20 * MS, 0, 0, false);
	metrics_request("not a route", 299, 5000 * MS, 0, 0, true);
	metrics_request("r.b", 999, 11000 * MS, 0, 0, true);
	s = snapshot();
	ck_assert_uint_eq(s->total.requests[a][code_index("200")], 2);
	ck_assert_uint_eq(s->total.requests[b][code_index("404")], 1);
	ck_assert_uint_eq(s->total.requests[other][code_index("other")], 1);
	ck_assert_uint_eq(s->total.requests[b][code_index("other")], 1);
	ck_assert_uint_eq(metrics_requests_sum(&s->total), 5);
	/* Buckets are upper-inclusive: exactly 1 ms is in le=0.001, 1 ms + 1 ns is not. */
	ck_assert_uint_eq(s->total.latency[a][0], 1);
	ck_assert_uint_eq(s->total.latency[a][1], 1);
	ck_assert_uint_eq(s->total.latency_sum_ns[a], (uint64_t)(2 * MS + 1));
	ck_assert_uint_eq(s->total.latency[b][4], 1);                     /* 20 ms: le=0.025 */
	ck_assert_uint_eq(s->total.latency[b][METRICS_N_BUCKETS - 1], 1); /* 11 s: +Inf */
	ck_assert_uint_eq(s->total.latency[other][11], 1);                /* 5 s: le=5 */
	/* Pool wait only for requests that borrowed a connection. */
	ck_assert_uint_eq(s->total.wait[0], 1); /* 50 us: le=0.0001 */
	ck_assert_uint_eq(s->total.wait[3], 1); /* 2 ms: le=0.005 */
	ck_assert_uint_eq(s->total.wait_sum_ns, 50000 + 2 * MS);
	ck_assert_uint_eq(s->total.slow, 2);
	ck_assert_uint_eq(s->n_workers, 1);
	ck_assert_int_eq(s->workers[0].pid, getpid());
	ck_assert_uint_eq(s->workers[0].requests, 5);
	free(s);
	teardown();
}
END_TEST

START_TEST(test_retired_worker_keeps_its_counts)
{
	struct metrics_snapshot *s;
	size_t a, ok = code_index("200");
	int slot;

	setup();
	a = route_index("r.a");
	slot = start_worker(2);
	for (int i = 0; i < 3; i++)
		metrics_request("r.a", 200, MS, 0, 0, false);
	metrics_connection_accepted();
	metrics_connection_accepted();
	metrics_busy_begin(); /* dies in the middle of a request */
	s = snapshot();
	ck_assert_int_eq(s->busy, 1);
	ck_assert_int_eq(s->threads, 2);
	free(s);

	metrics_slot_retire(slot);
	metrics_worker_restarted();
	s = snapshot();
	ck_assert_uint_eq(s->n_workers, 0);
	ck_assert_int_eq(s->busy, 0);
	ck_assert_int_eq(s->threads, 0);
	ck_assert_uint_eq(s->total.requests[a][ok], 3);
	ck_assert_uint_eq(s->total.connections, 2);
	ck_assert_uint_eq(s->restarts, 1);
	free(s);

	/* The replacement starts from zero in its slot; the totals go on. */
	start_worker(2);
	metrics_request("r.a", 200, MS, 0, 0, false);
	s = snapshot();
	ck_assert_uint_eq(s->n_workers, 1);
	ck_assert_uint_eq(s->workers[0].requests, 1);
	ck_assert_uint_eq(s->workers[0].connections, 0);
	ck_assert_uint_eq(s->total.requests[a][ok], 4);
	ck_assert_uint_eq(s->total.connections, 2);
	ck_assert_uint_eq(s->workers_started, 2);
	free(s);
	teardown();
}
END_TEST

/* Busy threads now, the most at once, and how often all of a worker's were busy. */
static void expect_busy(int busy, int max_active, uint64_t all_busy)
{
	struct metrics_snapshot *s = snapshot();

	ck_assert_int_eq(s->busy, busy);
	ck_assert_int_eq(s->max_active, max_active);
	ck_assert_uint_eq(s->total.all_busy, all_busy);
	free(s);
}

START_TEST(test_busy_threads_and_maximum)
{
	setup();
	start_worker(3);
	for (int i = 0; i < 3; i++)
		metrics_busy_begin();
	expect_busy(3, 3, 1);
	for (int i = 0; i < 3; i++)
		metrics_busy_end();
	metrics_busy_begin();
	metrics_busy_end();
	expect_busy(0, 3, 1); /* the maximum and the all-busy count stay */
	teardown();
}
END_TEST

START_TEST(test_leaving_and_unclaimed_slots)
{
	struct metrics_snapshot *s;
	int a, b;

	setup();
	a = metrics_slot_claim(1, 2);
	b = metrics_slot_claim(1, 2);
	ck_assert_int_ne(a, b);
	metrics_slot_started(a, 100);
	metrics_slot_leaving(a);
	metrics_slot_unclaim(b); /* its fork failed */
	s = snapshot();
	ck_assert_uint_eq(s->n_workers, 1);
	ck_assert(s->workers[0].leaving);
	ck_assert_int_eq(s->workers[0].pid, 100);
	ck_assert_uint_eq(s->workers_started, 1);
	free(s);
	teardown();
}
END_TEST

START_TEST(test_idle_threads_and_attach_self)
{
	struct metrics_snapshot *s;

	setup();
	ck_assert_int_eq(metrics_idle_threads(), -1); /* no slot in this process yet */
	metrics_attach_self(3);
	ck_assert_int_eq(metrics_idle_threads(), 3);
	metrics_busy_begin();
	ck_assert_int_eq(metrics_idle_threads(), 2);
	metrics_worker_restarted();
	s = snapshot();
	ck_assert_uint_eq(s->n_workers, 1);
	ck_assert_int_eq(s->workers[0].pid, getpid());
	ck_assert_uint_eq(s->workers[0].generation, 1);
	ck_assert_uint_eq(s->workers_started, 1);
	ck_assert_uint_eq(s->restarts, 1);
	ck_assert_int_ge(s->taken_ms, s->start_ms);
	ck_assert_int_ge(s->taken_ms, s->workers[0].started_ms);
	free(s);
	metrics_busy_end();
	ck_assert_int_eq(metrics_idle_threads(), 3);
	teardown();
}
END_TEST

static size_t pool_row(const char *name)
{
	for (size_t i = 0; i < METRICS_N_POOL_COUNTERS; i++)
		if (strcmp(metrics_pool_counters[i].name, name) == 0)
			return i;
	ck_abort_msg("no pool counter %s", name);
	return 0;
}

START_TEST(test_pool_counter_table)
{
	/* Every row names a distinct unsigned long long of struct db_pool_stats. */
	for (size_t i = 0; i < METRICS_N_POOL_COUNTERS; i++) {
		const struct metrics_pool_counter *row = &metrics_pool_counters[i];

		ck_assert_ptr_nonnull(row->help);
		ck_assert_uint_ge(row->stats_offset, offsetof(struct db_pool_stats, timeouts));
		ck_assert_uint_le(row->stats_offset + sizeof(unsigned long long), sizeof(struct db_pool_stats));
		for (size_t j = 0; j < i; j++) {
			ck_assert_uint_ne(row->stats_offset, metrics_pool_counters[j].stats_offset);
			ck_assert_str_ne(row->name, metrics_pool_counters[j].name);
		}
	}
	ck_assert_uint_eq(metrics_pool_counters[pool_row("evictions")].stats_offset,
			  offsetof(struct db_pool_stats, discarded));
	ck_assert_str_eq(metrics_latency_le[METRICS_N_BUCKETS - 1], "+Inf");
	ck_assert_str_eq(metrics_wait_le[METRICS_N_WAIT_BUCKETS - 1], "+Inf");
}
END_TEST

START_TEST(test_publish_pool)
{
	static const struct db_options nowhere = {
		.socket = "/nonexistent/taskapi-test.sock", .user = "nobody", .database = "none",
		.connect_timeout_s = 1, .read_timeout_s = 1, .write_timeout_s = 1,
	};
	struct db_pool_options popt;
	struct db_cluster *db;
	struct db_lease lease;
	struct metrics_snapshot *s;
	char err[512];

	setup();
	metrics_publish_db(NULL); /* no slot, no pool: nothing */
	start_worker(2);
	db_pool_options_init(&popt, 2);
	db = db_env_single(&nowhere, &popt);
	ck_assert_int_eq(db_cluster_acquire_at_start(db, DB_READ, &lease, err, sizeof err), DB_CONNECT_FAILED);
	metrics_publish_db(db);
	s = snapshot();
	ck_assert_uint_eq(s->pool_size, 2);
	ck_assert_uint_eq(s->pool_in_use, 0);
	ck_assert_uint_eq(s->total.pool[pool_row("connect_failures")], 1);
	ck_assert_uint_eq(s->total.pool[pool_row("connections_created")], 0);
	ck_assert_uint_eq(s->workers[0].pool_size, 2);
	free(s);
	db_cluster_free(db);
	teardown();
}
END_TEST

START_TEST(test_without_setup_nothing_happens)
{
	struct metrics_snapshot s;

	metrics_free();
	metrics_request("r.a", 200, MS, 0, 0, false);
	metrics_busy_begin();
	metrics_busy_end();
	metrics_connection_accepted();
	ck_assert_int_eq(metrics_slot_claim(1, 1), -1);
	ck_assert(!metrics_snapshot_take(&s));
}
END_TEST

START_TEST(test_sql_parameters)
{
	long long id = -42;
	unsigned long long big = 18446744073709551615ULL;
	signed char flag = 1;
	unsigned version = 7;
	my_bool is_null = 1, not_null = 0;
	const char *text = "it's a \\ test\n";
	unsigned long text_len = strlen(text);
	MYSQL_TIME t = { 2026, 11, 25, 12, 3, 4, 0, 0, MYSQL_TIMESTAMP_DATETIME };
	MYSQL_BIND b[6];
	char out[256];

	memset(b, 0, sizeof b);
	b[0].buffer_type = MYSQL_TYPE_LONGLONG;
	b[0].buffer = &id;
	b[1].buffer_type = MYSQL_TYPE_LONGLONG;
	b[1].buffer = &big;
	b[1].is_unsigned = 1;
	b[2].buffer_type = MYSQL_TYPE_TINY;
	b[2].buffer = &flag;
	b[3].buffer_type = MYSQL_TYPE_STRING;
	memcpy(&b[3].buffer, &text, sizeof text);
	b[3].length = &text_len;
	b[3].is_null = &not_null;
	b[4].buffer_type = MYSQL_TYPE_STRING;
	memcpy(&b[4].buffer, &text, sizeof text);
	b[4].is_null = &is_null;
	b[5].buffer_type = MYSQL_TYPE_DATETIME;
	b[5].buffer = &t;
	trace_format_params(b, 6, out, sizeof out);
	ck_assert_str_eq(out, "(-42, 18446744073709551615, 1, 'it\\'s a \\\\ test\\x0a', NULL, 2026-11-25 12:03:04)");
	b[0].buffer_type = MYSQL_TYPE_LONG;
	b[0].buffer = &version;
	b[0].is_unsigned = 1;
	trace_format_params(b, 1, out, sizeof out);
	ck_assert_str_eq(out, "(7)");
	trace_format_params(NULL, 0, out, sizeof out);
	ck_assert_str_eq(out, "()");
	/* A small buffer is cut, never overrun. */
	trace_format_params(b, 1, out, 3);
	ck_assert_str_eq(out, "(7");
}
END_TEST

START_TEST(test_trace_and_request_ids)
{
	char first[33];
	const struct trace *t;

	trace_begin(NULL);
	t = trace_current();
	ck_assert_uint_eq(strlen(t->request_id), 32);
	ck_assert_uint_eq(strspn(t->request_id, "0123456789abcdef"), 32);
	memcpy(first, t->request_id, sizeof first);
	trace_begin("");
	ck_assert_str_ne(trace_current()->request_id, first);
	trace_begin("abc");
	ck_assert_str_eq(trace_current()->request_id, "abc");
	trace_pool_wait(5);
	trace_pool_wait(-1); /* a clock that went backwards counts as 0 */
	for (int i = 0; i < TRACE_MAX_STMTS + 2; i++)
		trace_sql("get", "SELECT 1", NULL, 0);
	trace_rows(3);
	t = trace_current();
	ck_assert_int_eq(t->pool_wait_ns, 5);
	ck_assert_uint_eq(t->acquires, 2);
	ck_assert_uint_eq(t->n_stmts, TRACE_MAX_STMTS + 2);
	ck_assert_str_eq(t->stmts[TRACE_MAX_STMTS - 1], "get");
	ck_assert_uint_eq(t->rows, 3);
	trace_begin("next");
	ck_assert_uint_eq(trace_current()->n_stmts, 0);
	ck_assert_int_eq(trace_current()->pool_wait_ns, 0);
}
END_TEST

/* Reads the whole file into out (NUL-terminated). */
static void slurp(const char *path, char *out, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	ck_assert_ptr_nonnull(f);
	n = fread(out, 1, len - 1, f);
	out[n] = '\0';
	fclose(f);
}

START_TEST(test_access_and_slow_lines)
{
	char dir[] = "/tmp/taskapi-test-log-XXXXXX";
	char access[64], slow[64], text[2048], err[256];
	const char *stmts[] = { "update", "get" };
	struct log_files files = { NULL, access, slow };
	struct log_access_entry e = {
		"0123456789abcdef0123456789abcdef", "GET", "/tasks/?q=\"x\"\n y", 200, 15, 1500000, 250400,
		"tasks.list", "alice", "7", stmts, 3, 2, 4,
	};
	struct buf line = BUF_INIT;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(access, sizeof access, "%s/access.log", dir);
	snprintf(slow, sizeof slow, "%s/slow.log", dir);
	ck_assert_int_eq(log_open_files(&files, err, sizeof err), 0);
	log_set_access_format(LOG_FORMAT_TEXT);
	log_access(&e, &line);
	log_set_access_format(LOG_FORMAT_JSON);
	log_access(&e, &line);
	log_slow(&e, &line);
	slurp(access, text, sizeof text);
	/* Text: a URI with a space and a newline stays one line and one field. */
	ck_assert_ptr_nonnull(strstr(text, " access: 0123456789abcdef0123456789abcdef GET "
					   "/tasks/?q=\\\"x\\\"\\u000a+y 200 15 1.500ms wait=0.250ms tasks.list owner=alice cred=7\n"));
	ck_assert_ptr_nonnull(strstr(text, ",\"uri\":\"/tasks/?q=\\\"x\\\"\\u000a y\",\"status\":200,\"bytes\":15,"
					   "\"duration_ms\":1.500,\"pool_wait_ms\":0.250,\"route\":\"tasks.list\",\"owner\":\"alice\",\"credential\":\"7\"}\n"));
	slurp(slow, text, sizeof text);
	ck_assert_ptr_nonnull(strstr(text, " slow: 0123456789abcdef0123456789abcdef GET "));
	ck_assert_ptr_nonnull(strstr(text, " 200 1.500ms wait=0.250ms route=tasks.list sql=update,get,+1 rows=4\n"));
	/* Reopen after a rename: new lines go to a new file at the path. */
	{
		char moved[80];

		snprintf(moved, sizeof moved, "%s.1", access);
		ck_assert_int_eq(rename(access, moved), 0);
		ck_assert_int_eq(log_reopen(err, sizeof err), 0);
		log_access(&e, &line);
		slurp(access, text, sizeof text);
		ck_assert_ptr_nonnull(strstr(text, "\"route\":\"tasks.list\",\"owner\":\"alice\",\"credential\":\"7\"}\n"));
		ck_assert_ptr_null(strstr(text, " access: "));
		unlink(moved);
	}
	files.access_log = NULL;
	files.slow_log = NULL;
	ck_assert_int_eq(log_open_files(&files, err, sizeof err), 0);
	files.access_log = "/nonexistent-dir/x.log";
	ck_assert_int_eq(log_open_files(&files, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent-dir/x.log"));
	log_set_access_format(LOG_FORMAT_TEXT);
	unlink(access);
	unlink(slow);
	rmdir(dir);
	buf_release(&line);
}
END_TEST

static Suite *metrics_suite(void)
{
	return unit_suite_of("metrics", NULL, NULL, test_counts_by_route_and_status,
			     test_retired_worker_keeps_its_counts,
			     test_busy_threads_and_maximum,
			     test_leaving_and_unclaimed_slots,
			     test_idle_threads_and_attach_self, test_pool_counter_table,
			     test_publish_pool, test_without_setup_nothing_happens,
			     test_sql_parameters, test_trace_and_request_ids,
			     test_access_and_slow_lines);
}

Suite *unit_suite(void)
{
	return metrics_suite();
}
