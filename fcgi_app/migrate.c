#include "migrate.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "db_config.h"
#include "db_conn.h"
#include "xalloc.h"

static int by_version(const void *a, const void *b)
{
	const struct migration *x = a, *y = b;

	return (x->version > y->version) - (x->version < y->version);
}

/* "001_create_tasks.sql" -> 1; -1 for names that are not migrations. */
static long migration_version(const char *name)
{
	size_t len = strlen(name);
	const char *p = name;
	long v = 0;

	if (len < 6 || strcmp(name + len - 4, ".sql") != 0 || !isdigit((unsigned char)*p))
		return -1;
	while (isdigit((unsigned char)*p) && v < 1000000)
		v = v * 10 + (*p++ - '0');
	return *p == '_' ? v : -1;
}

int migrate_scan(const char *dir, struct migration **out, size_t *count, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	struct migration *list = NULL;
	size_t n = 0, cap = 0;

	*out = NULL;
	*count = 0;
	if (d == NULL) {
		snprintf(err, errlen, "cannot open migrations folder '%s': %s", dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		long v = migration_version(e->d_name);

		if (v <= 0 || strlen(e->d_name) >= sizeof list->name)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			list = xrealloc(list, cap * sizeof *list);
		}
		list[n].version = (unsigned)v;
		snprintf(list[n].name, sizeof list[n].name, "%s", e->d_name);
		n++;
	}
	closedir(d);
	/* An empty folder leaves list NULL, and qsort's pointer must not be NULL even for 0 items. */
	if (n > 1)
		qsort(list, n, sizeof *list, by_version);
	for (size_t i = 1; i < n; i++) {
		if (list[i].version == list[i - 1].version) {
			snprintf(err, errlen, "migrations '%s' and '%s' share version %u", list[i - 1].name,
				 list[i].name, list[i].version);
			free(list);
			return -1;
		}
	}
	*out = list;
	*count = n;
	return 0;
}

static int read_file(const char *path, struct buf *out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char chunk[4096];
	size_t n;

	if (f == NULL) {
		snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_append(out, chunk, n);
	if (ferror(f)) {
		snprintf(err, errlen, "cannot read '%s'", path);
		fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}

/* Runs a script of several statements, draining every result. */
static int run_script(MYSQL *mysql, const char *sql, size_t len, char *err, size_t errlen)
{
	int status;

	if (mysql_real_query(mysql, sql, (unsigned long)len) != 0)
		goto fail;
	do {
		MYSQL_RES *res = mysql_store_result(mysql);

		if (res != NULL)
			mysql_free_result(res);
		else if (mysql_field_count(mysql) != 0)
			goto fail;
		status = mysql_next_result(mysql);
		if (status > 0)
			goto fail;
	} while (status == 0);
	return 0;
fail:
	snprintf(err, errlen, "%s (%u)", mysql_error(mysql), mysql_errno(mysql));
	return -1;
}

static int applied_version(MYSQL *mysql, unsigned *version, char *err, size_t errlen)
{
	static const char create[] =
		"CREATE TABLE IF NOT EXISTS schema_migrations ("
		" version INT UNSIGNED NOT NULL PRIMARY KEY,"
		" name VARCHAR(255) NOT NULL,"
		" applied_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP"
		") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";
	static const char query[] = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations";
	MYSQL_RES *res;
	MYSQL_ROW row;

	if (run_script(mysql, create, sizeof create - 1, err, errlen) < 0 ||
	    mysql_real_query(mysql, query, sizeof query - 1) != 0 ||
	    (res = mysql_store_result(mysql)) == NULL) {
		if (*err == '\0')
			snprintf(err, errlen, "%s (%u)", mysql_error(mysql), mysql_errno(mysql));
		return -1;
	}
	row = mysql_fetch_row(res);
	*version = row && row[0] ? (unsigned)strtoul(row[0], NULL, 10) : 0;
	mysql_free_result(res);
	return 0;
}

static int record(MYSQL *mysql, const struct migration *m, char *err, size_t errlen)
{
	static const char sql[] = "INSERT INTO schema_migrations (version, name) VALUES (?, ?)";
	MYSQL_STMT *stmt = mysql_stmt_init(mysql);
	MYSQL_BIND bind[2];
	unsigned version = m->version;
	char name[sizeof m->name];
	unsigned long name_len = strlen(m->name);
	int rc = -1;

	if (stmt == NULL)
		goto out;
	memset(bind, 0, sizeof bind);
	bind[0].buffer_type = MYSQL_TYPE_LONG;
	bind[0].buffer = &version;
	bind[0].is_unsigned = 1;
	bind[1].buffer_type = MYSQL_TYPE_STRING;
	memcpy(name, m->name, sizeof name); /* MYSQL_BIND wants a mutable buffer */
	bind[1].buffer = name;
	bind[1].buffer_length = name_len;
	bind[1].length = &name_len;
	if (mysql_stmt_prepare(stmt, sql, sizeof sql - 1) != 0 || mysql_stmt_bind_param(stmt, bind) != 0 ||
	    mysql_stmt_execute(stmt) != 0) {
		snprintf(err, errlen, "cannot record migration %s: %s", m->name, mysql_stmt_error(stmt));
		goto out;
	}
	rc = 0;
out:
	if (stmt != NULL)
		mysql_stmt_close(stmt);
	else
		snprintf(err, errlen, "out of memory");
	return rc;
}

/* text as the body of a quoted SQL string (mysql_real_escape_string); caller frees. */
static char *sql_quoted(MYSQL *mysql, const char *text)
{
	size_t len = strlen(text);
	char *q = xmalloc(len * 2 + 1);

	mysql_real_escape_string(mysql, q, text, (unsigned long)len);
	return q;
}

/* The first column of a one-row query's answer into out; -1 when it fails. */
static int query_value(MYSQL *mysql, const char *sql, char *out, size_t outlen)
{
	MYSQL_RES *res;
	MYSQL_ROW row;
	int rc = -1;

	if (mysql_query(mysql, sql) != 0 || (res = mysql_store_result(mysql)) == NULL)
		return -1;
	row = mysql_fetch_row(res);
	if (row != NULL && row[0] != NULL) {
		snprintf(out, outlen, "%s", row[0]);
		rc = 0;
	}
	mysql_free_result(res);
	return rc;
}

/*
 * The account of `taskapi token` (auth.token_admin_user), created once the
 * api_tokens table exists: SELECT, INSERT, UPDATE on that table only, on
 * the host the migration account itself is known from. Needs CREATE USER
 * and GRANT OPTION on the database; without them (a shared host) it says
 * what an administrator runs instead, and the migration still succeeds.
 * The password is never printed.
 */
static void token_account(MYSQL *mysql, const struct config *cfg, FILE *out)
{
	const char *admin = cfg->auth.token_admin_user, *password = cfg->auth.token_admin_password;
	char host[256], count[32], *user = NULL, *qhost = NULL, *pw = NULL, *sql = NULL;
	struct buf db = BUF_INIT;
	bool created, denied;
	unsigned create_err;

	if (admin[0] == '\0' ||
	    query_value(mysql, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() "
			"AND table_name = 'api_tokens'", count, sizeof count) < 0 || strcmp(count, "1") != 0)
		return;
	if (password[0] == '\0') {
		/* Quiet unless tokens are in use: most installs of another mode need no such account. */
		if (strcmp(cfg->auth.mode, "token") == 0)
			fprintf(out, "token account '%s' not created: auth.token_admin_password_file is not "
				"set (needed for 'taskapi token'; see taskapi(8))\n", admin);
		return;
	}
	if (query_value(mysql, "SELECT SUBSTRING_INDEX(CURRENT_USER(), '@', -1)", host, sizeof host) < 0)
		snprintf(host, sizeof host, "localhost");
	user = sql_quoted(mysql, admin);
	qhost = sql_quoted(mysql, host);
	pw = sql_quoted(mysql, password);
	/* The database name as an identifier: backquotes doubled. */
	for (const char *p = cfg->database.name; *p; p++) {
		if (*p == '`')
			buf_putc(&db, '`');
		buf_putc(&db, *p);
	}
	sql = xmalloc(strlen(user) + strlen(qhost) + strlen(pw) + db.len + 128);
	sprintf(sql, "CREATE USER IF NOT EXISTS '%s'@'%s' IDENTIFIED BY '%s'", user, qhost, pw);
	/* Without CREATE USER, an account that exists already can still be granted its rights. */
	created = mysql_query(mysql, sql) == 0;
	create_err = created ? 0 : mysql_errno(mysql);
	/* Only "no right to CREATE USER" may go on: the account may exist already. */
	denied = create_err == ER_SPECIFIC_ACCESS_DENIED_ERROR || create_err == ER_DBACCESS_DENIED_ERROR ||
		 create_err == ER_TABLEACCESS_DENIED_ERROR;
	OPENSSL_cleanse(sql, strlen(sql));
	sprintf(sql, "GRANT SELECT, INSERT, UPDATE ON `%s`.`api_tokens` TO '%s'@'%s'", db.data ? db.data : "",
		user, qhost);
	if ((created || denied) && mysql_query(mysql, sql) == 0) {
		fprintf(out, "token account '%s'@'%s': SELECT, INSERT, UPDATE on api_tokens only\n", admin, host);
	} else {
		fprintf(out, "warning: cannot %s the token account '%s'@'%s': %s (%u)\n"
			"  an administrator runs instead (docs/operations.md, Managing tokens):\n"
			"    CREATE USER IF NOT EXISTS '%s'@'%s' IDENTIFIED BY '<auth.token_admin_password_file>';\n"
			"    %s;\n", created ? "grant rights to" : "create", admin, host, mysql_error(mysql),
			mysql_errno(mysql), user, qhost, sql);
	}
	OPENSSL_cleanse(pw, strlen(pw));
	free(sql);
	free(pw);
	free(qhost);
	free(user);
	buf_release(&db);
}

/*
 * Values a migration may need from the configuration, as session variables:
 * @taskapi_default_owner (auth.default_owner) owns the tasks that existed
 * before migration 003. Bound, so no value is ever spliced into SQL here.
 */
static int set_migration_variables(MYSQL *mysql, const struct config *cfg, char *err, size_t errlen)
{
	static const char sql[] = "SET @taskapi_default_owner = ?";
	MYSQL_STMT *stmt = mysql_stmt_init(mysql);
	MYSQL_BIND bind;
	unsigned long len = strlen(cfg->auth.default_owner);
	int rc = -1;

	if (stmt == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memset(&bind, 0, sizeof bind);
	bind.buffer_type = MYSQL_TYPE_STRING;
	bind.buffer = cfg->auth.default_owner;
	bind.buffer_length = len;
	bind.length = &len;
	if (mysql_stmt_prepare(stmt, sql, sizeof sql - 1) != 0 || mysql_stmt_bind_param(stmt, &bind) != 0 ||
	    mysql_stmt_execute(stmt) != 0)
		snprintf(err, errlen, "cannot set @taskapi_default_owner: %s", mysql_stmt_error(stmt));
	else
		rc = 0;
	mysql_stmt_close(stmt);
	return rc;
}

int migrate_run(const struct config *cfg, FILE *out, char *err, size_t errlen)
{
	const char *user = cfg->database.migrate_user[0] ? cfg->database.migrate_user : cfg->database.user;
	const char *password = cfg->database.migrate_user[0] ? cfg->database.migrate_password
							     : cfg->database.password;
	struct db_options opt;
	struct migration *list = NULL;
	size_t n = 0, applied = 0;
	unsigned current = 0;
	struct buf sql = BUF_INIT;
	char path[4096], msg[512];
	MYSQL *mysql = NULL;
	int rc = -1;

	*err = '\0';
	db_config_connection(cfg, &opt);
	opt.user = user;
	opt.password = password;
	/* DDL on a big table can take long; migrations are not request-bound. */
	opt.read_timeout_s = 3600;
	opt.write_timeout_s = 3600;
	opt.statement_timeout_ms = 0;
	opt.client_flags = CLIENT_MULTI_STATEMENTS;
	if (migrate_scan(cfg->database.migrations_dir, &list, &n, err, errlen) < 0)
		goto out;
	if (n == 0) {
		snprintf(err, errlen, "no migrations found in '%s'", cfg->database.migrations_dir);
		goto out;
	}
	mysql = db_connect(&opt, err, errlen);
	if (mysql == NULL || applied_version(mysql, &current, err, errlen) < 0 ||
	    set_migration_variables(mysql, cfg, err, errlen) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (list[i].version <= current)
			continue;
		snprintf(path, sizeof path, "%s/%s", cfg->database.migrations_dir, list[i].name);
		buf_reset(&sql);
		*msg = '\0';
		if (read_file(path, &sql, err, errlen) < 0)
			goto out;
		/* MariaDB commits DDL implicitly: a failed migration is reported, not rolled back. */
		if (run_script(mysql, sql.data, sql.len, msg, sizeof msg) < 0) {
			snprintf(err, errlen, "migration %s failed: %s", list[i].name, msg);
			goto out;
		}
		if (record(mysql, &list[i], err, errlen) < 0)
			goto out;
		fprintf(out, "applied %s\n", list[i].name);
		applied++;
		current = list[i].version;
	}
	if (applied == 0)
		fprintf(out, "schema is up to date at version %u; nothing to do\n", current);
	else
		fprintf(out, "schema is now at version %u (%zu migration%s applied)\n", current, applied,
			applied == 1 ? "" : "s");
	token_account(mysql, cfg, out);
	rc = 0;
out:
	if (mysql != NULL)
		mysql_close(mysql);
	buf_release(&sql);
	free(list);
	return rc;
}
