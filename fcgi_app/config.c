#include "config.h"

#include <errno.h>
#include <ctype.h>
#include <fcntl.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cors.h"
#include "db_cluster.h"
#include "db_pool.h"
#include "log.h"
#include "utf8.h"
#include "xalloc.h"

/* A numeric default from another module's header, as the option table's text. */
#define DEFAULT_TEXT(n) DEFAULT_TEXT_(n)
#define DEFAULT_TEXT_(n) #n

#ifndef TASKAPI_MIGRATIONS_DIR
#define TASKAPI_MIGRATIONS_DIR "sql"
#endif

/* OPT_AUTO_BOOL: true, false or "auto" (-1: the program decides where it runs), in an int. */
enum option_type { OPT_STRING, OPT_INT, OPT_BOOL, OPT_AUTO_BOOL, OPT_MODE, OPT_LONG };

struct config_key {
	const char *section;
	const char *key;
	enum option_type type;
	size_t offset;
	const char *def;
	long min, max;
	bool secret;
};

#define OFF(field) offsetof(struct config, field)

/* server.workers = auto: one a core, but no more than this many processes. */
#define CONFIG_AUTO_WORKERS_MAX 256

/* The one list of keys: defaults and ranges. Documented in docs/configuration.md. */
static const struct config_key options[] = {
	{ "server", "listen", OPT_STRING, OFF(server.listen), "", 0, 0, false },
	{ "server", "threads", OPT_INT, OFF(server.threads), "8", 1, 1024, false },
	{ "server", "backlog", OPT_INT, OFF(server.backlog), "4096", 1, 65535, false },
	{ "server", "socket_mode", OPT_MODE, OFF(server.socket_mode), "0660", 0, 0777, false },
	{ "server", "socket_owner", OPT_STRING, OFF(server.socket_owner), "", 0, 0, false },
	{ "server", "socket_group", OPT_STRING, OFF(server.socket_group), "", 0, 0, false },
	{ "server", "max_body_bytes", OPT_LONG, OFF(server.max_body_bytes), "65536", 1, 1L << 20, false },
	{ "server", "max_params_bytes", OPT_LONG, OFF(server.max_params_bytes), "65536", 1024, 1L << 20, false },
	{ "server", "max_records", OPT_INT, OFF(server.max_records), "512", 8, 65536, false },
	{ "server", "max_connections", OPT_INT, OFF(server.max_connections), "1024", 16, 1000000, false },
	{ "server", "idle_timeout_ms", OPT_INT, OFF(server.idle_timeout_ms), "10000", 100, 3600000, false },
	{ "server", "request_timeout_ms", OPT_INT, OFF(server.request_timeout_ms), "30000", 100, 3600000, false },
	{ "server", "keepalive_timeout_ms", OPT_INT, OFF(server.keepalive_timeout_ms), "120000", 1000, 86400000, false },
	{ "server", "allow_root", OPT_BOOL, OFF(server.allow_root), "false", 0, 0, false },
	{ "server", "user", OPT_STRING, OFF(server.user), "", 0, 0, false },
	{ "server", "group", OPT_STRING, OFF(server.group), "", 0, 0, false },
	{ "server", "shutdown_timeout_s", OPT_INT, OFF(server.shutdown_timeout_s), "10", 0, 3600, false },
	{ "server", "workers", OPT_INT, OFF(server.workers), "auto", -1, 256, false },
	{ "server", "max_requests", OPT_LONG, OFF(server.max_requests), "0", 0, LONG_MAX, false },
	{ "server", "io_timeout_ms", OPT_INT, OFF(server.io_timeout_ms), "5000", 100, 3600000, false },
	{ "server", "drain_timeout_ms", OPT_INT, OFF(server.drain_timeout_ms), "10000", 0, 600000, false },
	{ "server", "crash_threshold", OPT_INT, OFF(server.crash_threshold), "5", 1, 1000, false },
	{ "server", "crash_interval_s", OPT_INT, OFF(server.crash_interval_s), "10", 1, 3600, false },
	{ "server", "admin_listen", OPT_STRING, OFF(server.admin_listen), "", 0, 0, false },
	{ "database", "socket", OPT_STRING, OFF(database.socket), "", 0, 0, false },
	{ "database", "host", OPT_STRING, OFF(database.host), "127.0.0.1", 0, 0, false },
	{ "database", "port", OPT_INT, OFF(database.port), "3306", 1, 65535, false },
	{ "database", "name", OPT_STRING, OFF(database.name), "taskapi", 0, 0, false },
	{ "database", "user", OPT_STRING, OFF(database.user), "taskapi", 0, 0, false },
	{ "database", "password", OPT_STRING, OFF(database.password), "", 0, 0, true },
	{ "database", "password_file", OPT_STRING, OFF(database.password_file), "", 0, 0, false },
	{ "database", "pool_size", OPT_INT, OFF(database.pool_size), "0", 0, 1024, false },
	{ "database", "acquire_timeout_ms", OPT_INT, OFF(database.acquire_timeout_ms), DEFAULT_TEXT(DB_POOL_DEFAULT_ACQUIRE_TIMEOUT_MS), 1, 600000, false },
	{ "database", "connect_timeout_s", OPT_INT, OFF(database.connect_timeout_s), "5", 1, 3600, false },
	{ "database", "read_timeout_s", OPT_INT, OFF(database.read_timeout_s), "10", 1, 3600, false },
	{ "database", "write_timeout_s", OPT_INT, OFF(database.write_timeout_s), "10", 1, 3600, false },
	{ "database", "validation_idle_ms", OPT_INT, OFF(database.validation_idle_ms), DEFAULT_TEXT(DB_POOL_DEFAULT_VALIDATION_IDLE_MS), 0, 3600000, false },
	{ "database", "min_idle", OPT_INT, OFF(database.min_idle), "auto", -1, 1024, false },
	{ "database", "max_lifetime_s", OPT_INT, OFF(database.max_lifetime_s), DEFAULT_TEXT(DB_POOL_DEFAULT_MAX_LIFETIME_S), 0, 604800, false },
	{ "database", "keepalive_s", OPT_INT, OFF(database.keepalive_s), DEFAULT_TEXT(DB_POOL_DEFAULT_KEEPALIVE_S), 0, 86400, false },
	{ "database", "deadlock_retries", OPT_INT, OFF(database.deadlock_retries), DEFAULT_TEXT(DB_POOL_DEFAULT_DEADLOCK_RETRIES), 0, 10, false },
	{ "database", "wait_at_start_s", OPT_INT, OFF(database.wait_at_start_s), DEFAULT_TEXT(DB_POOL_DEFAULT_WAIT_AT_START_S), 0, 3600, false },
	{ "database", "statement_timeout_ms", OPT_INT, OFF(database.statement_timeout_ms), "5000", 0, 3600000, false },
	{ "database", "migrations_dir", OPT_STRING, OFF(database.migrations_dir), TASKAPI_MIGRATIONS_DIR, 0, 0, false },
	{ "database", "migrate_user", OPT_STRING, OFF(database.migrate_user), "", 0, 0, false },
	{ "database", "migrate_password", OPT_STRING, OFF(database.migrate_password), "", 0, 0, true },
	{ "database", "migrate_password_file", OPT_STRING, OFF(database.migrate_password_file), "", 0, 0, false },
	{ "database", "topology", OPT_STRING, OFF(database.topology), "single", 0, 0, false },
	{ "database", "nodes", OPT_STRING, OFF(database.nodes), "", 0, 0, false },
	{ "database", "health_interval_ms", OPT_INT, OFF(database.health_interval_ms), "500", 100, 1000, false },
	{ "database", "node_down_ms", OPT_INT, OFF(database.node_down_ms), "3000", 100, 600000, false },
	{ "database", "read_consistency", OPT_STRING, OFF(database.read_consistency), "causal", 0, 0, false },
	{ "database", "ssl_ca", OPT_STRING, OFF(database.ssl_ca), "", 0, 0, false },
	{ "database", "ssl_cert", OPT_STRING, OFF(database.ssl_cert), "", 0, 0, false },
	{ "database", "ssl_key", OPT_STRING, OFF(database.ssl_key), "", 0, 0, false },
	{ "database", "ssl_verify_server_cert", OPT_BOOL, OFF(database.ssl_verify_server_cert), "true", 0, 0, false },
	{ "idempotency", "retention_s", OPT_INT, OFF(idempotency.retention_s), "86400", 1, 2592000, false },
	{ "idempotency", "purge_interval_s", OPT_INT, OFF(idempotency.purge_interval_s), "60", 1, 86400, false },
	{ "api", "default_limit", OPT_INT, OFF(api.default_limit), "10", 1, 100000, false },
	{ "api", "max_limit", OPT_INT, OFF(api.max_limit), "100", 1, 100000, false },
	{ "api", "strict", OPT_BOOL, OFF(api.strict), "false", 0, 0, false },
	{ "api", "root_path", OPT_STRING, OFF(api.root_path), "", 0, 0, false },
	{ "api", "docs", OPT_BOOL, OFF(api.docs), "true", 0, 0, false },
	{ "cors", "allow_origins", OPT_STRING, OFF(cors.allow_origins), "", 0, 0, false },
	{ "cors", "allow_methods", OPT_STRING, OFF(cors.allow_methods), "GET, HEAD, POST, PATCH, DELETE", 0, 0, false },
	{ "cors", "allow_headers", OPT_STRING, OFF(cors.allow_headers), "Authorization, Content-Type, If-Match, If-None-Match, Idempotency-Key", 0, 0, false },
	{ "cors", "allow_credentials", OPT_BOOL, OFF(cors.allow_credentials), "false", 0, 0, false },
	{ "cors", "max_age", OPT_INT, OFF(cors.max_age), "600", 0, 86400, false },
	{ "auth", "mode", OPT_STRING, OFF(auth.mode), "", 0, 0, false },
	{ "auth", "default_owner", OPT_STRING, OFF(auth.default_owner), "local", 0, 0, false },
	{ "auth", "max_tasks_per_owner", OPT_LONG, OFF(auth.max_tasks_per_owner), "0", 0, 1000000000L, false },
	{ "auth", "token_key_file", OPT_STRING, OFF(auth.token_key_file), "", 0, 0, false },
	{ "auth", "token_max_lifetime_days", OPT_INT, OFF(auth.token_max_lifetime_days), "90", 1, 3650, false },
	{ "auth", "token_cache_ms", OPT_INT, OFF(auth.token_cache_ms), "2000", 0, 4000, false },
	{ "auth", "token_admin_user", OPT_STRING, OFF(auth.token_admin_user), "taskapi_tokens", 0, 0, false },
	{ "auth", "token_admin_password", OPT_STRING, OFF(auth.token_admin_password), "", 0, 0, true },
	{ "auth", "token_admin_password_file", OPT_STRING, OFF(auth.token_admin_password_file), "", 0, 0, false },
	{ "auth", "remote_user_any_socket", OPT_BOOL, OFF(auth.remote_user_any_socket), "false", 0, 0, false },
	{ "auth", "jwt_jwks_file", OPT_STRING, OFF(auth.jwt_jwks_file), "", 0, 0, false },
	{ "auth", "jwt_hs256_secret_file", OPT_STRING, OFF(auth.jwt_hs256_secret_file), "", 0, 0, false },
	{ "auth", "jwt_issuer", OPT_STRING, OFF(auth.jwt_issuer), "", 0, 0, false },
	{ "auth", "jwt_audience", OPT_STRING, OFF(auth.jwt_audience), "", 0, 0, false },
	{ "auth", "jwt_owner_claim", OPT_STRING, OFF(auth.jwt_owner_claim), "sub", 0, 0, false },
	{ "auth", "jwt_leeway_s", OPT_INT, OFF(auth.jwt_leeway_s), "30", 0, 600, false },
	{ "log", "level", OPT_STRING, OFF(log.level), "info", 0, 0, false },
	{ "log", "access_log", OPT_AUTO_BOOL, OFF(log.access_log), "auto", 0, 0, false },
	{ "log", "access_format", OPT_STRING, OFF(log.access_format), "text", 0, 0, false },
	{ "log", "error_log", OPT_STRING, OFF(log.error_log), "", 0, 0, false },
	{ "log", "access_log_file", OPT_STRING, OFF(log.access_log_file), "", 0, 0, false },
	{ "log", "slow_request_ms", OPT_INT, OFF(log.slow_request_ms), "0", 0, 3600000, false },
	{ "log", "slow_log_file", OPT_STRING, OFF(log.slow_log_file), "", 0, 0, false },
	{ "log", "sql_echo", OPT_BOOL, OFF(log.sql_echo), "false", 0, 0, false },
};

#define N_OPTIONS (sizeof options / sizeof options[0])

void config_problems_init(struct config_problems *p)
{
	p->n = 0;
	p->more = 0;
}

void config_problem(struct config_problems *p, const char *fmt, ...)
{
	va_list ap;

	if (p->n == CONFIG_MAX_PROBLEMS) {
		p->more++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(p->msg[p->n++], CONFIG_ERR_SIZE, fmt, ap);
	va_end(ap);
}

size_t config_problems_count(const struct config_problems *p)
{
	return p->n + p->more;
}

void config_problems_summary(const struct config_problems *p, char *err, size_t errlen)
{
	size_t others = config_problems_count(p) - (p->n > 0);

	if (p->n == 0) {
		snprintf(err, errlen, "no problem");
		return;
	}
	if (others == 0)
		snprintf(err, errlen, "%s", p->msg[0]);
	else
		snprintf(err, errlen, "%s (and %zu more)", p->msg[0], others);
}

static void *field(struct config *cfg, const struct config_key *o)
{
	return (char *)cfg + o->offset;
}

static const void *cfield(const struct config *cfg, const struct config_key *o)
{
	return (const char *)cfg + o->offset;
}

static const struct config_key *find_option(const char *section, const char *key)
{
	for (size_t i = 0; i < N_OPTIONS; i++)
		if (strcmp(options[i].section, section) == 0 && strcmp(options[i].key, key) == 0)
			return &options[i];
	return NULL;
}

static int parse_long(const char *value, int base, long *out)
{
	char *end;
	long v;

	while (isspace((unsigned char)*value))
		value++;
	if (*value == '\0')
		return -1;
	errno = 0;
	v = strtol(value, &end, base);
	if (errno != 0)
		return -1;
	while (isspace((unsigned char)*end))
		end++;
	if (*end != '\0')
		return -1;
	*out = v;
	return 0;
}

static int parse_bool(const char *value, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(value, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(value, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

static int set_option(struct config *cfg, const struct config_key *o, const char *value,
		      char *err, size_t errlen)
{
	long v;

	switch (o->type) {
	case OPT_STRING: {
		char **slot = field(cfg, o);

		free(*slot);
		*slot = xstrdup(value);
		return 0;
	}
	case OPT_BOOL:
		if (parse_bool(value, field(cfg, o)) < 0) {
			snprintf(err, errlen, "invalid value for %s.%s: '%s' (expected true or false)",
				 o->section, o->key, value);
			return -1;
		}
		return 0;
	case OPT_AUTO_BOOL: {
		bool b;

		if (strcasecmp(value, "auto") == 0) {
			*(int *)field(cfg, o) = -1;
			return 0;
		}
		if (parse_bool(value, &b) < 0) {
			snprintf(err, errlen, "invalid value for %s.%s: '%s' (expected auto, true or false)",
				 o->section, o->key, value);
			return -1;
		}
		*(int *)field(cfg, o) = b;
		return 0;
	}
	case OPT_INT:
	case OPT_LONG:
	case OPT_MODE:
		/* Keys that accept -1 take "auto" for it (e.g. server.workers: one per core). */
		if (o->min == -1 && strcasecmp(value, "auto") == 0) {
			*(int *)field(cfg, o) = -1;
			return 0;
		}
		if (parse_long(value, o->type == OPT_MODE ? 8 : 10, &v) < 0) {
			snprintf(err, errlen, "invalid value for %s.%s: '%s' (expected %s)",
				 o->section, o->key, value,
				 o->type == OPT_MODE ? "an octal mode such as 0660" : "an integer");
			return -1;
		}
		if (v < o->min || v > o->max) {
			snprintf(err, errlen, "invalid value for %s.%s: %s is outside %ld..%ld",
				 o->section, o->key, value, o->min, o->max);
			return -1;
		}
		if (o->type == OPT_LONG)
			*(long *)field(cfg, o) = v;
		else
			*(int *)field(cfg, o) = (int)v;
		return 0;
	}
	return -1;
}

void config_init(struct config *cfg)
{
	char err[CONFIG_ERR_SIZE];

	memset(cfg, 0, sizeof *cfg);
	for (size_t i = 0; i < N_OPTIONS; i++)
		if (set_option(cfg, &options[i], options[i].def, err, sizeof err) < 0)
			abort(); /* a default outside its own range is a bug in the table */
}

void config_release(struct config *cfg)
{
	for (size_t i = 0; i < N_OPTIONS; i++) {
		if (options[i].type == OPT_STRING) {
			char **slot = field(cfg, &options[i]);

			free(*slot);
			*slot = NULL;
		}
	}
}

int config_set(struct config *cfg, const char *section, const char *key,
	       const char *value, char *err, size_t errlen)
{
	const struct config_key *o = find_option(section, key);

	if (o == NULL) {
		snprintf(err, errlen, "unknown configuration key '%s.%s'", section, key);
		return -1;
	}
	return set_option(cfg, o, value, err, errlen);
}

int config_set_pair(struct config *cfg, const char *pair, char *err, size_t errlen)
{
	const char *dot = strchr(pair, '.');
	const char *eq = strchr(pair, '=');
	char section[64], key[64];

	if (dot == NULL || eq == NULL || dot > eq || (size_t)(dot - pair) >= sizeof section ||
	    (size_t)(eq - dot - 1) >= sizeof key) {
		snprintf(err, errlen, "invalid setting '%s' (expected section.key=value)", pair);
		return -1;
	}
	memcpy(section, pair, (size_t)(dot - pair));
	section[dot - pair] = '\0';
	memcpy(key, dot + 1, (size_t)(eq - dot - 1));
	key[eq - dot - 1] = '\0';
	return config_set(cfg, section, key, eq + 1, err, errlen);
}

struct ini_ctx {
	struct config *cfg;
	const char *path;
	FILE *file;
	int line;                  /* the line the parser is on (it reads one per call) */
	int first_syntax_error;    /* first line the check in read_line found wrong, 0: none */
	struct config_problems *problems;
	size_t before;             /* problems recorded before this file */
};

/*
 * libinih reports only the first line it cannot parse. Lines it would
 * refuse are recognised here as they are read, so that every one is named:
 * a section header without ']', or a line with no '=' or ':' that is not a
 * comment, blank, or indented (a continuation line).
 */
static void check_syntax(struct ini_ctx *ctx, const char *text)
{
	const char *p = text;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0' || *p == '\n' || *p == '\r' || *p == ';' || *p == '#' || p > text)
		return;
	if (*p == '[' ? strchr(p, ']') != NULL : strpbrk(p, "=:") != NULL)
		return;
	config_problem(ctx->problems, "%s: line %d: syntax error (expected [section] or key = value)",
		       ctx->path, ctx->line);
	if (ctx->first_syntax_error == 0)
		ctx->first_syntax_error = ctx->line;
}

/* ini_reader: fgets, counting lines as libinih does (one per call). */
static char *read_line(char *str, int num, void *stream)
{
	struct ini_ctx *ctx = stream;
	char *got = fgets(str, num, ctx->file);

	if (got != NULL) {
		ctx->line++;
		check_syntax(ctx, got);
	}
	return got;
}

static int on_ini_entry(void *user, const char *section, const char *name, const char *value)
{
	struct ini_ctx *ctx = user;
	char msg[CONFIG_ERR_SIZE];

	if (config_set(ctx->cfg, section, name, value, msg, sizeof msg) < 0)
		config_problem(ctx->problems, "%s: line %d: %s", ctx->path, ctx->line, msg);
	return 1; /* go on: every bad line is reported, not only the first */
}

int config_load_file(struct config *cfg, const char *path, struct config_problems *problems)
{
	struct ini_ctx ctx = { cfg, path, NULL, 0, 0, problems, config_problems_count(problems) };
	int rc;

	ctx.file = fopen(path, "re");
	if (ctx.file == NULL) {
		config_problem(problems, "cannot open config file '%s': %s", path, strerror(errno));
		return -1;
	}
	rc = ini_parse_stream(read_line, &ctx, on_ini_entry, &ctx);
	fclose(ctx.file);
	/* A line libinih refused that the check above let through (say, a very long one). */
	if (rc > 0 && rc != ctx.first_syntax_error)
		config_problem(problems, "%s: line %d: syntax error", path, rc);
	else if (rc < 0)
		config_problem(problems, "%s: cannot be parsed (out of memory)", path);
	return config_problems_count(problems) > ctx.before ? -1 : 0;
}

int config_apply_env(struct config *cfg, char *const *envp, struct config_problems *problems,
		     char *names, size_t namelen)
{
	size_t before = config_problems_count(problems), used = 0;
	char name[128], msg[CONFIG_ERR_SIZE];

	if (names != NULL && namelen > 0)
		names[0] = '\0';
	for (size_t i = 0; i < N_OPTIONS; i++) {
		const struct config_key *o = &options[i];
		size_t n;
		int len = snprintf(name, sizeof name, "TASKAPI_%s_%s", o->section, o->key);

		if (len < 0 || (size_t)len >= sizeof name)
			continue;
		for (char *p = name; *p; p++)
			*p = (char)toupper((unsigned char)*p);
		n = (size_t)len;
		for (char *const *e = envp; e && *e; e++) {
			if (strncmp(*e, name, n) != 0 || (*e)[n] != '=')
				continue;
			if (set_option(cfg, o, *e + n + 1, msg, sizeof msg) < 0)
				config_problem(problems, "environment %s: %s", name, msg);
			if (names != NULL && used < namelen) {
				int w = snprintf(names + used, namelen - used, "%s%s", used ? ", " : "", name);

				if (w > 0)
					used += (size_t)w;
			}
		}
	}
	return config_problems_count(problems) > before ? -1 : 0;
}

int config_read_secret_file(const char *path, char **out, char *err, size_t errlen)
{
	struct stat st;
	char data[1024];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(err, errlen, "cannot open secret file '%s': %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "secret file '%s' is not a regular file", path);
		goto fail;
	}
	if (st.st_mode & (S_IROTH | S_IWOTH | S_IWGRP)) {
		snprintf(err, errlen, "secret file '%s' is accessible by others (mode %04o): "
			 "chmod go-w,o-r it", path, (unsigned)(st.st_mode & 07777));
		goto fail;
	}
	n = read(fd, data, sizeof data - 1);
	if (n < 0) {
		snprintf(err, errlen, "cannot read secret file '%s': %s", path, strerror(errno));
		goto fail;
	}
	/* The first line is the secret; a trailing newline is not part of it. */
	data[n] = '\0';
	data[strcspn(data, "\r\n")] = '\0';
	close(fd);
	free(*out);
	*out = xstrdup(data);
	return 0;
fail:
	close(fd);
	return -1;
}

/* A path prefix as api.root_path takes it: "/a/b", no trailing slash, nothing a URL would split on. */
static bool root_path_ok(const char *p)
{
	size_t n = strlen(p);

	if (p[0] != '/' || p[n - 1] == '/')
		return false;
	for (; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '?' || *p == '#' || *p == '%')
			return false;
	return true;
}

int config_finish(struct config *cfg, struct config_problems *problems)
{
	size_t before = config_problems_count(problems);
	enum log_level level;
	enum log_format format;
	char err[CONFIG_ERR_SIZE];

	if (log_level_parse(cfg->log.level, &level) < 0)
		config_problem(problems, "invalid value for log.level: '%s' (expected error, warn, info or debug)",
			       cfg->log.level);
	if (log_format_parse(cfg->log.access_format, &format) < 0)
		config_problem(problems, "invalid value for log.access_format: '%s' (expected text or json)",
			       cfg->log.access_format);
	if (cfg->server.admin_listen[0] != '\0' && strcmp(cfg->server.admin_listen, cfg->server.listen) == 0)
		config_problem(problems, "server.admin_listen must differ from server.listen ('%s')",
			       cfg->server.listen);
	if (cfg->api.default_limit > cfg->api.max_limit)
		config_problem(problems, "api.default_limit (%d) is larger than api.max_limit (%d)",
			       cfg->api.default_limit, cfg->api.max_limit);
	if (cfg->api.root_path[0] != '\0' && !root_path_ok(cfg->api.root_path))
		config_problem(problems, "api.root_path '%s' must start with '/', not end with '/', "
			       "and hold no spaces, '?', '#', '%%' or control characters (e.g. /api)",
			       cfg->api.root_path);
	cors_check(cfg, problems);
	if (cfg->auth.mode[0] != '\0' && strcmp(cfg->auth.mode, "token") != 0 &&
	    strcmp(cfg->auth.mode, "remote_user") != 0 && strcmp(cfg->auth.mode, "jwt") != 0 &&
	    strcmp(cfg->auth.mode, "none") != 0)
		config_problem(problems, "invalid value for auth.mode: '%s' (expected %s)", cfg->auth.mode,
			       CONFIG_AUTH_MODES);
	if (config_owner_check(cfg->auth.default_owner, strlen(cfg->auth.default_owner)) < 0)
		config_problem(problems, "auth.default_owner must be 1 to %d bytes of printable UTF-8 without spaces",
			       CONFIG_OWNER_MAX);
	if (strcmp(cfg->auth.mode, "token") == 0 && cfg->auth.token_key_file[0] == '\0')
		config_problem(problems, "auth.mode = token needs auth.token_key_file (a file of at least 32 "
			       "random bytes, e.g. head -c 32 /dev/urandom | base64 > FILE; chmod 0640 FILE)");
	if (strcmp(cfg->auth.mode, "jwt") == 0 && cfg->auth.jwt_jwks_file[0] == '\0' &&
	    cfg->auth.jwt_hs256_secret_file[0] == '\0')
		config_problem(problems, "auth.mode = jwt needs auth.jwt_jwks_file (or auth.jwt_hs256_secret_file)");
	if (cfg->auth.jwt_owner_claim[0] == '\0')
		config_problem(problems, "auth.jwt_owner_claim must not be empty");
	if (cfg->auth.token_admin_password_file[0] != '\0' &&
	    config_read_secret_file(cfg->auth.token_admin_password_file, &cfg->auth.token_admin_password,
				    err, sizeof err) < 0)
		config_problem(problems, "auth.token_admin_password_file: %s", err);
	if (strcmp(cfg->database.topology, "single") != 0 && strcmp(cfg->database.topology, "galera") != 0 &&
	    strcmp(cfg->database.topology, "primary_replicas") != 0)
		config_problem(problems, "invalid value for database.topology: '%s' (expected single, galera or "
			       "primary_replicas)", cfg->database.topology);
	if (strcmp(cfg->database.read_consistency, "causal") != 0 &&
	    strcmp(cfg->database.read_consistency, "eventual") != 0)
		config_problem(problems, "invalid value for database.read_consistency: '%s' (expected causal or "
			       "eventual)", cfg->database.read_consistency);
	if (cfg->database.nodes[0] != '\0') {
		struct db_node_address nodes[DB_CLUSTER_MAX_NODES];
		int n = db_cluster_parse_nodes(cfg->database.nodes, (unsigned)cfg->database.port, nodes,
					       DB_CLUSTER_MAX_NODES, err, sizeof err);

		if (n < 0)
			config_problem(problems, "database.nodes: %s", err);
		else if (n > 1 && strcmp(cfg->database.topology, "single") == 0)
			config_problem(problems, "database.nodes lists %d servers but database.topology is single "
				       "(set it to galera or primary_replicas)", n);
	}
	if ((cfg->database.ssl_cert[0] == '\0') != (cfg->database.ssl_key[0] == '\0'))
		config_problem(problems, "database.ssl_cert and database.ssl_key go together");
	if (cfg->database.name[0] == '\0' || cfg->database.user[0] == '\0')
		config_problem(problems, "database.name and database.user must not be empty");
	if (cfg->database.password_file[0] != '\0' &&
	    config_read_secret_file(cfg->database.password_file, &cfg->database.password, err, sizeof err) < 0)
		config_problem(problems, "database.password_file: %s", err);
	if (cfg->database.migrate_password_file[0] != '\0' &&
	    config_read_secret_file(cfg->database.migrate_password_file, &cfg->database.migrate_password,
				    err, sizeof err) < 0)
		config_problem(problems, "database.migrate_password_file: %s", err);
	return config_problems_count(problems) > before ? -1 : 0;
}

int config_owner_check(const char *owner, size_t len)
{
	const unsigned char *p = (const unsigned char *)owner;

	if (len == 0 || len > CONFIG_OWNER_MAX)
		return -1;
	/* A space or a control character would make an access line ambiguous. */
	for (size_t i = 0; i < len; i++)
		if (p[i] <= 0x20 || p[i] == 0x7f)
			return -1;
	return utf8_is_valid(owner, len) ? 0 : -1;
}

bool config_auth_chosen(const struct config *cfg)
{
	return cfg->auth.mode[0] != '\0';
}

int config_workers(const struct config *cfg)
{
	long cores;

	if (cfg->server.workers >= 0)
		return cfg->server.workers;
	cores = sysconf(_SC_NPROCESSORS_ONLN);
	return cores > 0 ? (int)(cores > CONFIG_AUTO_WORKERS_MAX ? CONFIG_AUTO_WORKERS_MAX : cores) : 1;
}

bool config_access_log(const struct config *cfg, bool cgi)
{
	return cfg->log.access_log < 0 ? !cgi : cfg->log.access_log != 0;
}

int config_pool_size(const struct config *cfg)
{
	return cfg->database.pool_size > 0 ? cfg->database.pool_size : cfg->server.threads;
}

void config_dump(const struct config *cfg, FILE *out)
{
	const char *section = "";

	for (size_t i = 0; i < N_OPTIONS; i++) {
		const struct config_key *o = &options[i];

		if (strcmp(section, o->section) != 0) {
			fprintf(out, "%s[%s]\n", i ? "\n" : "", o->section);
			section = o->section;
		}
		switch (o->type) {
		case OPT_STRING: {
			const char *v = *(char *const *)cfield(cfg, o);

			fprintf(out, "%s = %s\n", o->key, o->secret && v[0] ? "(set, not shown)" : v);
			break;
		}
		case OPT_BOOL:
			fprintf(out, "%s = %s\n", o->key, *(const bool *)cfield(cfg, o) ? "true" : "false");
			break;
		case OPT_AUTO_BOOL: {
			int v = *(const int *)cfield(cfg, o);

			fprintf(out, "%s = %s\n", o->key, v < 0 ? "auto" : v ? "true" : "false");
			break;
		}
		case OPT_INT:
			if (o->min == -1 && *(const int *)cfield(cfg, o) == -1)
				fprintf(out, "%s = auto\n", o->key);
			else
				fprintf(out, "%s = %d\n", o->key, *(const int *)cfield(cfg, o));
			break;
		case OPT_LONG:
			fprintf(out, "%s = %ld\n", o->key, *(const long *)cfield(cfg, o));
			break;
		case OPT_MODE:
			fprintf(out, "%s = %04o\n", o->key, (unsigned)*(const int *)cfield(cfg, o));
			break;
		}
	}
}
