/* Unit tests for config.c: defaults, INI file, environment, --set, secrets. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

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
	char err[CONFIG_ERR_SIZE];
	char *path = write_temp("; comment\n[server]\nlisten = /tmp/x.sock\nthreads = 4\n"
				"socket_mode = 0600\n[database]\nname = from_file\nuser = u\n"
				"[log]\naccess_log = off\n", 0600);
	static char e1[] = "TASKAPI_SERVER_THREADS=6", e2[] = "TASKAPI_DATABASE_NAME=from_env",
		    e3[] = "TASKAPI_UNRELATED=1", e4[] = "PATH=/bin";
	char *env[] = { e1, e2, e3, e4, NULL };

	config_init(&cfg);
	ck_assert_int_eq(config_load_file(&cfg, path, err, sizeof err), 0);
	ck_assert_str_eq(cfg.server.listen, "/tmp/x.sock");
	ck_assert_int_eq(cfg.server.threads, 4);
	ck_assert_int_eq(cfg.server.socket_mode, 0600);
	ck_assert(!config_access_log(&cfg, false));
	ck_assert_int_eq(config_apply_env(&cfg, env, err, sizeof err), 0);
	ck_assert_int_eq(cfg.server.threads, 6);
	ck_assert_str_eq(cfg.database.name, "from_env");
	ck_assert_int_eq(config_set_pair(&cfg, "server.threads=2", err, sizeof err), 0);
	ck_assert_int_eq(cfg.server.threads, 2);
	ck_assert_int_eq(config_set_pair(&cfg, "log.access_log=true", err, sizeof err), 0);
	ck_assert(config_access_log(&cfg, true));
	ck_assert_int_eq(config_finish(&cfg, err, sizeof err), 0);
	config_release(&cfg);
	unlink(path);
}
END_TEST

START_TEST(test_rejects_bad_values)
{
	struct config cfg;
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
	ck_assert_int_eq(config_finish(&cfg, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "log.level"));
	ck_assert_int_eq(config_set(&cfg, "log", "level", "debug", err, sizeof err), 0);
	ck_assert_int_eq(config_set(&cfg, "api", "default_limit", "500", err, sizeof err), 0);
	ck_assert_int_eq(config_finish(&cfg, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "default_limit"));
	config_release(&cfg);
}
END_TEST

START_TEST(test_file_errors_name_the_line)
{
	struct config cfg;
	char err[CONFIG_ERR_SIZE];
	char *path = write_temp("[server]\nthreads = 4\ntypo_key = 1\n", 0600);

	config_init(&cfg);
	ck_assert_int_eq(config_load_file(&cfg, path, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "line 3"));
	ck_assert_ptr_nonnull(strstr(err, "typo_key"));
	unlink(path);
	ck_assert_int_eq(config_load_file(&cfg, "/nonexistent/taskapi.ini", err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "cannot open"));
	config_release(&cfg);
}
END_TEST

START_TEST(test_password_file)
{
	struct config cfg;
	char err[CONFIG_ERR_SIZE];
	char *path = write_temp("s3cret\n", 0640);
	char saved[64];

	snprintf(saved, sizeof saved, "%s", path);
	config_init(&cfg);
	ck_assert_int_eq(config_set(&cfg, "database", "password_file", saved, err, sizeof err), 0);
	ck_assert_int_eq(config_finish(&cfg, err, sizeof err), 0);
	ck_assert_str_eq(cfg.database.password, "s3cret");
	/* readable by others, or writable by the group: refused */
	chmod(saved, 0644);
	ck_assert_int_eq(config_finish(&cfg, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "accessible by others"));
	chmod(saved, 0660);
	ck_assert_int_eq(config_finish(&cfg, err, sizeof err), -1);
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

int main(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_file_env_and_flags_in_order);
	tcase_add_test(tc, test_rejects_bad_values);
	tcase_add_test(tc, test_file_errors_name_the_line);
	tcase_add_test(tc, test_password_file);
	tcase_add_test(tc, test_dump_masks_secrets);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
