/*
 * taskapi: a Task API served over FastCGI, backed by MariaDB.
 * This file is the command line: it reads the configuration and hands over
 * to the migration runner or the server.
 */
#include "config.h"

#include <fcgiapp.h>
#include <getopt.h>
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "app.h"
#include "auth.h"
#include "auth_socket.h"
#include "cgi.h"
#include "cors.h"
#include "db_config.h"
#include "db_pool.h"
#include "health.h"
#include "idem_purge.h"
#include "listener.h"
#include "log.h"
#include "master.h"
#include "metrics.h"
#include "migrate.h"
#include "preflight.h"
#include "privileges.h"
#include "proctitle.h"
#include "server.h"
#include "task_store.h"
#include "token_cli.h"
#include "trace.h"
#include "xalloc.h"

extern char **environ;

#ifndef TASKAPI_CONFIG_FILE
#define TASKAPI_CONFIG_FILE "/etc/taskapi/taskapi.ini"
#endif

static void usage(FILE *out)
{
	fprintf(out,
		"usage: taskapi [options] [serve]     serve FastCGI requests (the default)\n"
		"       taskapi [options] migrate     apply pending database migrations\n"
		"       taskapi [options] token create|list|revoke ...\n"
		"                                     manage bearer tokens (auth.mode = token)\n"
		"       taskapi --check-config [options]\n"
		"\n"
		"options:\n"
		"  -c, --config FILE        INI configuration file (else $TASKAPI_CONFIG, else\n"
		"                           %s if it exists)\n"
		"  -s, --set SECTION.KEY=VALUE\n"
		"                           override one configuration key (repeatable)\n"
		"  -t, --check-config       validate the configuration and exit\n"
		"      --print-config       print the effective configuration (secrets masked) and exit\n"
		"      --workers N          worker processes (server.workers): 0 = one process,\n"
		"                           for debugging and valgrind; default one per core\n"
		"  -h, --help               show this help and exit\n"
		"  -V, --version            show the version and exit\n"
		"\n"
		"Every key can also be set with an environment variable TASKAPI_<SECTION>_<KEY>,\n"
		"e.g. TASKAPI_SERVER_LISTEN=/run/taskapi/taskapi.sock. Precedence: file, then\n"
		"environment, then --set. See taskapi(8) and docs/configuration.md.\n",
		TASKAPI_CONFIG_FILE);
}

static void die(const char *msg)
{
	fprintf(stderr, "taskapi: error: %s\n", msg);
	exit(1);
}

struct cli {
	const char *config_file;
	const char **sets;
	int n_sets;
	int check_only;
	int print_config;
	const char *command;
	char *workers_set; /* "server.workers=N" from --workers */
	int token_argc;    /* token: the words after it, for token_cli_main */
	char **token_argv;
};

static void parse_cli(int argc, char **argv, struct cli *cli)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "set", required_argument, NULL, 's' },
		{ "check-config", no_argument, NULL, 't' },
		{ "print-config", no_argument, NULL, 'P' },
		{ "workers", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	/* `token` has options of its own: the global ones end where it stands. */
	int end = token_cli_find(argc, argv);
	int opt;

	memset(cli, 0, sizeof *cli);
	/* Each --workers N becomes a --set; room for one per argument plus their text. */
	cli->sets = calloc((size_t)argc, sizeof *cli->sets);
	cli->workers_set = calloc(1, 64);
	if (cli->sets == NULL || cli->workers_set == NULL)
		die("out of memory");
	while ((opt = getopt_long(end, argv, "c:s:thV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': cli->config_file = optarg; break;
		case 's': cli->sets[cli->n_sets++] = optarg; break;
		case 't': cli->check_only = 1; break;
		case 'P': cli->print_config = 1; break;
		case 'w':
			snprintf(cli->workers_set, 64, "server.workers=%.40s", optarg);
			cli->sets[cli->n_sets++] = cli->workers_set;
			break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("taskapi %s\n", PACKAGE_VERSION); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (end < argc) {
		cli->command = "token";
		cli->token_argc = argc - end - 1;
		cli->token_argv = argv + end + 1;
		return;
	}
	cli->command = optind < argc ? argv[optind++] : "serve";
	if (optind < argc || (strcmp(cli->command, "serve") != 0 && strcmp(cli->command, "migrate") != 0)) {
		fprintf(stderr, "taskapi: error: unknown command '%s'\n", cli->command);
		usage(stderr);
		exit(2);
	}
}

/* Where a configuration came from, for --check-config to name. */
struct config_sources {
	const char *file;        /* the file read; NULL: none */
	char env[512];           /* the TASKAPI_* variables applied, comma-separated */
};

/*
 * Builds the configuration: defaults, the file, TASKAPI_* variables, then
 * --set flags. Used at start and again for every reload (SIGHUP). Goes on
 * past problems and records every one in problems; returns -1 when there is
 * any. *cfg is initialised either way; src (may be NULL) says what was read.
 */
static int read_config(const struct cli *cli, struct config *cfg, struct config_problems *problems,
		       struct config_sources *src)
{
	const char *file = cli->config_file ? cli->config_file : getenv("TASKAPI_CONFIG");
	char msg[CONFIG_ERR_SIZE];

	config_init(cfg);
	config_problems_init(problems);
	if (file == NULL && access(TASKAPI_CONFIG_FILE, R_OK) == 0)
		file = TASKAPI_CONFIG_FILE;
	if (file != NULL)
		config_load_file(cfg, file, problems);
	config_apply_env(cfg, environ, problems, src ? src->env : NULL, src ? sizeof src->env : 0);
	for (int i = 0; i < cli->n_sets; i++)
		if (config_set_pair(cfg, cli->sets[i], msg, sizeof msg) < 0)
			config_problem(problems, "--set %s: %s", cli->sets[i], msg);
	config_finish(cfg, problems);
	if (src != NULL)
		src->file = file;
	return config_problems_count(problems) > 0 ? -1 : 0;
}

/* Prints every problem, one "taskapi: error:" line each. */
static void print_problems(const struct config_problems *problems, const char *what)
{
	for (size_t i = 0; i < problems->n; i++)
		fprintf(stderr, "taskapi: %s: %s\n", what, problems->msg[i]);
	if (problems->more > 0)
		fprintf(stderr, "taskapi: %s: ... and %zu more\n", what, problems->more);
}

static void apply_log_level(const struct config *cfg)
{
	enum log_level level;
	enum log_format format;

	if (log_level_parse(cfg->log.level, &level) == 0)
		log_set_level(level);
	if (log_format_parse(cfg->log.access_format, &format) == 0)
		log_set_access_format(format);
	trace_set_sql_echo(cfg->log.sql_echo);
}

/* Opens log.error_log, log.access_log_file and log.slow_log_file (serve only). */
static int open_log_files(const struct config *cfg, char *err, size_t errlen)
{
	struct log_files files = { cfg->log.error_log, cfg->log.access_log_file, cfg->log.slow_log_file };

	return log_open_files(&files, err, errlen);
}

static void load_config(const struct cli *cli, struct config *cfg)
{
	struct config_problems problems;

	if (read_config(cli, cfg, &problems, NULL) < 0) {
		print_problems(&problems, "error");
		exit(1);
	}
	apply_log_level(cfg);
}

/* Loads what the auth mode needs (key files) once, to fail before any worker would. */
static int check_auth_keys(const struct config *cfg, char *err, size_t errlen)
{
	struct auth *auth;

	if (auth_new(cfg, NULL, &auth, err, errlen) < 0)
		return -1;
	auth_free(auth);
	return 0;
}

/* master_reload_fn: the same sources as at start, read again. */
static int reload_config(struct config *out, char *err, size_t errlen, void *ctx)
{
	struct config_problems problems;

	if (read_config(ctx, out, &problems, NULL) < 0) {
		config_problems_summary(&problems, err, errlen);
		return -1;
	}
	if (open_log_files(out, err, errlen) < 0)
		return -1;
	/* A key file that no longer loads would fail every new worker: keep the running ones. */
	if (!config_auth_chosen(out) || check_auth_keys(out, err, errlen) < 0) {
		if (!config_auth_chosen(out))
			snprintf(err, errlen, "auth.mode is not set");
		return -1;
	}
	apply_log_level(out);
	return 0;
}

/*
 * --check-config: names what was read, reports every problem (exit 1), then
 * warns about what would stop a start here as this user (exit 0: a real
 * start may be given a socket, or run as another user).
 */
static int check_config(const struct cli *cli)
{
	struct config cfg;
	struct config_problems problems, warnings;
	struct config_sources src = { NULL, "" };
	int rc = read_config(cli, &cfg, &problems, &src);

	if (src.file != NULL)
		printf("taskapi: configuration file %s\n", src.file);
	else
		printf("taskapi: no configuration file (no --config, no TASKAPI_CONFIG, and %s "
		       "is not there or not readable)\n", TASKAPI_CONFIG_FILE);
	if (src.env[0] != '\0')
		printf("taskapi: from the environment: %s\n", src.env);
	for (int i = 0; i < cli->n_sets; i++)
		printf("taskapi: from the command line: --set %s\n", cli->sets[i]);
	if (cfg.database.password_file[0] != '\0')
		printf("taskapi: password file %s\n", cfg.database.password_file);
	if (cfg.database.migrate_password_file[0] != '\0')
		printf("taskapi: migration password file %s\n", cfg.database.migrate_password_file);
	fflush(stdout);
	if (!config_auth_chosen(&cfg)) {
		config_problem(&problems, "auth.mode is not set: choose one of %s in the [auth] section",
			       CONFIG_AUTH_MODES);
		rc = -1;
	}
	if (src.file == NULL && src.env[0] == '\0' && cli->n_sets == 0) {
		config_problem(&problems, "no configuration at all: give a file with --config or "
			       "TASKAPI_CONFIG, install %s, or set TASKAPI_* variables", TASKAPI_CONFIG_FILE);
		rc = -1;
	}
	if (rc < 0) {
		print_problems(&problems, "error");
		fprintf(stderr, "taskapi: configuration has %zu error%s\n", config_problems_count(&problems),
			config_problems_count(&problems) == 1 ? "" : "s");
		config_release(&cfg);
		return 1;
	}
	if (cli->print_config)
		config_dump(&cfg, stdout);
	config_problems_init(&warnings);
	preflight_check(&cfg, src.file, &warnings);
	print_problems(&warnings, "warning");
	fflush(stderr);
	if (config_problems_count(&warnings) > 0)
		printf("taskapi: configuration ok, but a start here, as this user, would fail (%zu warning%s above)\n",
		       config_problems_count(&warnings), config_problems_count(&warnings) == 1 ? "" : "s");
	else
		printf("taskapi: configuration ok\n");
	config_release(&cfg);
	return 0;
}

/* Refuses to serve against a schema older than this build expects. */
static void check_schema(struct db_cluster *db)
{
	struct db_lease lease;
	unsigned version = 0;
	char err[512];

	if (db_cluster_acquire_at_start(db, DB_WRITE, &lease, err, sizeof err) != DB_ACQUIRED)
		die(err);
	if (task_store_schema_version(lease.conn, &version) != STORE_OK) {
		db_cluster_release(db, &lease);
		die("cannot read the schema version from schema_migrations");
	}
	db_cluster_release(db, &lease);
	if (version < TASK_STORE_SCHEMA_VERSION) {
		snprintf(err, sizeof err,
			 "the database schema is at version %u but this taskapi needs version %u: "
			 "run 'taskapi migrate' first", version, TASK_STORE_SCHEMA_VERSION);
		die(err);
	}
}

/*
 * One serving process (the only one with --workers 0, else each worker the
 * master starts): its own pool, its threads. master_worker_fn.
 */
static int run_worker(const struct config *cfg, int listen_fd, void *ctx)
{
	struct db_pool_options popt;
	struct app app;
	struct cors_policy *cors;
	struct idem_purge *purge;
	char err[512];
	int rc;

	(void)ctx;
	if (cors_policy_new(cfg, &cors, err, sizeof err) < 0) {
		log_error("%s", err);
		return 1;
	}
	db_config_pool(cfg, (unsigned)config_pool_size(cfg), &popt);
	app.cfg = cfg;
	app.cors = cors;
	app.db = db_config_cluster(cfg, &popt, err, sizeof err);
	if (app.db == NULL) {
		log_error("%s", err);
		cors_policy_free(cors);
		return 1;
	}
	app.ready_cache = health_cache_new();
	if (auth_new(cfg, app.db, &app.auth, err, sizeof err) < 0) {
		log_error("%s", err);
		db_cluster_free(app.db);
		health_cache_free(app.ready_cache);
		cors_policy_free(cors);
		return 1;
	}
	db_cluster_start(app.db);
	purge = idem_purge_start(cfg, app.db);
	rc = server_run(cfg, &app, listen_fd);
	if (rc == SERVER_ABANDONED) {
		/* Threads still hold pool connections: leave without tearing down what they use. */
		fflush(NULL);
		_exit(0);
	}
	idem_purge_stop(purge);
	auth_free(app.auth);
	db_cluster_free(app.db);
	health_cache_free(app.ready_cache);
	cors_policy_free(cors);
	return rc;
}

/* Checks the schema once, before any worker exists, with a connection of its own. */
static void check_schema_once(const struct config *cfg)
{
	struct db_pool_options popt;
	struct db_cluster *db;
	char err[512];

	db_config_pool(cfg, 1, &popt);
	popt.min_idle = 0;
	/* Connections must not cross fork(): these pools are gone before workers start. */
	db = db_config_cluster(cfg, &popt, err, sizeof err);
	if (db == NULL)
		die(err);
	check_schema(db);
	db_cluster_free(db);
}

/*
 * The shared metrics area (before any fork) and the admin socket. The route
 * names are the route table's plus those of answers made without a route.
 */
static int setup_observability(const struct config *cfg, int listen_fd, char *err, size_t errlen)
{
	static const char *names[METRICS_MAX_ROUTES];
	size_t n = 0;
	static const char *const unrouted[] = { "not_found", "method_not_allowed", "bad_request", "too_large",
						     cors_preflight_route };

	for (size_t i = 0; i < app_n_routes && n < METRICS_MAX_ROUTES - 1; i++)
		names[n++] = app_routes[i].name;
	for (size_t i = 0; i < sizeof unrouted / sizeof unrouted[0] && n < METRICS_MAX_ROUTES - 1; i++)
		names[n++] = unrouted[i];
	struct db_node_address nodes[DB_CLUSTER_MAX_NODES];
	const char *node_names[DB_CLUSTER_MAX_NODES];
	int n_nodes;

	if (metrics_setup(names, n, err, errlen) < 0)
		return -1;
	/* The node labels as at start: a reload that changes database.nodes keeps them (see docs). */
	n_nodes = db_config_nodes(cfg, nodes, err, errlen);
	if (n_nodes < 0)
		return -1;
	for (int i = 0; i < n_nodes; i++)
		node_names[i] = nodes[i].name;
	metrics_set_nodes(node_names, (size_t)n_nodes);
	return admin_open(cfg, listen_fd, err, errlen);
}

/*
 * What the chosen mode needs before anything listens: its key files load
 * (a worker would fail the same way, over and over), and none is said aloud.
 */
static int check_auth_mode(const struct config *cfg, char *err, size_t errlen)
{
	struct auth *auth;

	if (auth_new(cfg, NULL, &auth, err, errlen) < 0)
		return -1;
	/* Not per CGI request: that would be one line per request in the web server's log. */
	if (auth_mode_of(auth) == AUTH_MODE_NONE && !cgi_detect())
		log_warn("auth.mode = none: there is no authentication; every request is the owner '%s' "
			 "and may read, change and delete every task of it", cfg->auth.default_owner);
	auth_free(auth);
	return 0;
}

static int serve(const struct config *cfg, struct cli *cli)
{
	struct master_hooks hooks = { run_worker, reload_config, cli };
	struct listener listener;
	char err[1024];
	int listen_fd, rc;

	/* No silent default: an upgraded install is never opened or locked by surprise. */
	if (!config_auth_chosen(cfg))
		die("auth.mode is not set: choose one of " CONFIG_AUTH_MODES " in the [auth] section "
		    "(token: taskapi's own bearer tokens; remote_user: the web server authenticates; "
		    "jwt: tokens of an identity provider; none: no authentication, one owner for every request)");
	if (check_auth_mode(cfg, err, sizeof err) < 0)
		die(err);
	/* ---- deployment modes: who may run (privileges.c) ---- */
	if (privileges_check(cfg, err, sizeof err) < 0)
		die(err);
	if (open_log_files(cfg, err, sizeof err) < 0)
		die(err);
	/* ---- deployment modes: plain CGI answers one request and exits (cgi.c) ---- */
	if (cgi_detect())
		return cgi_main(cfg);
	check_schema_once(cfg);
	server_raise_fd_limit();
	listen_fd = listener_take(&listener, cfg, err, sizeof err);
	if (listen_fd < 0)
		die(err);
	/* remote_user: only the web server may be able to connect (auth_socket.h). */
	if (auth_socket_check(cfg, listen_fd, err, sizeof err) < 0) {
		listener_close(&listener);
		die(err);
	}
	/* ---- deployment modes: root is given up once the sockets are open, before workers (privileges.c) ---- */
	if (setup_observability(cfg, listen_fd, err, sizeof err) < 0 ||
	    privileges_drop(cfg, err, sizeof err) < 0) {
		/* No socket file of ours may outlive a failed start. */
		listener_close(&listener);
		admin_close();
		die(err);
	}
	server_prepare_signals();
	if (FCGX_Init() != 0)
		die("FCGX_Init failed");
	if (config_workers(cfg) == 0) {
		metrics_attach_self(cfg->server.threads);
		admin_thread_start();
		rc = run_worker(cfg, listen_fd, NULL);
		admin_thread_stop();
	} else {
		rc = master_run(cfg, listen_fd, &hooks);
	}
	/* Each removes the unix socket file it created, if it did. */
	listener_close(&listener);
	admin_close();
	return rc;
}

int main(int argc, char **argv)
{
	struct cli cli;
	struct config cfg;
	char err[1024];
	int rc = 0;

	xalloc_init(); /* first: jansson allocates under the same out-of-memory policy */
	/* Before anything keeps a pointer into argv: the master's title goes over it. */
	argv = proctitle_init(argc, argv);
	parse_cli(argc, argv, &cli);
	if (cli.check_only) {
		rc = check_config(&cli);
		free(cli.sets);
		free(cli.workers_set);
		return rc;
	}
	load_config(&cli, &cfg);
	if (cli.print_config) {
		config_dump(&cfg, stdout);
		goto out;
	}
	/* Not thread-safe: must run before any thread exists. */
	if (mysql_library_init(0, NULL, NULL) != 0)
		die("cannot initialise the MariaDB client library");
	if (strcmp(cli.command, "token") == 0) {
		rc = token_cli_main(&cfg, cli.token_argc, cli.token_argv);
	} else if (strcmp(cli.command, "migrate") == 0) {
		if (migrate_run(&cfg, stdout, err, sizeof err) < 0) {
			fprintf(stderr, "taskapi: error: %s\n", err);
			rc = 1;
		}
	} else {
		rc = serve(&cfg, &cli);
	}
	mysql_library_end();
out:
	config_release(&cfg);
	free(cli.sets);
	free(cli.workers_set);
	return rc;
}
