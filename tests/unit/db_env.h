#ifndef TASKAPI_TEST_DB_ENV_H
#define TASKAPI_TEST_DB_ENV_H

#include <check.h>
#include <stdbool.h>

#include "app.h"
#include "auth.h"
#include "config.h"
#include "db_cluster.h"
#include "db_conn.h"
#include "request.h"
#include "response.h"

/*
 * The test database for the unit tests that need one (db_conn, db_pool,
 * app): named by TASKAPI_TEST_DB_SOCKET, TASKAPI_TEST_DB_USER,
 * TASKAPI_TEST_DB_PASSWORD_FILE and TASKAPI_TEST_DB_NAME, which
 * tests/e2e/70-pool-unit.sh sets for the private stack. Under plain
 * `make check` they are unset and the live cases are left out.
 */
struct db_env {
	struct db_options opt;  /* password points into password */
	char password[256];
};

/* Options for a socket nobody listens on: every connection attempt fails at once. */
extern const struct db_options db_env_nowhere;

/* Fills env from the environment; false (after saying why, if it is not just unset) when no server is named. */
bool db_env_init(struct db_env *env);

/* The first column of the first row of sql in milli-units (1.5 -> 1500); -1 on error. */
long long db_env_scalar(MYSQL *mysql, const char *sql);

/* Kills server thread id from a connection of its own (a user may kill its own); fails the test otherwise. */
void db_env_kill(const struct db_env *env, unsigned long id);

/*
 * The suite of such a test, for unit_suite() (tests/unit/unit.h): the "no
 * server" cases add_pure adds and, when db_env_init(env) finds a server, the
 * "mariadb" cases add_live adds (20 s each at most). Initialises the MariaDB
 * library and ends it at exit.
 */
Suite *db_env_suite(const char *name, struct db_env *env, void (*add_pure)(TCase *),
		    void (*add_live)(TCase *));

/*
 * An application with default settings and a pool of size connections to opt
 * (acquires give up after 300 ms), with a request and a response to hand a
 * handler: what test_app and test_health call handlers with. The fixture owns
 * all of it until app_fixture_release.
 */
struct app_fixture {
	struct config cfg;
	struct app app;
	struct request req;
	struct response resp;
	struct auth_identity who;
};

void app_fixture_init(struct app_fixture *f, const struct db_options *opt, unsigned size);

/* A one-node cluster over opt and popt, as the program makes for topology = single. */
struct db_cluster *db_env_single(const struct db_options *opt, const struct db_pool_options *popt);
void app_fixture_release(struct app_fixture *f);

#endif
