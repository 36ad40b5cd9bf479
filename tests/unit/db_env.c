#include "db_env.h"

#include "auth.h"

#include <check.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#include "config.h"
#include "db_pool.h"
#include "unit.h"

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

/* mysql_library_end() as the runner exits: atexit() wants a function of no value. */
static void library_end(void)
{
	mysql_library_end();
}

Suite *db_env_suite(const char *name, struct db_env *env, void (*add_pure)(TCase *),
		    void (*add_live)(TCase *))
{
	Suite *s = suite_create(name);

	/* Not thread-safe: before any test starts a thread. */
	if (mysql_library_init(0, NULL, NULL) != 0)
		abort();
	atexit(library_end);
	add_pure(unit_tcase(s, "no server"));
	if (db_env_init(env)) {
		TCase *live = unit_tcase(s, "mariadb");

		tcase_set_timeout(live, 20);
		add_live(live);
	}
	return s;
}

struct db_cluster *db_env_single(const struct db_options *opt, const struct db_pool_options *popt)
{
	struct db_cluster_options copt = { DB_TOPOLOGY_SINGLE, 500, 3000, true };
	struct db_node_address node;
	struct db_cluster *db;
	char err[256];

	memset(&node, 0, sizeof node);
	snprintf(node.name, sizeof node.name, "test");
	if (opt->socket != NULL)
		snprintf(node.socket, sizeof node.socket, "%s", opt->socket);
	if (opt->host != NULL)
		snprintf(node.host, sizeof node.host, "%s", opt->host);
	node.port = opt->port;
	db = db_cluster_new(opt, popt, &copt, &node, 1, err, sizeof err);
	ck_assert_msg(db != NULL, "%s", err);
	return db;
}

void app_fixture_init(struct app_fixture *f, const struct db_options *opt, unsigned size)
{
	struct db_pool_options popt;

	char err[256];

	config_init(&f->cfg);
	ck_assert_int_eq(config_set(&f->cfg, "auth", "mode", "none", err, sizeof err), 0);
	db_pool_options_init(&popt, size);
	popt.acquire_timeout_ms = 300;
	f->app.cfg = &f->cfg;
	f->app.db = db_env_single(opt, &popt);
	f->app.ready_cache = NULL; /* each /readyz asks: tests see the database's answer at once */
	f->app.cors = NULL;
	ck_assert_int_eq(auth_new(&f->cfg, f->app.db, &f->app.auth, err, sizeof err), 0);
	request_init(&f->req);
	response_init(&f->resp);
}

void app_fixture_release(struct app_fixture *f)
{
	response_release(&f->resp);
	request_release(&f->req);
	auth_free(f->app.auth);
	db_cluster_free(f->app.db);
	config_release(&f->cfg);
}
