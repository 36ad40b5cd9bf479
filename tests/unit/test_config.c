/* Unit tests for config.c: defaults, INI file, environment, --set, secrets. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "unit.h"

static char *write_temp(const char *text, mode_t mode)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof path, "/tmp/taskapi-test-XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	chmod(path, mode);
	return path;
}

START_TEST(test_defaults)
{
	struct config cfg;

	config_init(&cfg);
	ck_assert_str_eq(cfg.server.listen, "");
	ck_assert_int_eq(cfg.server.threads, 8);
	ck_assert_int_eq(cfg.server.socket_mode, 0660);
	ck_assert_int_eq(cfg.server.max_body_bytes, 65536);
	ck_assert_int_eq(cfg.api.default_limit, 10);
	ck_assert_int_eq(cfg.api.max_limit, 100);
	ck_assert_int_eq(cfg.database.port, 3306);
	/* access_log "auto": on when serving FastCGI, off in CGI mode (stderr is Apache's error log) */
	ck_assert_int_eq(cfg.log.access_log, -1);
	ck_assert(config_access_log(&cfg, false));
	ck_assert(!config_access_log(&cfg, true));
	ck_assert_int_eq(config_pool_size(&cfg), 8);
	cfg.database.pool_size = 3;
	ck_assert_int_eq(config_pool_size(&cfg), 3);
	config_release(&cfg);
	config_release(&cfg); /* twice is safe */
}
END_TEST

START_TEST(test_file_env_and_flags_in_order)
{
	struct config cfg;
	struct config_problems problems;
	char err[CONFIG_ERR_SIZE], names[128];
	char *path = write_temp("; comment\n[server]\nlisten = /tmp/x.sock\nthreads = 4\n"
				"socket_mode = 0600\n[database]\nname = from_file\nuser = u\n"
				"[log]\naccess_log = off\n", 0600);
	static char e1[] = "TASKAPI_SERVER_THREADS=6", e2[] = "TASKAPI_DATABASE_NAME=from_env",
		    e3[] = "TASKAPI_UNRELATED=1", e4[] = "PATH=/bin";
	char *env[] = { e1, e2, e3, e4, NULL };

	config_init(&cfg);
	config_problems_init(&problems);
	ck_assert_int_eq(config_load_file(&cfg, path, &problems), 0);
	ck_assert_str_eq(cfg.server.listen, "/tmp/x.sock");
	ck_assert_int_eq(cfg.server.threads, 4);
	ck_assert_int_eq(cfg.server.socket_mode, 0600);
	ck_assert(!config_access_log(&cfg, false));
	ck_assert_int_eq(config_apply_env(&cfg, env, &problems, names, sizeof names), 0);
	ck_assert_str_eq(names, "TASKAPI_SERVER_THREADS, TASKAPI_DATABASE_NAME");
	ck_assert_int_eq(cfg.server.threads, 6);
	ck_assert_str_eq(cfg.database.name, "from_env");
	ck_assert_int_eq(config_set_pair(&cfg, "server.threads=2", err, sizeof err), 0);
	ck_assert_int_eq(cfg.server.threads, 2);
	ck_assert_int_eq(config_set_pair(&cfg, "log.access_log=true", err, sizeof err), 0);
	ck_assert(config_access_log(&cfg, true));
	ck_assert_int_eq(config_finish(&cfg, &problems), 0);
	ck_assert_uint_eq(config_problems_count(&problems), 0);
	config_release(&cfg);
	unlink(path);
}
END_TEST

START_TEST(test_rejects_bad_values)
{
	struct config cfg;
	struct config_problems problems;
	char err[CONFIG_ERR_SIZE];

	config_init(&cfg);
	ck_assert_int_eq(config_set(&cfg, "server", "threads", "many", err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "server.threads"));
	ck_assert_int_eq(config_set(&cfg, "server", "threads", "0", err, sizeof err), -1);
	ck_assert_int_eq(config_set(&cfg, "server", "threads", "4x", err, sizeof err), -1);
	ck_assert_int_eq(config_set(&cfg, "server", "socket_mode", "0999", err, sizeof err), -1);
	ck_assert_int_eq(config_set(&cfg, "log", "access_log", "maybe", err, sizeof err), -1);
	ck_assert_int_eq(config_set(&cfg, "server", "nosuch", "1", err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "unknown configuration key 'server.nosuch'"));
	ck_assert_int_eq(config_set_pair(&cfg, "threads=4", err, sizeof err), -1);
	ck_assert_int_eq(config_set(&cfg, "log", "access_log", "auto", err, sizeof err), 0);
	ck_assert_int_eq(config_set(&cfg, "log", "level", "loud", err, sizeof err), 0);
	config_problems_init(&problems);
	ck_assert_int_eq(config_finish(&cfg, &problems), -1);
	ck_assert_uint_eq(config_problems_count(&problems), 1);
	ck_assert_ptr_nonnull(strstr(problems.msg[0], "log.level"));
	ck_assert_int_eq(config_set(&cfg, "log", "level", "debug", err, sizeof err), 0);
	ck_assert_int_eq(config_set(&cfg, "api", "default_limit", "500", err, sizeof err), 0);
	config_problems_init(&problems);
	ck_assert_int_eq(config_finish(&cfg, &problems), -1);
	ck_assert_ptr_nonnull(strstr(problems.msg[0], "default_limit"));
	config_release(&cfg);
}
END_TEST

START_TEST(test_file_errors_name_the_line)
{
	struct config cfg;
	struct config_problems problems;
	char *path = write_temp("[server]\nthreads = 4\ntypo_key = 1\n", 0600);

	config_init(&cfg);
	config_problems_init(&problems);
	ck_assert_int_eq(config_load_file(&cfg, path, &problems), -1);
	ck_assert_uint_eq(config_problems_count(&problems), 1);
	ck_assert_ptr_nonnull(strstr(problems.msg[0], "line 3"));
	ck_assert_ptr_nonnull(strstr(problems.msg[0], "typo_key"));
	ck_assert_ptr_nonnull(strstr(problems.msg[0], path));
	unlink(path);
	config_problems_init(&problems);
	ck_assert_int_eq(config_load_file(&cfg, "/nonexistent/taskapi.ini", &problems), -1);
	ck_assert_ptr_nonnull(strstr(problems.msg[0], "cannot open"));
	config_release(&cfg);
}
END_TEST

/* Every problem of a file, the environment and the cross-key checks is named, not only the first. */
START_TEST(test_every_problem_is_reported)
{
	struct config cfg;
	struct config_problems problems;
	char summary[CONFIG_ERR_SIZE];
	char *path = write_temp("[server]\nthreads = 0\nnot a setting\n[database]\npool_size = abc\n"
				"[nosuch]\nkey = 1\n[server\n[api]\ndefault_limit = 500\nmax_limit = 10\n"
				"[log]\nlevel = loud\naccess_log = maybe\n", 0600);
	static char e1[] = "TASKAPI_SERVER_BACKLOG=0", e2[] = "TASKAPI_DATABASE_PORT=x";
	char *env[] = { e1, e2, NULL };
	static const char *const expect[] = {
		"line 2: invalid value for server.threads",
		"line 3: syntax error",
		"line 5: invalid value for database.pool_size: 'abc'",
		"line 7: unknown configuration key 'nosuch.key'",
		"line 8: syntax error",
		"line 14: invalid value for log.access_log: 'maybe' (expected auto, true or false)",
		"environment TASKAPI_SERVER_BACKLOG: invalid value for server.backlog",
		"environment TASKAPI_DATABASE_PORT: invalid value for database.port",
		"invalid value for log.level: 'loud'",
		"api.default_limit (500) is larger than api.max_limit (10)",
	};
	size_t n = sizeof expect / sizeof expect[0];

	config_init(&cfg);
	config_problems_init(&problems);
	ck_assert_int_eq(config_load_file(&cfg, path, &problems), -1);
	ck_assert_int_eq(config_apply_env(&cfg, env, &problems, NULL, 0), -1);
	ck_assert_int_eq(config_finish(&cfg, &problems), -1);
	for (size_t i = 0; i < problems.n; i++)
		fprintf(stderr, "problem %zu: %s\n", i, problems.msg[i]);
	ck_assert_uint_eq(config_problems_count(&problems), n);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(strstr(problems.msg[i], expect[i]) != NULL, "problem %zu is '%s', expected '%s'", i,
			      problems.msg[i], expect[i]);
	/* A file problem names the file. */
	ck_assert_ptr_nonnull(strstr(problems.msg[0], path));
	/* The lines after the bad ones were still read. */
	ck_assert_int_eq(cfg.api.max_limit, 10);
	config_problems_summary(&problems, summary, sizeof summary);
	ck_assert_ptr_nonnull(strstr(summary, "line 2"));
	ck_assert_ptr_nonnull(strstr(summary, "(and 9 more)"));
	unlink(path);
	config_release(&cfg);
}
END_TEST

/* The list is bounded: past its room problems are counted, not stored. */
START_TEST(test_problems_are_bounded)
{
	struct config_problems problems;

	config_problems_init(&problems);
	for (int i = 0; i < CONFIG_MAX_PROBLEMS + 5; i++)
		config_problem(&problems, "problem %d", i);
	ck_assert_uint_eq(problems.n, CONFIG_MAX_PROBLEMS);
	ck_assert_uint_eq(problems.more, 5);
	ck_assert_uint_eq(config_problems_count(&problems), CONFIG_MAX_PROBLEMS + 5);
	ck_assert_str_eq(problems.msg[CONFIG_MAX_PROBLEMS - 1], "problem 31");
}
END_TEST

START_TEST(test_password_file)
{
	struct config cfg;
	struct config_problems problems;
	char err[CONFIG_ERR_SIZE];
	char *path = write_temp("s3cret\n", 0640);
	char saved[64];

	snprintf(saved, sizeof saved, "%s", path);
	config_init(&cfg);
	ck_assert_int_eq(config_set(&cfg, "database", "password_file", saved, err, sizeof err), 0);
	config_problems_init(&problems);
	ck_assert_int_eq(config_finish(&cfg, &problems), 0);
	ck_assert_str_eq(cfg.database.password, "s3cret");
	/* readable by others, or writable by the group: refused */
	chmod(saved, 0644);
	ck_assert_int_eq(config_finish(&cfg, &problems), -1);
	ck_assert_ptr_nonnull(strstr(problems.msg[0], "accessible by others"));
	ck_assert_ptr_nonnull(strstr(problems.msg[0], "database.password_file"));
	chmod(saved, 0660);
	config_problems_init(&problems);
	ck_assert_int_eq(config_finish(&cfg, &problems), -1);
	unlink(saved);
	config_release(&cfg);
}
END_TEST

START_TEST(test_dump_masks_secrets)
{
	struct config cfg;
	char err[CONFIG_ERR_SIZE];
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	config_init(&cfg);
	ck_assert_int_eq(config_set(&cfg, "database", "password", "hunter2", err, sizeof err), 0);
	config_dump(&cfg, out);
	fclose(out);
	ck_assert_ptr_null(strstr(text, "hunter2"));
	ck_assert_ptr_nonnull(strstr(text, "[database]"));
	ck_assert_ptr_nonnull(strstr(text, "socket_mode = 0660"));
	free(text);
	config_release(&cfg);
}
END_TEST

Suite *unit_suite(void)
{
	return unit_suite_of("config", NULL, NULL, test_defaults,
			     test_file_env_and_flags_in_order, test_rejects_bad_values,
			     test_file_errors_name_the_line,
			     test_every_problem_is_reported, test_problems_are_bounded,
			     test_password_file, test_dump_masks_secrets);
}
