/*
 * Unit tests for trace.c: one request's trace (waits, statements, rows), SQL echo
 * into the log, the parameter rendering and request ids. test_metrics.c checks
 * how the log lines use them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trace.h"
#include "unit.h"

START_TEST(test_a_request_trace)
{
	const struct trace *t;

	trace_begin("req-1");
	trace_pool_wait(5);
	trace_pool_wait(-3); /* a clock step back counts as no wait */
	for (int i = 0; i < TRACE_MAX_STMTS + 2; i++)
		trace_sql(i == 0 ? "first" : "other", "SELECT 1", NULL, 0);
	trace_rows(2);
	trace_rows(3);
	t = trace_current();
	ck_assert_str_eq(t->request_id, "req-1");
	ck_assert_int_eq(t->pool_wait_ns, 5);
	ck_assert_uint_eq(t->acquires, 2);
	ck_assert_uint_eq(t->n_stmts, TRACE_MAX_STMTS + 2);
	ck_assert_str_eq(t->stmts[0], "first");
	ck_assert_uint_eq(t->rows, 5);
	trace_begin(NULL); /* everything starts again, with a fresh id */
	ck_assert_uint_eq(t->n_stmts, 0);
	ck_assert_uint_eq(strlen(t->request_id), 32);
}
END_TEST

START_TEST(test_sql_echo_logs_parameters)
{
	char path[] = "/tmp/taskapi-trace-XXXXXX";
	int fd = mkstemp(path);
	char text[512] = "";
	long long id = 42;
	MYSQL_BIND b;
	FILE *f;

	ck_assert_int_ge(fd, 0);
	ck_assert(!trace_sql_echo());
	trace_set_sql_echo(true);
	ck_assert(trace_sql_echo());
	memset(&b, 0, sizeof b);
	b.buffer_type = MYSQL_TYPE_LONGLONG;
	b.buffer = &id;
	/* the log writes to stderr until files are opened: catch it in this child */
	ck_assert_int_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	trace_begin("req-2");
	trace_sql("get_task", "SELECT * FROM tasks WHERE id = ?", &b, 1);
	/* A peer's REQUEST_ID cannot forge a line: escaped as in the access line. */
	trace_begin("evil\n2026 [1] error: forged \xff");
	trace_sql("get_task", "SELECT 1", NULL, 0);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_gt(fread(text, 1, sizeof text - 1, f), 0);
	fclose(f);
	unlink(path);
	ck_assert_msg(strstr(text, "sql: req-2 get_task: SELECT * FROM tasks WHERE id = ? (42)") != NULL,
		      "logged: %s", text);
	ck_assert_msg(strstr(text, "sql: evil\\u000a2026+[1]+error:+forged+\\xff get_task: SELECT 1 ()") != NULL,
		      "logged: %s", text);
	ck_assert_ptr_null(strstr(text, "\n2026 [1] error: forged"));
	trace_set_sql_echo(false);
}
END_TEST

START_TEST(test_params_rendering)
{
	char out[64];
	char s[] = "it's";
	unsigned long len = 4;
	MYSQL_BIND b[2];

	memset(b, 0, sizeof b);
	b[0].buffer_type = MYSQL_TYPE_STRING;
	b[0].buffer = s;
	b[0].length = &len;
	b[1].buffer_type = MYSQL_TYPE_NULL;
	trace_format_params(b, 2, out, sizeof out);
	ck_assert_str_eq(out, "('it\\'s', NULL)");
	trace_format_params(b, 2, out, 4); /* cut, still a C string */
	ck_assert_str_eq(out, "('i");
}
END_TEST

START_TEST(test_request_ids)
{
	char a[33], b[33];

	trace_new_request_id(a);
	trace_new_request_id(b);
	ck_assert_uint_eq(strlen(a), 32);
	ck_assert_uint_eq(strspn(a, "0123456789abcdef"), 32);
	ck_assert_str_ne(a, b);
}
END_TEST

Suite *unit_suite(void)
{
	return unit_suite_of("trace", NULL, NULL, test_a_request_trace,
			     test_sql_echo_logs_parameters, test_params_rendering,
			     test_request_ids);
}
