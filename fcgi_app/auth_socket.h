#ifndef TASKAPI_AUTH_SOCKET_H
#define TASKAPI_AUTH_SOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/un.h>

#include "config.h"

/*
 * auth.mode = remote_user believes the REMOTE_USER param of every FastCGI
 * request: whoever can connect to the listener can claim to be any user.
 * So taskapi serves in that mode only on a listener that nobody but the web
 * server (besides root and the socket's owner) can connect to. The rule,
 * as docs/configuration.md states it under auth.remote_user_any_socket:
 *
 *  - not a unix socket (TCP, on loopback too): refused, every local process
 *    can connect;
 *  - an abstract or unnamed unix socket: refused, no file permission
 *    guards it;
 *  - a unix socket file (connect(2) needs write permission on it):
 *      writable by others (o+w): refused;
 *      writable by its group (g+w): the group must be dedicated, i.e.
 *        not one of the groups systems share among services and people
 *        (AUTH_SOCKET_SHARED_GROUPS), and held by at most one account
 *        besides root and the socket's owner, as its primary group or as
 *        a listed member: that one is the web server's;
 *      writable by its owner: the owner must not be nobody.
 *    Only the file's own mode counts, not the folders above it.
 *
 * The listener is looked at, not the configuration: a socket handed over
 * (systemd fd 3, spawn-fcgi or mod_fcgid fd 0) is judged the same way as
 * one taskapi bound. Plain CGI has no socket and is never judged.
 */

/* Groups that are shared by design, whatever their members (comma-separated, for messages). */
#define AUTH_SOCKET_SHARED_GROUPS "www-data, www, http, apache, nginx, nobody, nogroup, users, staff, daemon"

/* What the rule needs to know about a listener: auth_socket_inspect fills it in. */
struct auth_socket_facts {
	int family;      /* AF_UNIX, AF_INET, AF_INET6, ... */
	char address[sizeof ((struct sockaddr_un *)0)->sun_path + 8]; /* for messages */
	bool has_file;   /* AF_UNIX bound to a path (not abstract, not unnamed) */
	mode_t mode;     /* the socket file's permission bits */
	uid_t uid;
	gid_t gid;
	char owner[64];  /* the owner's name, or its number */
	char group[64];  /* the group's name, or its number */
	unsigned group_accounts; /* accounts holding gid, root and the owner aside */
	char group_account[64];  /* one of them (the first found), for messages */
};

/*
 * Fills f from the listening socket fd (getsockname, then stat of its path
 * and the user and group databases). Returns 0, or -1 with err when the
 * socket or its file cannot be examined (which the caller treats as a
 * refusal: nothing unchecked is trusted). Reads the passwd database with
 * getpwent: call it before any thread exists.
 */
int auth_socket_inspect(int fd, struct auth_socket_facts *f, char *err, size_t errlen);

/*
 * The facts of the listener server.listen would give, found without opening
 * anything (for --check-config): a network address, or a unix socket file
 * with socket_mode, owned by socket_owner (else server.user, else this
 * process's user) and of socket_group (else server.group, else this
 * process's group). Returns -1 with err when a name does not resolve.
 */
int auth_socket_preview(const struct config *cfg, struct auth_socket_facts *f, char *err, size_t errlen);

/*
 * The rule above on f: 0 when only the web server can connect; -1 with
 * why (a sentence naming who else could) otherwise.
 */
int auth_socket_judge(const struct auth_socket_facts *f, char *why, size_t whylen);

/* True when name is one of AUTH_SOCKET_SHARED_GROUPS. */
bool auth_socket_shared_group(const char *name);

/*
 * The accounts that hold group gid (primary group, or listed as a member),
 * except root and the user except; one of them is copied into one (may be
 * NULL). Members without a passwd entry count too.
 */
unsigned auth_socket_group_accounts(gid_t gid, uid_t except, char *one, size_t onelen);

/*
 * For serve, once the listener fd is open: in auth.mode = remote_user,
 * inspects and judges fd. A refusal returns -1 with err (what to do
 * about it included), unless auth.remote_user_any_socket is true: then it
 * is logged as a warning and 0 is returned. Other modes: 0 at once.
 */
int auth_socket_check(const struct config *cfg, int fd, char *err, size_t errlen);

#endif
