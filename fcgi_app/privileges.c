#include "privileges.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* Supplementary groups looked at when checking a drop (one is all a drop leaves). */
#define PRIVILEGES_GROUPS_MAX 256

/* The account server.user and server.group name, resolved. */
struct target {
	bool set;       /* server.user is not empty */
	uid_t uid;
	gid_t gid;
};

/* A decimal id ("65534"), or -1 when s is a name. */
static long parse_id(const char *s)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v >= INT_MAX)
		return -1;
	return v;
}

int privileges_lookup_user(const char *name, uid_t *uid, gid_t *gid, char *err, size_t errlen)
{
	char buf[PRIVILEGES_PWBUF_SIZE];
	struct passwd pw, *found = NULL;
	long id = parse_id(name);
	int rc;

	if (id >= 0)
		rc = getpwuid_r((uid_t)id, &pw, buf, sizeof buf, &found);
	else
		rc = getpwnam_r(name, &pw, buf, sizeof buf, &found);
	if (found != NULL) {
		*uid = pw.pw_uid;
		*gid = pw.pw_gid;
		return 0;
	}
	if (id >= 0) { /* a bare number is fine without a passwd entry */
		*uid = (uid_t)id;
		*gid = (gid_t)-1;
		return 0;
	}
	snprintf(err, errlen, "unknown user '%s'%s%s", name, rc ? ": " : "", rc ? strerror(rc) : "");
	return -1;
}

int privileges_lookup_group(const char *name, gid_t *gid, char *err, size_t errlen)
{
	char buf[PRIVILEGES_PWBUF_SIZE];
	struct group gr, *found = NULL;
	long id = parse_id(name);
	int rc;

	if (id >= 0) {
		*gid = (gid_t)id;
		return 0;
	}
	rc = getgrnam_r(name, &gr, buf, sizeof buf, &found);
	if (found == NULL) {
		snprintf(err, errlen, "unknown group '%s'%s%s", name, rc ? ": " : "", rc ? strerror(rc) : "");
		return -1;
	}
	*gid = gr.gr_gid;
	return 0;
}

/* Resolves server.user and server.group into t; refuses root as a target. */
static int resolve(const struct config *cfg, struct target *t, char *err, size_t errlen)
{
	const char *user = cfg->server.user, *group = cfg->server.group;
	char msg[CONFIG_ERR_SIZE];

	memset(t, 0, sizeof *t);
	if (user[0] == '\0') {
		if (group[0] == '\0')
			return 0;
		snprintf(err, errlen, "server.group is set but server.user is not: set both");
		return -1;
	}
	if (privileges_lookup_user(user, &t->uid, &t->gid, msg, sizeof msg) < 0 ||
	    (group[0] != '\0' && privileges_lookup_group(group, &t->gid, msg, sizeof msg) < 0)) {
		snprintf(err, errlen, "server.user/server.group: %s", msg);
		return -1;
	}
	if (t->uid == 0) {
		snprintf(err, errlen, "server.user must not be root: to run as root, leave it empty "
			 "and set server.allow_root = true");
		return -1;
	}
	if (t->gid == (gid_t)-1 || t->gid == 0) {
		snprintf(err, errlen, t->gid == 0 ? "the group taskapi would run as is root (gid 0): "
			 "set server.group" : "user %s has no passwd entry: set server.group too", user);
		return -1;
	}
	t->set = true;
	return 0;
}

int privileges_check(const struct config *cfg, char *err, size_t errlen)
{
	struct target t;

	if (resolve(cfg, &t, err, errlen) < 0)
		return -1;
	if (geteuid() == 0) {
		if (t.set || cfg->server.allow_root)
			return 0;
		snprintf(err, errlen, "refusing to run as root: set server.user (and server.group) to the "
			 "account taskapi should switch to once its socket is open, or start it as that "
			 "user (server.allow_root = true only where root is confined, as in a container)");
		return -1;
	}
	if (t.set && (t.uid != geteuid() || t.gid != getegid())) {
		snprintf(err, errlen, "server.user/server.group ask for uid %u gid %u, but taskapi runs as "
			 "uid %u gid %u and is not root, so it cannot switch: start it as root or as that "
			 "user, or leave both empty", (unsigned)t.uid, (unsigned)t.gid,
			 (unsigned)geteuid(), (unsigned)getegid());
		return -1;
	}
	return 0;
}

/* The supplementary groups of the target: its own from the group database. */
static int set_groups(uid_t uid, gid_t gid)
{
	char buf[PRIVILEGES_PWBUF_SIZE];
	struct passwd pw, *found = NULL;

	if (setgroups(0, NULL) < 0)
		return -1;
	getpwuid_r(uid, &pw, buf, sizeof buf, &found);
	if (found != NULL)
		return initgroups(found->pw_name, gid);
	return setgroups(1, &gid);
}

/* True when every id of the process is the target's and root is out of reach. */
static bool dropped(const struct target *t)
{
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid, groups[PRIVILEGES_GROUPS_MAX];
	int n;

	if (getresuid(&ruid, &euid, &suid) < 0 || getresgid(&rgid, &egid, &sgid) < 0)
		return false;
	if (ruid != t->uid || euid != t->uid || suid != t->uid ||
	    rgid != t->gid || egid != t->gid || sgid != t->gid)
		return false;
	n = getgroups((int)(sizeof groups / sizeof groups[0]), groups);
	if (n < 0)
		return false;
	for (int i = 0; i < n; i++)
		if (groups[i] == 0)
			return false;
	/* Both must fail now; if either succeeds, the switch did not hold. */
	return setuid(0) != 0 && setgid(0) != 0;
}

int privileges_drop(const struct config *cfg, char *err, size_t errlen)
{
	struct target t;

	if (geteuid() != 0)
		return 0;
	if (resolve(cfg, &t, err, errlen) < 0)
		return -1;
	if (!t.set) {
		log_warn("running as root (server.allow_root = true)");
		return 0;
	}
	/* Groups first: once the user is switched, changing them is no longer allowed. */
	if (set_groups(t.uid, t.gid) < 0 || setresgid(t.gid, t.gid, t.gid) < 0 ||
	    setresuid(t.uid, t.uid, t.uid) < 0) {
		snprintf(err, errlen, "cannot switch to user %s (uid %u, gid %u): %s", cfg->server.user,
			 (unsigned)t.uid, (unsigned)t.gid, strerror(errno));
		return -1;
	}
	if (!dropped(&t)) {
		snprintf(err, errlen, "switched to user %s but root privileges remain: refusing to serve",
			 cfg->server.user);
		return -1;
	}
	log_info("running as user %s (uid %u, gid %u)", cfg->server.user, (unsigned)t.uid,
		 (unsigned)t.gid);
	return 0;
}
