/*
 * Unit tests for log.c: levels, formats, the three streams in files, the
 * reopen after a rotation, and the access, slow and escaped fields. Every
 * stream is pointed at a file in a fresh temporary directory; the error
 * stream's file takes fd 2 for the test and gives it back at the end.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "unit.h"

static char dir[64];
static char error_path[128], access_path[128], slow_path[128];
static struct buf line;

/* The file at path, NUL-terminated (a static buffer; "" when there is none). */
static const char *file_text(const char *path)
{
	static char text[8192];
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f != NULL) {
		n = fread(text, 1, sizeof text - 1, f);
		fclose(f);
	}
	text[n] = '\0';
	return text;
}

static void use_files(void)
{
	struct log_files files = { error_path, access_path, slow_path };
	char err[256];

	ck_assert_int_eq(log_open_files(&files, err, sizeof err), 0);
}

static void setup(void)
{
	strcpy(dir, "/tmp/test_log.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(error_path, sizeof error_path, "%s/error.log", dir);
	snprintf(access_path, sizeof access_path, "%s/access.log", dir);
	snprintf(slow_path, sizeof slow_path, "%s/slow.log", dir);
	buf_init(&line);
	log_set_level(LOG_LEVEL_INFO);
	log_set_access_format(LOG_FORMAT_TEXT);
}

static void teardown(void)
{
	struct log_files none = { NULL, NULL, NULL };
	char err[256], cmd[128];

	/* Back to the first stderr and no files. */
	ck_assert_int_eq(log_open_files(&none, err, sizeof err), 0);
	buf_release(&line);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static struct log_access_entry entry(void)
{
	static const char *const stmts[] = { "update", "get" };
	struct log_access_entry e;

	memset(&e, 0, sizeof e);
	e.request_id = "id1";
	e.method = "PATCH";
	e.uri = "/tasks/1?x=a b";
	e.status = 200;
	e.bytes = 42;
	e.duration_ns = 812004000;  /* 812.004 ms */
	e.pool_wait_ns = 10000;     /* 0.010 ms */
	e.route = "tasks.patch";
	e.statements = stmts;
	e.n_statements = 3;
	e.n_listed = 2;
	e.rows = 1;
	return e;
}

START_TEST(test_levels)
{
	enum log_level level;

	ck_assert_int_eq(log_level_parse("debug", &level), 0);
	ck_assert_int_eq(level, LOG_LEVEL_DEBUG);
	ck_assert_int_eq(log_level_parse("WARN", &level), 0);
	ck_assert_int_eq(level, LOG_LEVEL_WARN);
	ck_assert_int_eq(log_level_parse("loud", &level), -1);
	ck_assert_str_eq(log_level_name(LOG_LEVEL_ERROR), "error");
	ck_assert_str_eq(log_level_name(LOG_LEVEL_INFO), "info");
	log_set_level(LOG_LEVEL_WARN);
	ck_assert_int_eq(log_get_level(), LOG_LEVEL_WARN);
}
END_TEST

START_TEST(test_messages_by_level)
{
	char pid[32];
	const char *text;

	use_files();
	log_set_level(LOG_LEVEL_WARN);
	log_error("first %d", 1);
	log_warn("second");
	log_info("not shown");
	log_debug("not shown either");
	log_write_line("raw line\n", 9);
	text = file_text(error_path);
	snprintf(pid, sizeof pid, " [%d] error: first 1\n", (int)getpid());
	ck_assert_ptr_nonnull(strstr(text, pid));
	ck_assert_ptr_nonnull(strstr(text, "] warn: second\n"));
	ck_assert_ptr_null(strstr(text, "not shown"));
	ck_assert_ptr_nonnull(strstr(text, "\nraw line\n"));
	/* The error log took fd 2: what else writes to stderr lands there too. */
	ck_assert_int_eq(write(STDERR_FILENO, "via fd 2\n", 9), 9);
	ck_assert_ptr_nonnull(strstr(file_text(error_path), "via fd 2\n"));
}
END_TEST

START_TEST(test_open_failure_changes_nothing)
{
	char bad[160], err[256];
	struct log_files files = { NULL, access_path, NULL };
	struct log_files broken = { NULL, NULL, bad };
	struct log_access_entry e = entry();

	use_files();
	snprintf(bad, sizeof bad, "%s/no/such/dir/slow.log", dir);
	ck_assert_int_eq(log_open_files(&broken, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, bad));
	/* The access file set before is still the stream. */
	log_access(&e, &line);
	ck_assert_ptr_nonnull(strstr(file_text(access_path), " access: id1 "));
	ck_assert_int_eq(log_open_files(&files, err, sizeof err), 0);
}
END_TEST

START_TEST(test_access_text_and_json)
{
	struct log_access_entry e = entry();
	enum log_format format;
	const char *text;

	ck_assert_int_eq(log_format_parse("json", &format), 0);
	ck_assert_int_eq(format, LOG_FORMAT_JSON);
	ck_assert_int_eq(log_format_parse("Text", &format), 0);
	ck_assert_int_eq(format, LOG_FORMAT_TEXT);
	ck_assert_int_eq(log_format_parse("xml", &format), -1);

	use_files();
	log_access(&e, &line);
	ck_assert_ptr_nonnull(strstr(line.data,
		" access: id1 PATCH /tasks/1?x=a+b 200 42 812.004ms wait=0.010ms tasks.patch owner=- cred=-\n"));
	e.method = NULL;
	e.uri = NULL;
	log_set_access_format(LOG_FORMAT_JSON);
	log_access(&e, &line);
	ck_assert_ptr_nonnull(strstr(line.data, "\"request_id\":\"id1\",\"method\":null,\"uri\":null,"
					       "\"status\":200,\"bytes\":42,\"duration_ms\":812.004,"
					       "\"pool_wait_ms\":0.010,\"route\":\"tasks.patch\",\"owner\":null,\"credential\":null}\n"));
	ck_assert(strncmp(line.data, "{\"time\":\"", 9) == 0);
	text = file_text(access_path);
	ck_assert_ptr_nonnull(strstr(text, " access: id1 PATCH "));
	ck_assert_ptr_nonnull(strstr(text, "\"method\":null"));
	ck_assert_str_eq(file_text(slow_path), "");
}
END_TEST

START_TEST(test_slow_line)
{
	struct log_access_entry e = entry();

	use_files();
	log_slow(&e, &line);
	ck_assert_ptr_nonnull(strstr(file_text(slow_path),
		" slow: id1 PATCH /tasks/1?x=a+b 200 812.004ms wait=0.010ms route=tasks.patch sql=update,get,+1 rows=1\n"));
	e.n_statements = 0;
	e.n_listed = 0;
	e.method = NULL;
	log_slow(&e, &line);
	ck_assert_ptr_nonnull(strstr(line.data, " slow: id1 - /tasks/1?x=a+b 200 "));
	ck_assert_ptr_nonnull(strstr(line.data, " route=tasks.patch sql=- rows=1\n"));
}
END_TEST

START_TEST(test_streams_default_to_error_log)
{
	struct log_files files = { error_path, NULL, NULL };
	struct log_access_entry e = entry();
	char err[256];

	ck_assert_int_eq(log_open_files(&files, err, sizeof err), 0);
	log_access(&e, &line);
	log_slow(&e, &line);
	ck_assert_ptr_nonnull(strstr(file_text(error_path), " access: id1 "));
	ck_assert_ptr_nonnull(strstr(file_text(error_path), " slow: id1 "));
}
END_TEST

START_TEST(test_reopen_after_rotation)
{
	char rotated[160], err[256];
	struct log_access_entry e = entry();

	use_files();
	snprintf(rotated, sizeof rotated, "%s.1", access_path);
	ck_assert_int_eq(rename(access_path, rotated), 0);
	ck_assert_int_eq(log_reopen(err, sizeof err), 0);
	log_access(&e, &line);
	ck_assert_ptr_nonnull(strstr(file_text(access_path), " access: id1 "));
	ck_assert_str_eq(file_text(rotated), "");

	ck_assert_int_eq(rename(error_path, rotated), 0);
	log_reopen_on_signal(" (test)");
	ck_assert_ptr_nonnull(strstr(file_text(error_path), "] info: SIGUSR1: log files reopened (test)\n"));
}
END_TEST

START_TEST(test_reopen_failure_reported)
{
	char err[256], cmd[512];

	use_files();
	/* The directory goes away: the slow log cannot be made again; the old descriptor stays. */
	snprintf(cmd, sizeof cmd, "rm -f '%s' && chmod 0500 '%s'", slow_path, dir);
	ck_assert_int_eq(system(cmd), 0);
	if (access(dir, W_OK) == 0) { /* root ignores the mode: take the directory away instead */
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
		ck_assert_int_eq(system(cmd), 0);
	}
	ck_assert_int_eq(log_reopen(err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "cannot open log file"));
	log_reopen_on_signal("");
	/* Written to the old error log's descriptor, still fd 2 (its file may be gone). */
	snprintf(cmd, sizeof cmd, "mkdir -p '%s' && chmod 0700 '%s'", dir, dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(test_escape)
{
	struct buf out;

	buf_init(&out);
	log_escape(&out, "a b\"c\\d\n\x7f", 9, LOG_ESCAPE_TEXT);
	buf_putc(&out, '\0');
	ck_assert_str_eq(out.data, "a+b\\\"c\\\\d\\u000a\\u007f");
	buf_reset(&out);
	log_escape(&out, "a b\t", 4, LOG_ESCAPE_JSON);
	buf_putc(&out, '\0');
	ck_assert_str_eq(out.data, "a b\\u0009");
	/* Bytes >= 0x80, valid UTF-8 or not: \xHH in text, \u00HH in JSON. */
	buf_reset(&out);
	log_escape(&out, "/t\xc3\xa9\xff?", 6, LOG_ESCAPE_TEXT);
	buf_putc(&out, '\0');
	ck_assert_str_eq(out.data, "/t\\xc3\\xa9\\xff?");
	buf_reset(&out);
	log_escape(&out, "/t\xc3\xa9\xff?", 6, LOG_ESCAPE_JSON);
	buf_putc(&out, '\0');
	ck_assert_str_eq(out.data, "/t\\u00c3\\u00a9\\u00ff?");
	buf_release(&out);
}
END_TEST

/* Kept apart from main() so the suite can move to a shared unit-test main as it is. */
Suite *unit_suite(void)
{
	return unit_suite_of("log", setup, teardown, test_levels, test_messages_by_level,
			     test_open_failure_changes_nothing, test_access_text_and_json,
			     test_slow_line, test_streams_default_to_error_log,
			     test_reopen_after_rotation, test_reopen_failure_reported,
			     test_escape);
}
