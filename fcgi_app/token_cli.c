#include "token_cli.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "db_config.h"
#include "db_conn.h"
#include "token.h"
#include "token_auth.h"
#include "token_store.h"
#include "utf8.h"
#include "xalloc.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: taskapi [options] token create --owner NAME --scopes tasks:read[,tasks:write]\n"
		"                                      [--expires N{s,m,h,d}] [--note TEXT] [--sql]\n"
		"       taskapi [options] token list [--owner NAME] [--format text|json]\n"
		"       taskapi [options] token revoke ID\n");
}

int token_cli_find(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0)
			return argc;
		if (a[0] == '-' && a[1] == '-') {
			/* Long options whose value is the next word: skip it. */
			if (strcmp(a, "--config") == 0 || strcmp(a, "--set") == 0 || strcmp(a, "--workers") == 0)
				i++;
			continue;
		}
		if (a[0] == '-' && a[1] != '\0') {
			/* Short ones: -t, -h, -V, then -c or -s with its value here ("-sKEY=V") or next. */
			for (const char *p = a + 1; *p != '\0'; p++)
				if (*p == 'c' || *p == 's') {
					i += p[1] == '\0';
					break;
				}
			continue;
		}
		return strcmp(a, "token") == 0 ? i : argc;
	}
	return argc;
}

int token_cli_duration(const char *text, long long *seconds)
{
	long long v = 0, unit;
	const char *p = text;

	if (*p < '0' || *p > '9')
		return -1;
	while (*p >= '0' && *p <= '9') {
		if (v > 1000000000LL)
			return -1;
		v = v * 10 + (*p++ - '0');
	}
	switch (*p) {
	case 's': unit = 1; break;
	case 'm': unit = 60; break;
	case 'h': unit = 3600; break;
	case 'd': unit = 86400; break;
	default: return -1;
	}
	if (p[1] != '\0' || v <= 0)
		return -1;
	*seconds = v * unit;
	return 0;
}

/* "--name VALUE" or "--name=VALUE" at argv[*i]: the value, advancing *i; NULL when not this option. */
static const char *option(int argc, char **argv, int *i, const char *name, bool *missing)
{
	size_t n = strlen(name);
	const char *a = argv[*i];

	if (strncmp(a, name, n) != 0)
		return NULL;
	if (a[n] == '=')
		return a + n + 1;
	if (a[n] != '\0')
		return NULL;
	if (*i + 1 >= argc) {
		*missing = true;
		return NULL;
	}
	return argv[++*i];
}

/* A connection as auth.token_admin_user; NULL after a message. */
static struct db_conn *connect_admin(const struct config *cfg)
{
	struct db_options opt;
	struct db_conn *conn;
	char err[512];

	if (cfg->auth.token_admin_user[0] == '\0' || cfg->auth.token_admin_password[0] == '\0') {
		fprintf(stderr, "taskapi: error: auth.token_admin_user and auth.token_admin_password_file must be "
			"set: the token commands connect as that account ('taskapi migrate' creates it)\n");
		return NULL;
	}
	db_config_connection(cfg, &opt);
	opt.user = cfg->auth.token_admin_user;
	opt.password = cfg->auth.token_admin_password;
	conn = db_conn_new(0, opt.statement_timeout_ms);
	if (db_conn_open(conn, &opt, 0, err, sizeof err) < 0) {
		fprintf(stderr, "taskapi: error: cannot connect as %s: %s\n", opt.user, err);
		db_conn_free(conn);
		return NULL;
	}
	return conn;
}

static int failed(const char *what, enum store_status status)
{
	fprintf(stderr, "taskapi: error: %s: %s%s\n", what, store_strerror(status),
		status == STORE_ERROR ? " (is the schema migrated? does the token account have its rights?)" : "");
	return 1;
}

static int cmd_create(const struct config *cfg, int argc, char **argv)
{
	const char *owner = NULL, *scopes_text = NULL, *expires = NULL, *note = NULL, *v;
	long long max_s = (long long)cfg->auth.token_max_lifetime_days * 86400, lifetime = max_s;
	bool sql = false, missing = false;
	struct token_new t;
	char secret[TOKEN_LEN + 1], *key = NULL, *insert;
	size_t keylen = 0;
	struct db_conn *conn = NULL;
	uint64_t id = 0;
	enum store_status status;
	char err[512];
	int rc = 1;

	memset(&t, 0, sizeof t);
	for (int i = 0; i < argc; i++) {
		if ((v = option(argc, argv, &i, "--owner", &missing)) != NULL)
			owner = v;
		else if ((v = option(argc, argv, &i, "--scopes", &missing)) != NULL)
			scopes_text = v;
		else if ((v = option(argc, argv, &i, "--expires", &missing)) != NULL)
			expires = v;
		else if ((v = option(argc, argv, &i, "--note", &missing)) != NULL)
			note = v;
		else if (!missing && strcmp(argv[i], "--sql") == 0)
			sql = true;
		else {
			fprintf(stderr, "taskapi: error: token create: %s '%s'\n",
				missing ? "a value is missing after" : "unknown argument", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (owner == NULL || scopes_text == NULL) {
		fprintf(stderr, "taskapi: error: token create needs --owner and --scopes\n");
		usage(stderr);
		return 2;
	}
	if (config_owner_check(owner, strlen(owner)) < 0) {
		fprintf(stderr, "taskapi: error: --owner must be 1 to %d bytes of printable UTF-8 without spaces\n",
			CONFIG_OWNER_MAX);
		return 2;
	}
	if (token_scopes_parse(scopes_text, &t.scopes) < 0) {
		fprintf(stderr, "taskapi: error: --scopes '%s': give tasks:read, tasks:write or both, "
			"comma-separated (tasks:write implies tasks:read)\n", scopes_text);
		return 2;
	}
	if (expires != NULL && token_cli_duration(expires, &lifetime) < 0) {
		fprintf(stderr, "taskapi: error: --expires '%s': a positive number and s, m, h or d "
			"(30s, 15m, 12h, 90d)\n", expires);
		return 2;
	}
	if (lifetime > max_s) {
		fprintf(stderr, "taskapi: error: --expires %s is longer than auth.token_max_lifetime_days "
			"(%d days): every token expires\n", expires, cfg->auth.token_max_lifetime_days);
		return 2;
	}
	if (note != NULL) {
		size_t len = strlen(note), chars = 0;

		for (size_t i = 0; i < len; i++)
			if ((unsigned char)note[i] < 0x20 || note[i] == 0x7f)
				len = 0;
		for (size_t i = 0; i < len; i++)
			chars += ((unsigned char)note[i] & 0xc0) != 0x80;
		if (len == 0 || !utf8_is_valid(note, len) || chars > TOKEN_NOTE_MAX_CHARS) {
			fprintf(stderr, "taskapi: error: --note must be 1 to %d characters of UTF-8 without "
				"control characters\n", TOKEN_NOTE_MAX_CHARS);
			return 2;
		}
	}
	if (token_key_load(cfg->auth.token_key_file, &key, &keylen, err, sizeof err) < 0) {
		fprintf(stderr, "taskapi: error: %s\n", err);
		return 1;
	}
	if (!sql && (conn = connect_admin(cfg)) == NULL)
		goto out;
	if (token_generate(secret) < 0) {
		fprintf(stderr, "taskapi: error: getrandom failed: %s\n", strerror(errno));
		goto out;
	}
	if (token_hash(key, keylen, secret, TOKEN_LEN, t.hash) < 0) {
		fprintf(stderr, "taskapi: error: HMAC-SHA-256 failed\n");
		goto out;
	}
	token_display(secret, t.prefix);
	t.owner = owner;
	t.note = note;
	t.lifetime_s = lifetime;
	if (sql) {
		insert = token_store_insert_sql(&t);
		fprintf(stderr, "%s\n", insert);
		free(insert);
	} else {
		status = token_store_create(conn, &t, &id);
		if (status != STORE_OK) {
			rc = failed("cannot store the token", status);
			goto out;
		}
		fprintf(stderr, "taskapi: token %" PRIu64 " (%s...) for owner '%s', scopes %s, expires in %llds; "
			"the secret is on stdout and is not shown again\n", id, t.prefix, owner,
			token_scopes_text(t.scopes), lifetime);
	}
	/* Last, and alone on its line: T=$(taskapi token create ...) takes it whole. */
	printf("%s\n", secret);
	fflush(stdout);
	rc = 0;
out:
	OPENSSL_cleanse(secret, sizeof secret);
	token_key_free(key, keylen);
	db_conn_free(conn);
	return rc;
}

struct list_ctx {
	bool json;
	json_t *rows;
	unsigned long long n;
};

static json_t *time_or_null(const char *t)
{
	return t[0] ? json_string(t) : json_null();
}

static int list_row(void *arg, const struct token_row *r)
{
	struct list_ctx *ctx = arg;

	ctx->n++;
	if (ctx->json) {
		json_t *o = json_object();

		json_object_set_new(o, "id", json_integer((json_int_t)r->id));
		json_object_set_new(o, "owner", utf8_is_valid(r->owner, strlen(r->owner)) ? json_string(r->owner)
											  : json_null());
		json_object_set_new(o, "scopes", json_string(r->scopes));
		json_object_set_new(o, "prefix", json_string(r->prefix));
		json_object_set_new(o, "note", r->note[0] && utf8_is_valid(r->note, strlen(r->note))
						     ? json_string(r->note) : json_null());
		json_object_set_new(o, "created_at", time_or_null(r->created_at));
		json_object_set_new(o, "expires_at", time_or_null(r->expires_at));
		json_object_set_new(o, "last_used_at", time_or_null(r->last_used_at));
		json_object_set_new(o, "revoked_at", time_or_null(r->revoked_at));
		json_array_append_new(ctx->rows, o);
		return 0;
	}
	printf("%-6" PRIu64 " %-16s %-22s %-10s %-20s %-20s %-20s %-20s %s\n", r->id, r->owner, r->scopes,
	       r->prefix, r->created_at, r->expires_at, r->last_used_at[0] ? r->last_used_at : "-",
	       r->revoked_at[0] ? r->revoked_at : "-", r->note);
	return 0;
}

static int cmd_list(const struct config *cfg, int argc, char **argv)
{
	const char *owner = NULL, *format = "text", *v;
	struct list_ctx ctx = { false, NULL, 0 };
	bool missing = false;
	struct db_conn *conn;
	enum store_status status;
	int rc = 0;

	for (int i = 0; i < argc; i++) {
		if ((v = option(argc, argv, &i, "--owner", &missing)) != NULL)
			owner = v;
		else if ((v = option(argc, argv, &i, "--format", &missing)) != NULL)
			format = v;
		else {
			fprintf(stderr, "taskapi: error: token list: %s '%s'\n",
				missing ? "a value is missing after" : "unknown argument", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (strcmp(format, "json") == 0)
		ctx.json = true;
	else if (strcmp(format, "text") != 0) {
		fprintf(stderr, "taskapi: error: --format is text or json, not '%s'\n", format);
		return 2;
	}
	if ((conn = connect_admin(cfg)) == NULL)
		return 1;
	if (ctx.json)
		ctx.rows = json_array();
	else
		printf("%-6s %-16s %-22s %-10s %-20s %-20s %-20s %-20s %s\n", "ID", "OWNER", "SCOPES", "PREFIX",
		       "CREATED", "EXPIRES", "LAST USED", "REVOKED", "NOTE");
	status = token_store_list(conn, owner, list_row, &ctx);
	if (status != STORE_OK)
		rc = failed("cannot list the tokens", status);
	else if (ctx.json) {
		json_dumpf(ctx.rows, stdout, JSON_INDENT(2));
		printf("\n");
	}
	json_decref(ctx.rows);
	db_conn_free(conn);
	return rc;
}

static int cmd_revoke(const struct config *cfg, int argc, char **argv)
{
	struct db_conn *conn;
	enum store_status status;
	uint64_t id;
	char *end;
	int rc = 0;

	if (argc != 1 || argv[0][0] < '1' || argv[0][0] > '9') {
		fprintf(stderr, "taskapi: error: token revoke takes one token id (see 'taskapi token list')\n");
		usage(stderr);
		return 2;
	}
	errno = 0;
	id = strtoull(argv[0], &end, 10);
	if (errno != 0 || *end != '\0') {
		fprintf(stderr, "taskapi: error: '%s' is not a token id\n", argv[0]);
		return 2;
	}
	if ((conn = connect_admin(cfg)) == NULL)
		return 1;
	status = token_store_revoke(conn, id);
	switch (status) {
	case STORE_OK:
		printf("token %" PRIu64 " revoked: each worker refuses it once its cached entry ends "
		       "(auth.token_cache_ms, at most 4 s)\n", id);
		break;
	case STORE_CONFLICT:
		printf("token %" PRIu64 " was revoked already\n", id);
		break;
	case STORE_NOT_FOUND:
		fprintf(stderr, "taskapi: error: no token %" PRIu64 "\n", id);
		rc = 1;
		break;
	default:
		rc = failed("cannot revoke the token", status);
	}
	db_conn_free(conn);
	return rc;
}

int token_cli_main(const struct config *cfg, int argc, char **argv)
{
	if (argc < 1) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[0], "create") == 0)
		return cmd_create(cfg, argc - 1, argv + 1);
	if (strcmp(argv[0], "list") == 0)
		return cmd_list(cfg, argc - 1, argv + 1);
	if (strcmp(argv[0], "revoke") == 0)
		return cmd_revoke(cfg, argc - 1, argv + 1);
	if (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "taskapi: error: unknown token command '%s'\n", argv[0]);
	usage(stderr);
	return 2;
}
