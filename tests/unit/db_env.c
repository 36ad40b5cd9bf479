#include "db_env.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"

const struct db_options db_env_nowhere = {
	.socket = "/nonexistent/taskapi-test.sock",
	.user = "nobody",
	.database = "none",
	.connect_timeout_s = 1,
	.read_timeout_s = 1,
	.write_timeout_s = 1,
};

bool db_env_init(struct db_env *env)
{
	const char *pw = getenv("TASKAPI_TEST_DB_PASSWORD_FILE");
	char *secret = NULL, err[CONFIG_ERR_SIZE];

	env->opt = (struct db_options){ 0 };
	env->opt.socket = getenv("TASKAPI_TEST_DB_SOCKET");
	env->opt.user = getenv("TASKAPI_TEST_DB_USER");
	env->opt.database = getenv("TASKAPI_TEST_DB_NAME");
	if (env->opt.socket == NULL || env->opt.user == NULL || env->opt.database == NULL || pw == NULL)
		return false;
	if (config_read_secret_file(pw, &secret, err, sizeof err) < 0) {
		fprintf(stderr, "%s\n", err);
		return false;
	}
	snprintf(env->password, sizeof env->password, "%s", secret);
	free(secret);
	env->opt.password = env->password;
	env->opt.connect_timeout_s = 2;
	env->opt.read_timeout_s = 5;
	env->opt.write_timeout_s = 5;
	return true;
}

long long db_env_scalar(MYSQL *mysql, const char *sql)
{
	MYSQL_RES *res;
	MYSQL_ROW row;
	long long v = -1;

	if (mysql_query(mysql, sql) != 0 || (res = mysql_store_result(mysql)) == NULL)
		return -1;
	row = mysql_fetch_row(res);
	if (row != NULL && row[0] != NULL)
		v = (long long)(strtod(row[0], NULL) * 1000.0);
	mysql_free_result(res);
	return v;
}

void db_env_kill(const struct db_env *env, unsigned long id)
{
	char err[512], sql[64];
	MYSQL *m = db_connect(&env->opt, err, sizeof err);

	ck_assert_msg(m != NULL, "%s", err);
	snprintf(sql, sizeof sql, "KILL CONNECTION %lu", id);
	ck_assert_msg(mysql_query(m, sql) == 0, "KILL: %s", mysql_error(m));
	mysql_close(m);
}

int db_env_main(const char *suite, struct db_env *env, void (*add_pure)(TCase *),
		void (*add_live)(TCase *))
{
	Suite *s = suite_create(suite);
	TCase *pure = tcase_create("no server");
	SRunner *sr;
	int failed;

	if (mysql_library_init(0, NULL, NULL) != 0)
		return EXIT_FAILURE;
	add_pure(pure);
	suite_add_tcase(s, pure);
	if (db_env_init(env)) {
		TCase *live = tcase_create("mariadb");

		tcase_set_timeout(live, 20);
		add_live(live);
		suite_add_tcase(s, live);
	}
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV); /* CK_VERBOSITY=verbose names every test */
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	mysql_library_end();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
