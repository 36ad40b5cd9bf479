#include "auth_socket.h"

#include <errno.h>
#include <grp.h>
#include <netdb.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "log.h"
#include "privileges.h"
#include "xalloc.h"

/* The overflow uid and gid the kernel shows for "nobody" (and Debian's nobody/nogroup). */
#define OVERFLOW_ID 65534

bool auth_socket_shared_group(const char *name)
{
	static const char *const shared[] = { "www-data", "www", "http", "apache", "nginx",
					      "nobody", "nogroup", "users", "staff", "daemon" };

	for (size_t i = 0; i < sizeof shared / sizeof shared[0]; i++)
		if (strcmp(name, shared[i]) == 0)
			return true;
	return false;
}

/* The group entry of gid in a buffer of the caller's (*buf, grown as needed); NULL when none. */
static struct group *group_entry(gid_t gid, struct group *gr, char **buf)
{
	size_t size = PRIVILEGES_PWBUF_SIZE;
	struct group *found = NULL;
	int rc;

	for (;;) {
		*buf = xrealloc(*buf, size);
		rc = getgrgid_r(gid, gr, *buf, size, &found);
		if (rc != ERANGE || size >= (1u << 24))
			return rc == 0 ? found : NULL;
		size *= 2;
	}
}

unsigned auth_socket_group_accounts(gid_t gid, uid_t except, char *one, size_t onelen)
{
	struct group gr, *g;
	struct passwd *pw;
	char *buf = NULL;
	bool *seen = NULL;
	size_t n_mem = 0;
	unsigned count = 0;

	if (one != NULL && onelen > 0)
		one[0] = '\0';
	g = group_entry(gid, &gr, &buf);
	if (g != NULL)
		while (g->gr_mem[n_mem] != NULL)
			n_mem++;
	seen = xcalloc(n_mem + 1, sizeof *seen);
	/* Every account: its primary group, or its name among the group's members. */
	setpwent();
	while ((pw = getpwent()) != NULL) {
		bool holds = pw->pw_gid == gid;

		for (size_t i = 0; i < n_mem; i++)
			if (strcmp(g->gr_mem[i], pw->pw_name) == 0) {
				seen[i] = true;
				holds = true;
			}
		if (!holds || pw->pw_uid == 0 || pw->pw_uid == except)
			continue;
		if (count++ == 0 && one != NULL)
			snprintf(one, onelen, "%s", pw->pw_name);
	}
	endpwent();
	/* A member the passwd database does not list still names someone: count it. */
	for (size_t i = 0; i < n_mem; i++) {
		if (seen[i] || strcmp(g->gr_mem[i], "root") == 0)
			continue;
		if (count++ == 0 && one != NULL)
			snprintf(one, onelen, "%s", g->gr_mem[i]);
	}
	free(seen);
	free(buf);
	return count;
}

static void user_name(uid_t uid, char *out, size_t outlen)
{
	char buf[PRIVILEGES_PWBUF_SIZE];
	struct passwd pw, *found = NULL;

	if (getpwuid_r(uid, &pw, buf, sizeof buf, &found) == 0 && found != NULL)
		snprintf(out, outlen, "%s", pw.pw_name);
	else
		snprintf(out, outlen, "%lu", (unsigned long)uid);
}

static void group_name(gid_t gid, char *out, size_t outlen)
{
	struct group gr, *g;
	char *buf = NULL;

	g = group_entry(gid, &gr, &buf);
	if (g != NULL)
		snprintf(out, outlen, "%s", g->gr_name);
	else
		snprintf(out, outlen, "%lu", (unsigned long)gid);
	free(buf);
}

int auth_socket_inspect(int fd, struct auth_socket_facts *f, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	const struct sockaddr_un *un = (const struct sockaddr_un *)&ss;
	char host[NI_MAXHOST], port[NI_MAXSERV];
	size_t path_len;
	struct stat st;

	memset(f, 0, sizeof *f);
	memset(&ss, 0, sizeof ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		snprintf(err, errlen, "cannot tell what the listener (fd %d) is: %s", fd, strerror(errno));
		return -1;
	}
	f->family = ss.ss_family;
	if (f->family != AF_UNIX) {
		if (getnameinfo((struct sockaddr *)&ss, len, host, sizeof host, port, sizeof port,
				NI_NUMERICHOST | NI_NUMERICSERV) == 0)
			snprintf(f->address, sizeof f->address, f->family == AF_INET6 ? "[%s]:%s" : "%s:%s",
				 host, port);
		else
			snprintf(f->address, sizeof f->address, "a socket of address family %d", f->family);
		return 0;
	}
	path_len = len > offsetof(struct sockaddr_un, sun_path) ? len - offsetof(struct sockaddr_un, sun_path) : 0;
	if (path_len == 0 || un->sun_path[0] == '\0') {
		/* Unnamed, or Linux's abstract namespace: no file, no permissions. */
		snprintf(f->address, sizeof f->address, "%s", path_len == 0 ? "an unnamed unix socket" :
			 "an abstract unix socket");
		return 0;
	}
	snprintf(f->address, sizeof f->address, "%.*s", (int)strnlen(un->sun_path, path_len), un->sun_path);
	if (stat(f->address, &st) < 0) {
		snprintf(err, errlen, "cannot check who may connect to the listener '%s': %s", f->address,
			 strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "cannot check who may connect to the listener '%s': the file "
			 "there is not a socket", f->address);
		return -1;
	}
	f->has_file = true;
	f->mode = st.st_mode & 07777;
	f->uid = st.st_uid;
	f->gid = st.st_gid;
	user_name(st.st_uid, f->owner, sizeof f->owner);
	group_name(st.st_gid, f->group, sizeof f->group);
	f->group_accounts = auth_socket_group_accounts(st.st_gid, st.st_uid, f->group_account,
							sizeof f->group_account);
	return 0;
}

int auth_socket_preview(const struct config *cfg, struct auth_socket_facts *f, char *err, size_t errlen)
{
	const char *listen_on = cfg->server.listen;
	const char *owner = cfg->server.socket_owner[0] ? cfg->server.socket_owner : cfg->server.user;
	const char *group = cfg->server.socket_group[0] ? cfg->server.socket_group : cfg->server.group;
	char msg[CONFIG_ERR_SIZE];
	gid_t primary;

	memset(f, 0, sizeof *f);
	snprintf(f->address, sizeof f->address, "%s", listen_on);
	/* listener_bind's test: a '/' makes it a unix socket path. */
	if (strchr(listen_on, '/') == NULL) {
		f->family = AF_INET;
		return 0;
	}
	f->family = AF_UNIX;
	f->has_file = true;
	f->mode = (mode_t)cfg->server.socket_mode & 07777;
	f->uid = geteuid();
	f->gid = getegid();
	if ((owner[0] && privileges_lookup_user(owner, &f->uid, &primary, msg, sizeof msg) < 0) ||
	    (group[0] && privileges_lookup_group(group, &f->gid, msg, sizeof msg) < 0)) {
		snprintf(err, errlen, "%s", msg);
		return -1;
	}
	user_name(f->uid, f->owner, sizeof f->owner);
	group_name(f->gid, f->group, sizeof f->group);
	f->group_accounts = auth_socket_group_accounts(f->gid, f->uid, f->group_account, sizeof f->group_account);
	return 0;
}

int auth_socket_judge(const struct auth_socket_facts *f, char *why, size_t whylen)
{
	if (f->family != AF_UNIX) {
		snprintf(why, whylen, "the listener is %s, a network socket: every local process, and "
			 "every host that reaches it, can connect", f->address);
		return -1;
	}
	if (!f->has_file) {
		snprintf(why, whylen, "the listener is %s: no file permission keeps anyone from "
			 "connecting", f->address);
		return -1;
	}
	if (f->mode & S_IWOTH) {
		snprintf(why, whylen, "the socket %s (mode %04o) is writable by others: every local "
			 "user can connect", f->address, (unsigned)f->mode);
		return -1;
	}
	if ((f->mode & S_IWGRP) && auth_socket_shared_group(f->group)) {
		snprintf(why, whylen, "the socket %s (mode %04o) is writable by its group %s, which "
			 "systems share among services: other programs run with it can connect",
			 f->address, (unsigned)f->mode, f->group);
		return -1;
	}
	if ((f->mode & S_IWGRP) && f->group_accounts > 1) {
		snprintf(why, whylen, "the socket %s (mode %04o) is writable by its group %s, which "
			 "%u accounts besides root and the owner %s hold (%s, ...): it must be a "
			 "group of the web server's account alone", f->address, (unsigned)f->mode,
			 f->group, f->group_accounts, f->owner, f->group_account);
		return -1;
	}
	if ((f->mode & S_IWUSR) && (f->uid == OVERFLOW_ID || strcmp(f->owner, "nobody") == 0)) {
		snprintf(why, whylen, "the socket %s belongs to nobody, the account unrelated "
			 "services share", f->address);
		return -1;
	}
	return 0;
}

int auth_socket_check(const struct config *cfg, int fd, char *err, size_t errlen)
{
	struct auth_socket_facts f;
	enum auth_mode mode;
	char why[768];

	if (auth_mode_parse(cfg->auth.mode, &mode) < 0 || mode != AUTH_MODE_REMOTE_USER)
		return 0;
	if (auth_socket_inspect(fd, &f, why, sizeof why) == 0 && auth_socket_judge(&f, why, sizeof why) == 0)
		return 0;
	if (cfg->auth.remote_user_any_socket) {
		log_warn("auth.mode = remote_user trusts REMOTE_USER from whoever connects, and %s; "
			 "serving anyway (auth.remote_user_any_socket = true)", why);
		return 0;
	}
	snprintf(err, errlen, "auth.mode = remote_user trusts REMOTE_USER from whoever connects, "
		 "so anyone who can connect could claim to be any user; refusing to serve because %s. "
		 "Serve on a unix socket only the web server can write (e.g. socket_mode 0660 with a "
		 "group of the web server's account alone, or 0600 owned by it), or set "
		 "auth.remote_user_any_socket = true to accept the risk (docs/configuration.md)", why);
	return -1;
}
