/*
 * bench/dbalone.c — the database ceiling of script/bench: MariaDB answering taskapi's
 * own statements with nothing in front of it. N threads, each with its own connection
 * (as taskapi's pool has one per thread), each looping on the statements of one case
 * for a fixed time, as prepared statements over the binary protocol, every row fetched:
 *
 *   list   SELECT ... WHERE id > 0 ORDER BY id LIMIT 10 OFFSET <random 0..SKIP_MAX>
 *   get    SELECT ... WHERE id = <random 1..ROWS>
 *   post   INSERT INTO tasks ... (autocommit: one durable commit each)
 *   patch  UPDATE ... WHERE id = <random 1..ROWS>, then SELECT ... WHERE id = that
 *
 * The SQL is fcgi_app/task_store.c's, copied: keep it in step. No HTTP, no FastCGI, no
 * JSON: what taskapi and nginx add per request is what a case costs beyond this.
 *
 *   dbalone SOCKET USER PASSWORD_FILE DATABASE CASE THREADS SECONDS [ROWS] [SKIP_MAX]
 *
 * Prints the BENCH and QUANTILES lines of bench/wrk/common.lua (requests, duration in
 * us, errors in the "read" slot, latency p50/p99/max in us; then 1000 latencies at
 * percentiles 0.05, 0.15, ... 99.95), so script/bench reads it like a wrk run.
 * Built by script/bench with plain cc; not part of Makefile.am.
 */
#include <mysql.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_THREADS 256
#define COLUMNS "id, title, description, is_completed, version, created_at, updated_at"

static const char *const sql_list =
	"SELECT " COLUMNS " FROM tasks WHERE id > ? ORDER BY id LIMIT ? OFFSET ?";
static const char *const sql_get = "SELECT " COLUMNS " FROM tasks WHERE id = ?";
static const char *const sql_insert =
	"INSERT INTO tasks (title, description, is_completed, version, created_at, updated_at) "
	"VALUES (?, ?, ?, 1, ?, ?)";
static const char *const sql_update =
	"UPDATE tasks SET title = IF(?, ?, title), description = IF(?, ?, description), "
	"is_completed = IF(?, ?, is_completed), version = version + 1, updated_at = ? "
	"WHERE id = ? AND version = IF(?, ?, version)";

enum bench_case { CASE_LIST, CASE_GET, CASE_POST, CASE_PATCH };

struct settings {
	const char *socket, *user, *database;
	char password[256];
	enum bench_case which;
	int seconds;
	unsigned long long rows, skip_max;
};

struct worker {
	pthread_t thread;
	const struct settings *set;
	unsigned seed;
	unsigned long long requests, errors;
	uint32_t *lat_us; /* one per request, grown as needed */
	size_t n_lat, cap_lat;
};

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static unsigned long long pick(struct worker *w, unsigned long long lo, unsigned long long hi)
{
	return lo + (unsigned long long)rand_r(&w->seed) % (hi - lo + 1);
}

static int record(struct worker *w, long long us)
{
	if (w->n_lat == w->cap_lat) {
		size_t cap = w->cap_lat ? w->cap_lat * 2 : 65536;
		uint32_t *p = realloc(w->lat_us, cap * sizeof *p);

		if (p == NULL)
			return -1;
		w->lat_us = p, w->cap_lat = cap;
	}
	w->lat_us[w->n_lat++] = (uint32_t)(us > 0 ? us : 0);
	return 0;
}

/* Runs a prepared SELECT of tasks and fetches every row into one reused buffer. */
static int run_select(MYSQL_STMT *stmt, MYSQL_BIND *params)
{
	static __thread char title[256], description[1024];
	static __thread unsigned long long id;
	static __thread unsigned version;
	static __thread signed char completed;
	static __thread MYSQL_TIME created, updated;
	static __thread unsigned long title_len, description_len;
	static __thread my_bool description_null;
	MYSQL_BIND out[7];
	int rc;

	memset(out, 0, sizeof out);
	out[0].buffer_type = MYSQL_TYPE_LONGLONG, out[0].buffer = &id, out[0].is_unsigned = 1;
	out[1].buffer_type = MYSQL_TYPE_STRING, out[1].buffer = title;
	out[1].buffer_length = sizeof title, out[1].length = &title_len;
	out[2].buffer_type = MYSQL_TYPE_STRING, out[2].buffer = description;
	out[2].buffer_length = sizeof description, out[2].length = &description_len;
	out[2].is_null = &description_null;
	out[3].buffer_type = MYSQL_TYPE_TINY, out[3].buffer = &completed;
	out[4].buffer_type = MYSQL_TYPE_LONG, out[4].buffer = &version, out[4].is_unsigned = 1;
	out[5].buffer_type = MYSQL_TYPE_DATETIME, out[5].buffer = &created;
	out[6].buffer_type = MYSQL_TYPE_DATETIME, out[6].buffer = &updated;
	if (mysql_stmt_bind_param(stmt, params) != 0 || mysql_stmt_execute(stmt) != 0 ||
	    mysql_stmt_bind_result(stmt, out) != 0)
		return -1;
	while ((rc = mysql_stmt_fetch(stmt)) == 0)
		;
	mysql_stmt_free_result(stmt);
	return rc == MYSQL_NO_DATA ? 0 : -1;
}

static void bind_u64(MYSQL_BIND *b, unsigned long long *v)
{
	b->buffer_type = MYSQL_TYPE_LONGLONG, b->buffer = v, b->is_unsigned = 1;
}

static void bind_tiny(MYSQL_BIND *b, signed char *v)
{
	b->buffer_type = MYSQL_TYPE_TINY, b->buffer = v;
}

static void bind_text(MYSQL_BIND *b, char *s, unsigned long *len)
{
	b->buffer_type = MYSQL_TYPE_STRING, b->buffer = s, b->buffer_length = *len, b->length = len;
}

static void bind_now(MYSQL_BIND *b, MYSQL_TIME *t)
{
	time_t secs = time(NULL);
	struct tm tm;

	gmtime_r(&secs, &tm);
	memset(t, 0, sizeof *t);
	t->year = (unsigned)tm.tm_year + 1900, t->month = (unsigned)tm.tm_mon + 1, t->day = (unsigned)tm.tm_mday;
	t->hour = (unsigned)tm.tm_hour, t->minute = (unsigned)tm.tm_min, t->second = (unsigned)tm.tm_sec;
	t->time_type = MYSQL_TIMESTAMP_DATETIME;
	b->buffer_type = MYSQL_TYPE_DATETIME, b->buffer = t;
}

/* One request of the case: the statements taskapi runs for it. */
static int one_request(struct worker *w, MYSQL_STMT *a, MYSQL_STMT *b)
{
	const struct settings *s = w->set;
	MYSQL_BIND p[10];
	unsigned long long id = pick(w, 1, s->rows), after = 0, limit = 10, offset;
	char title[] = "Bench task", description[] = "Inserted by bench/dbalone.c";
	unsigned long title_len = sizeof title - 1, description_len = sizeof description - 1;
	unsigned long empty_len = 0;
	signed char yes = 1, no = 0;
	unsigned version = 0;
	MYSQL_TIME t1, t2;

	memset(p, 0, sizeof p);
	switch (s->which) {
	case CASE_LIST:
		offset = pick(w, 0, s->skip_max);
		bind_u64(&p[0], &after), bind_u64(&p[1], &limit), bind_u64(&p[2], &offset);
		return run_select(a, p);
	case CASE_GET:
		bind_u64(&p[0], &id);
		return run_select(a, p);
	case CASE_POST:
		bind_text(&p[0], title, &title_len), bind_text(&p[1], description, &description_len);
		bind_tiny(&p[2], &no), bind_now(&p[3], &t1), bind_now(&p[4], &t2);
		return mysql_stmt_bind_param(a, p) != 0 || mysql_stmt_execute(a) != 0 ? -1 : 0;
	case CASE_PATCH:
		bind_tiny(&p[0], &no), bind_text(&p[1], title, &empty_len);
		bind_tiny(&p[2], &no), bind_text(&p[3], description, &empty_len);
		bind_tiny(&p[4], &yes), bind_tiny(&p[5], &yes), bind_now(&p[6], &t1);
		bind_u64(&p[7], &id), bind_tiny(&p[8], &no);
		p[9].buffer_type = MYSQL_TYPE_LONG, p[9].buffer = &version, p[9].is_unsigned = 1;
		if (mysql_stmt_bind_param(a, p) != 0 || mysql_stmt_execute(a) != 0)
			return -1;
		memset(p, 0, sizeof p);
		bind_u64(&p[0], &id);
		return run_select(b, p);
	}
	return -1;
}

static MYSQL_STMT *prepare(MYSQL *db, const char *sql)
{
	MYSQL_STMT *stmt = mysql_stmt_init(db);

	if (stmt != NULL && mysql_stmt_prepare(stmt, sql, strlen(sql)) == 0)
		return stmt;
	fprintf(stderr, "dbalone: prepare failed: %s\n", stmt ? mysql_stmt_error(stmt) : mysql_error(db));
	if (stmt != NULL)
		mysql_stmt_close(stmt);
	return NULL;
}

static void *run(void *arg)
{
	struct worker *w = arg;
	const struct settings *s = w->set;
	const char *first_sql[] = { sql_list, sql_get, sql_insert, sql_update };
	MYSQL *db = mysql_init(NULL);
	MYSQL_STMT *a = NULL, *b = NULL;
	long long end;

	mysql_thread_init();
	mysql_options(db, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	if (mysql_real_connect(db, NULL, s->user, s->password, s->database, 0, s->socket, 0) == NULL) {
		fprintf(stderr, "dbalone: connect failed: %s\n", mysql_error(db));
		w->errors++;
		goto done;
	}
	/* As taskapi's pool sets every connection up. */
	if (mysql_query(db, "SET time_zone = '+00:00'") != 0)
		w->errors++;
	a = prepare(db, first_sql[s->which]);
	b = s->which == CASE_PATCH ? prepare(db, sql_get) : NULL;
	if (a == NULL || (s->which == CASE_PATCH && b == NULL)) {
		w->errors++;
		goto done;
	}
	end = now_us() + (long long)s->seconds * 1000000;
	for (;;) {
		long long t0 = now_us();

		if (t0 >= end)
			break;
		if (one_request(w, a, b) != 0)
			w->errors++;
		else
			w->requests++;
		if (record(w, now_us() - t0) != 0)
			break;
	}
done:
	if (b != NULL)
		mysql_stmt_close(b);
	if (a != NULL)
		mysql_stmt_close(a);
	mysql_close(db);
	mysql_thread_end();
	return NULL;
}

static int by_value(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;

	return (a > b) - (a < b);
}

static int read_password(const char *path, char *out, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL || fgets(out, (int)len, f) == NULL) {
		if (f != NULL)
			fclose(f);
		return -1;
	}
	fclose(f);
	n = strcspn(out, "\r\n");
	out[n] = '\0';
	return 0;
}

int main(int argc, char **argv)
{
	static struct worker workers[MAX_THREADS];
	static const char *const names[] = { "list", "get", "post", "patch" };
	struct settings s = { 0 };
	unsigned long long requests = 0, errors = 0;
	size_t total = 0;
	uint32_t *all;
	long long start, took;
	int threads = 0;

	if (argc < 8) {
		fprintf(stderr, "usage: dbalone SOCKET USER PASSWORD_FILE DATABASE list|get|post|patch THREADS SECONDS [ROWS] [SKIP_MAX]\n");
		return 2;
	}
	s.socket = argv[1], s.user = argv[2], s.database = argv[4];
	if (read_password(argv[3], s.password, sizeof s.password) != 0) {
		fprintf(stderr, "dbalone: cannot read the password from %s\n", argv[3]);
		return 2;
	}
	for (s.which = CASE_LIST; s.which <= CASE_PATCH && strcmp(argv[5], names[s.which]) != 0; s.which++)
		;
	threads = atoi(argv[6]);
	s.seconds = atoi(argv[7]);
	s.rows = argc > 8 ? strtoull(argv[8], NULL, 10) : 10000;
	s.skip_max = argc > 9 ? strtoull(argv[9], NULL, 10) : 999;
	if (s.which > CASE_PATCH || threads < 1 || threads > MAX_THREADS || s.seconds < 1 || s.rows < 1) {
		fprintf(stderr, "dbalone: bad arguments\n");
		return 2;
	}
	if (mysql_library_init(0, NULL, NULL) != 0)
		return 1;
	start = now_us();
	for (int i = 0; i < threads; i++) {
		workers[i].set = &s;
		workers[i].seed = (unsigned)(start ^ (i * 2654435761u));
		if (pthread_create(&workers[i].thread, NULL, run, &workers[i]) != 0)
			return 1;
	}
	for (int i = 0; i < threads; i++) {
		pthread_join(workers[i].thread, NULL);
		requests += workers[i].requests, errors += workers[i].errors;
		total += workers[i].n_lat;
	}
	took = now_us() - start;
	all = malloc((total ? total : 1) * sizeof *all);
	if (all == NULL)
		return 1;
	total = 0;
	for (int i = 0; i < threads; i++) {
		memcpy(all + total, workers[i].lat_us, workers[i].n_lat * sizeof *all);
		total += workers[i].n_lat;
		free(workers[i].lat_us);
	}
	qsort(all, total, sizeof *all, by_value);
#define AT(p) (total ? all[(size_t)((p) * (double)(total - 1))] : 0)
	printf("BENCH %llu %lld 0 %llu 0 0 0 %u %u %u 0\n", requests, took, errors, AT(0.50), AT(0.99),
	       total ? all[total - 1] : 0);
	printf("QUANTILES");
	for (int i = 0; i < 1000; i++)
		printf(" %u", AT((i + 0.5) / 1000.0));
	printf("\n");
	free(all);
	mysql_library_end();
	return errors > 0 ? 1 : 0;
}
