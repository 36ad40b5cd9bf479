#include "preflight.h"

#include <errno.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "auth_socket.h"
#include "jwt_auth.h"
#include "listener.h"
#include "privileges.h"
#include "token_auth.h"

#define MAX_GROUPS 64

/* The folder part of path, in out ("." when there is none). */
static void folder_of(const char *path, char *out, size_t outlen)
{
	char copy[PATH_MAX];

	snprintf(copy, sizeof copy, "%s", path);
	snprintf(out, outlen, "%s", dirname(copy));
}

/* A unix socket path (key names it): its folder must exist, and no other kind of file may sit there. */
static void check_socket_path(const char *key, const char *path, struct config_problems *w)
{
	char folder[PATH_MAX];
	struct stat st;

	if (strchr(path, '/') == NULL)
		return; /* TCP */
	folder_of(path, folder, sizeof folder);
	if (stat(folder, &st) < 0 || !S_ISDIR(st.st_mode))
		config_problem(w, "%s '%s': its folder '%s' does not exist", key, path, folder);
	else if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode))
		config_problem(w, "%s '%s' exists and is not a socket", key, path);
}

/* A log file taskapi opens for appending (created if missing). */
static void check_log_file(const char *key, const char *path, struct config_problems *w)
{
	char folder[PATH_MAX];

	if (path[0] == '\0')
		return;
	if (access(path, F_OK) == 0) {
		if (access(path, W_OK) < 0)
			config_problem(w, "%s '%s' cannot be written: %s", key, path, strerror(errno));
		return;
	}
	folder_of(path, folder, sizeof folder);
	if (access(folder, W_OK | X_OK) < 0)
		config_problem(w, "%s '%s' cannot be created in '%s': %s", key, path, folder, strerror(errno));
}

/* Whether uid (primary group gid, supplementary groups of name) may read path, by its mode bits. */
static bool readable_by(const char *path, uid_t uid, gid_t gid, const char *name)
{
	gid_t groups[MAX_GROUPS];
	int n = MAX_GROUPS;
	struct stat st;

	if (stat(path, &st) < 0)
		return true; /* missing files are reported by the checks that read them */
	if (uid == 0)
		return true;
	if (st.st_uid == uid)
		return (st.st_mode & S_IRUSR) != 0;
	if (st.st_gid == gid)
		return (st.st_mode & S_IRGRP) != 0;
	if (name != NULL && getgrouplist(name, gid, groups, &n) >= 0) {
		for (int i = 0; i < n; i++)
			if (groups[i] == st.st_gid)
				return (st.st_mode & S_IRGRP) != 0;
	}
	return (st.st_mode & S_IROTH) != 0;
}

/*
 * Root with server.user: the start reads every file as root, a reload
 * (SIGHUP) reads them again as server.user, after the switch.
 */
static void check_reload_reads(const struct config *cfg, const char *config_file, struct config_problems *w)
{
	const char *user = cfg->server.user;
	const char *files[][2] = {
		{ "the configuration file", config_file },
		{ "database.password_file", cfg->database.password_file },
		{ "database.migrate_password_file", cfg->database.migrate_password_file },
	};
	const char *tls_files[][2] = {
		/* Read only to verify the server's certificate (db_tls_plan). */
		{ "database.ssl_ca", cfg->database.ssl_verify_server_cert ? cfg->database.ssl_ca : "" },
		{ "database.ssl_cert", cfg->database.ssl_cert },
		{ "database.ssl_key", cfg->database.ssl_key },
	};
	char err[CONFIG_ERR_SIZE], pwbuf[PRIVILEGES_PWBUF_SIZE];
	struct passwd pw, *found = NULL;
	uid_t uid;
	gid_t gid;

	if (geteuid() != 0 || user[0] == '\0' ||
	    privileges_lookup_user(user, &uid, &gid, err, sizeof err) < 0)
		return;
	if (cfg->server.group[0] != '\0' && privileges_lookup_group(cfg->server.group, &gid, err, sizeof err) < 0)
		return;
	getpwuid_r(uid, &pw, pwbuf, sizeof pwbuf, &found);
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		const char *path = files[i][1];

		if (path == NULL || path[0] == '\0' || readable_by(path, uid, gid, found ? pw.pw_name : NULL))
			continue;
		config_problem(w, "%s '%s' is not readable by server.user '%s': the start reads it as root, "
			       "but every reload (SIGHUP) would fail; give it to that user or its group (0640)",
			       files[i][0], path, user);
	}
	/* Every connection to MariaDB reads the TLS files, in the workers, after the switch. */
	for (size_t i = 0; i < sizeof tls_files / sizeof tls_files[0]; i++) {
		const char *path = tls_files[i][1];

		if (path[0] == '\0' || readable_by(path, uid, gid, found ? pw.pw_name : NULL))
			continue;
		config_problem(w, "%s '%s' is not readable by server.user '%s': every connection to MariaDB "
			       "reads it as that user; give it to that user or its group (0640)",
			       tls_files[i][0], path, user);
	}
	/* The key files of auth.mode = token and jwt are read by each worker at its start, after the switch. */
	if (strcmp(cfg->auth.mode, "token") == 0 && cfg->auth.token_key_file[0] != '\0' &&
	    !readable_by(cfg->auth.token_key_file, uid, gid, found ? pw.pw_name : NULL))
		config_problem(w, "auth.token_key_file '%s' is not readable by server.user '%s': every worker "
			       "reads it at its start as that user; give it to that user or its group (0640)",
			       cfg->auth.token_key_file, user);
	if (strcmp(cfg->auth.mode, "jwt") != 0)
		return;
	for (size_t i = 0; i < 2; i++) {
		const char *key = i == 0 ? "auth.jwt_jwks_file" : "auth.jwt_hs256_secret_file";
		const char *path = i == 0 ? cfg->auth.jwt_jwks_file : cfg->auth.jwt_hs256_secret_file;

		if (path[0] == '\0' || readable_by(path, uid, gid, found ? pw.pw_name : NULL))
			continue;
		config_problem(w, "%s '%s' is not readable by server.user '%s': every worker reads it at its "
			       "start as that user; give it to that user or its group (0640)", key, path, user);
	}
}

/*
 * The TLS files of [database]: Connector/C reads them at every connect, so a
 * missing one makes every connection fail (db_connect names it then too).
 */
static void check_tls_files(const struct config *cfg, struct config_problems *w)
{
	const char *files[][2] = {
		/* Read only to verify the server's certificate (db_tls_plan). */
		{ "database.ssl_ca", cfg->database.ssl_verify_server_cert ? cfg->database.ssl_ca : "" },
		{ "database.ssl_cert", cfg->database.ssl_cert },
		{ "database.ssl_key", cfg->database.ssl_key },
	};
	struct stat st;

	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		const char *path = files[i][1];

		if (path[0] == '\0')
			continue;
		if (stat(path, &st) < 0 || access(path, R_OK) < 0)
			config_problem(w, "%s '%s' cannot be read: %s; every connection to MariaDB needs it",
				       files[i][0], path, strerror(errno));
		else if (!S_ISREG(st.st_mode))
			config_problem(w, "%s '%s' is not a file (a PEM file is expected)", files[i][0], path);
	}
}

/*
 * auth.mode = jwt: the key files load as a worker would load them, so that
 * a new JWKS file can be checked before the SIGHUP that makes workers read it.
 */
static void check_jwt_keys(const struct config *cfg, struct config_problems *w)
{
	struct jwt_auth *ja;
	char err[512];

	if (strcmp(cfg->auth.mode, "jwt") != 0)
		return;
	if (jwt_auth_new(cfg, NULL, &ja, err, sizeof err) < 0)
		config_problem(w, "%s", err);
	jwt_auth_free(ja);
}

/* auth.mode = remote_user on the socket server.listen would make: the rule of auth_socket.h. */
static void check_remote_user_socket(const struct config *cfg, struct config_problems *warnings)
{
	struct auth_socket_facts f;
	enum auth_mode mode;
	char why[768];

	if (auth_mode_parse(cfg->auth.mode, &mode) < 0 || mode != AUTH_MODE_REMOTE_USER ||
	    cfg->auth.remote_user_any_socket)
		return;
	if (auth_socket_preview(cfg, &f, why, sizeof why) == 0 && auth_socket_judge(&f, why, sizeof why) == 0)
		return;
	config_problem(warnings, "auth.mode = remote_user would refuse this listener: %s", why);
}

/* auth.mode = token: the key file loads as a worker would load it (private, long enough). */
static void check_token_key(const struct config *cfg, struct config_problems *w)
{
	struct token_auth *ta;
	char err[512];

	if (strcmp(cfg->auth.mode, "token") != 0 || cfg->auth.token_key_file[0] == '\0')
		return;
	if (token_auth_new(cfg, NULL, &ta, err, sizeof err) < 0)
		config_problem(w, "%s", err);
	token_auth_free(ta);
}

void preflight_check(const struct config *cfg, const char *config_file, struct config_problems *warnings)
{
	char err[512];
	const char *gateway = getenv("GATEWAY_INTERFACE");
	bool cgi = gateway != NULL && strncmp(gateway, "CGI/", 4) == 0;
	bool handed_over = listener_inherited();

	if (privileges_check(cfg, err, sizeof err) < 0)
		config_problem(warnings, "%s", err);
	if (cfg->server.listen[0] == '\0' && !handed_over && !cgi)
		config_problem(warnings, "server.listen is empty and no listening socket was passed (fd 0, or "
			       "systemd's LISTEN_FDS): a start fails unless spawn-fcgi, a web server or "
			       "systemd hands one over");
	if (!handed_over && cfg->server.listen[0] != '\0')
		check_socket_path("server.listen", cfg->server.listen, warnings);
	if (cfg->server.admin_listen[0] != '\0')
		check_socket_path("server.admin_listen", cfg->server.admin_listen, warnings);
	if (cfg->server.socket_owner[0] != '\0') {
		uid_t uid;
		gid_t gid;

		if (privileges_lookup_user(cfg->server.socket_owner, &uid, &gid, err, sizeof err) < 0)
			config_problem(warnings, "server.socket_owner: %s", err);
	}
	if (cfg->server.socket_group[0] != '\0') {
		gid_t gid;

		if (privileges_lookup_group(cfg->server.socket_group, &gid, err, sizeof err) < 0)
			config_problem(warnings, "server.socket_group: %s", err);
	}
	if (!handed_over && !cgi && cfg->server.listen[0] != '\0')
		check_remote_user_socket(cfg, warnings);
	check_log_file("log.error_log", cfg->log.error_log, warnings);
	check_log_file("log.access_log_file", cfg->log.access_log_file, warnings);
	check_log_file("log.slow_log_file", cfg->log.slow_log_file, warnings);
	check_tls_files(cfg, warnings);
	check_reload_reads(cfg, config_file, warnings);
	check_jwt_keys(cfg, warnings);
	check_token_key(cfg, warnings);
}
