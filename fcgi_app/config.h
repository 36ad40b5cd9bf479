#ifndef TASKAPI_CONFIG_H
#define TASKAPI_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/*
 * taskapi's configuration: an INI file (libinih), then TASKAPI_<SECTION>_<KEY>
 * environment variables, then --set section.key=value flags, each overriding
 * the one before. Every key, its default and its meaning live in one table in
 * config.c; docs/configuration.md and etc/taskapi.ini.example mirror it.
 *
 * Strings are owned by the struct and freed by config_release().
 */
struct config {
	struct {
		char *listen;           /* unix path, host:port, [v6]:port; "" = fd 0 */
		int threads;
		int backlog;
		int socket_mode;        /* octal permission bits for a unix socket */
		char *socket_owner;     /* owner of a unix socket taskapi creates; "" = server.user */
		char *socket_group;     /* its group; "" = server.group */
		char *user;             /* started as root: switch to this user once listening */
		char *group;            /* ... and this group; "" = the user's primary group */
		long max_body_bytes;
		long max_params_bytes;  /* FastCGI PARAMS of one request, all records together */
		int max_records;        /* FastCGI records of one request */
		int max_connections;    /* FastCGI connections open in one worker process */
		int idle_timeout_ms;    /* a new connection's silence before its first byte */
		int request_timeout_ms; /* first byte to whole request */
		int keepalive_timeout_ms; /* a kept connection's silence between requests */
		bool allow_root;
		int shutdown_timeout_s;
		int workers;            /* worker processes; 0 = one process, -1 = one per core */
		long max_requests;      /* per worker process before it is recycled; 0 = never */
		int io_timeout_ms;      /* FastCGI socket reads/writes */
		int drain_timeout_ms;   /* graceful stop/reload: serve kept connections this long */
		int crash_threshold;    /* this many worker crashes ... */
		int crash_interval_s;   /* ... within this window: back off before respawning */
		char *admin_listen;     /* socket for /metrics and /status; "" = none */
	} server;
	struct {
		char *socket;
		char *host;
		int port;
		char *name;
		char *user;
		char *password;
		char *password_file;
		int pool_size;          /* 0 = server.threads */
		int acquire_timeout_ms;
		int connect_timeout_s;
		int read_timeout_s;
		int write_timeout_s;
		int validation_idle_ms;
		int min_idle;             /* connections kept open; -1 (auto) = pool size */
		int max_lifetime_s;       /* 0 = forever */
		int keepalive_s;          /* ping idle connections this often; 0 = never */
		int deadlock_retries;
		int wait_at_start_s;      /* 0 = fail fast */
		int statement_timeout_ms; /* 0 = none */
		char *migrations_dir;
		char *migrate_user;
		char *migrate_password;
		char *migrate_password_file;
		/* Several servers (db_cluster.h): single, galera or primary_replicas. */
		char *topology;
		char *nodes;              /* "host:port, host:port, /path/socket"; "" = host/port/socket */
		int health_interval_ms;   /* each node's background check */
		int node_down_ms;         /* a failed node is skipped this long, then tried again */
		char *read_consistency;   /* causal (read-your-writes) or eventual */
		/* TLS to the server: with ssl_ca set, the server's certificate is verified. */
		char *ssl_ca;
		char *ssl_cert;           /* client certificate, "" = none */
		char *ssl_key;
		bool ssl_verify_server_cert;
	} database;
	struct {
		int retention_s;          /* how long a key is remembered */
		int purge_interval_s;     /* how often expired keys are deleted, per worker */
	} idempotency;
	struct {
		int default_limit;
		int max_limit;
		/* Input rules: false = pydantic v2's lax mode (the seed's), true = JSON booleans only, unknown POST fields refused. */
		bool strict;
		/* The path prefix the API is served under ("/api"); "" = under CGI from SCRIPT_NAME/PATH_INFO, else none. */
		char *root_path;
		bool docs;                /* GET /docs and /redoc */
	} api;
	struct {
		/* Cross-origin requests (CORS); "" = off. Comma-separated origins, or "*". */
		char *allow_origins;
		char *allow_methods;      /* answered to a preflight */
		char *allow_headers;      /* request headers a preflight may ask for */
		bool allow_credentials;   /* Access-Control-Allow-Credentials: true; not with "*" */
		int max_age;              /* how long a browser may cache a preflight, seconds */
	} cors;
	struct {
		char *mode;               /* token, remote_user, jwt or none; "" = not chosen: serve refuses */
		char *default_owner;      /* the owner in mode none, and of tasks older than migration 003 */
		long max_tasks_per_owner; /* 0 = no quota */
		char *token_key_file;     /* HMAC-SHA-256 key for taskapi's own tokens (mode token) */
		int token_max_lifetime_days; /* the longest a token may live; also the default */
		int token_cache_ms;       /* how long a worker trusts a token it looked up */
		char *token_admin_user;   /* database account of `taskapi token` (rights on api_tokens only) */
		char *token_admin_password;
		char *token_admin_password_file;
		bool remote_user_any_socket; /* mode remote_user over TCP or a shared socket: allowed */
		char *jwt_jwks_file;      /* public keys (JWKS), reread by every new worker (SIGHUP) */
		char *jwt_hs256_secret_file; /* HS256 is accepted only with this secret */
		char *jwt_issuer;         /* required "iss" when set */
		char *jwt_audience;       /* required in "aud" when set */
		char *jwt_owner_claim;    /* the claim that names the owner */
		int jwt_leeway_s;         /* clock skew allowed on exp and nbf */
	} auth;
	struct {
		char *level;
		int access_log;         /* -1 auto (config_access_log), 0 off, 1 on */
		char *access_format;    /* "text" or "json" */
		char *error_log;        /* file; "" = stderr */
		char *access_log_file;  /* file; "" = the error log */
		int slow_request_ms;    /* log requests slower than this; 0 = off */
		char *slow_log_file;    /* file; "" = the error log */
		bool sql_echo;          /* every SQL statement with its parameters, at info level */
	} log;
};

#define CONFIG_ERR_SIZE 256
#define CONFIG_MAX_PROBLEMS 32

/*
 * Every problem found while building a configuration, one line of text each,
 * so that one run names them all (a bad threads and a bad pool_size both).
 * Owned by the caller, fixed size: recording a problem never allocates.
 * Past CONFIG_MAX_PROBLEMS they are only counted (more).
 */
struct config_problems {
	size_t n;
	size_t more;
	char msg[CONFIG_MAX_PROBLEMS][CONFIG_ERR_SIZE];
};

/* Empties p. */
void config_problems_init(struct config_problems *p);
/* Records one problem (printf format). */
void config_problem(struct config_problems *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Total number recorded, those only counted included. */
size_t config_problems_count(const struct config_problems *p);
/*
 * The first problem in err, with "(and N more)" when there are others: for
 * callers with room for one line (a reload's log line).
 */
void config_problems_summary(const struct config_problems *p, char *err, size_t errlen);

/* Fills every key with its default. Call config_release() when done. */
void config_init(struct config *cfg);
/* Frees every string; safe to call twice. */
void config_release(struct config *cfg);

/*
 * Sets one key from its text form, with the same parsing and range checks for
 * the file, the environment and flags. Returns 0, or -1 with a message in err.
 */
int config_set(struct config *cfg, const char *section, const char *key,
	       const char *value, char *err, size_t errlen);
/* "section.key=value", as given to --set. */
int config_set_pair(struct config *cfg, const char *pair, char *err, size_t errlen);
/*
 * Reads an INI file, going on past bad lines: every unknown section or key
 * (typos must not pass), bad value and syntax error is recorded in problems
 * as "PATH: line N: ...". Returns 0 when the file was read without a
 * problem, -1 otherwise (also when it cannot be opened).
 */
int config_load_file(struct config *cfg, const char *path, struct config_problems *problems);
/*
 * Applies TASKAPI_<SECTION>_<KEY> variables found in envp (NULL-terminated);
 * each bad value is recorded. names, when not NULL, gets the names of the
 * variables applied, comma-separated (caller's buffer of namelen bytes).
 * Returns 0, or -1 when any was bad.
 */
int config_apply_env(struct config *cfg, char *const *envp, struct config_problems *problems,
		     char *names, size_t namelen);
/*
 * Cross-key checks and secret loading: reads password_file (refusing a file
 * that others can read) into password. Every failed check is recorded.
 * Returns 0 or -1.
 */
int config_finish(struct config *cfg, struct config_problems *problems);

/* Worker processes after defaults: server.workers, or the number of cores for "auto". */
int config_workers(const struct config *cfg);

/*
 * Whether to write access lines: log.access_log, where "auto" means on when
 * serving FastCGI and off in CGI mode (cgi true), whose stderr is the web
 * server's error log: one line per request there is noise.
 */
bool config_access_log(const struct config *cfg, bool cgi);

/* The accepted values of auth.mode, for messages. */
#define CONFIG_AUTH_MODES "token, remote_user, jwt or none"
/* The longest owner name, in bytes (the owner column is VARBINARY(255)). */
#define CONFIG_OWNER_MAX 255

/*
 * Whether auth.mode was set at all. There is no default: serving without a
 * choice is refused, so an upgraded install is never opened or locked by surprise.
 */
bool config_auth_chosen(const struct config *cfg);

/* 0 when owner[0..len) may name an owner: 1..CONFIG_OWNER_MAX bytes, no control characters or spaces. */
int config_owner_check(const char *owner, size_t len);

/* Pool size after defaults: pool_size, or threads when pool_size is 0. */
int config_pool_size(const struct config *cfg);

/* Writes the effective configuration as INI, with secrets masked. */
void config_dump(const struct config *cfg, FILE *out);

/*
 * Reads the first line of a secret file into *out (replacing it). Refuses a
 * file that others can read or write, or that its group can write: the owner
 * and a reading group (mode 0640) are the only ones who may see it.
 */
int config_read_secret_file(const char *path, char **out, char *err, size_t errlen);

#endif
