#ifndef TASKAPI_LISTENER_H
#define TASKAPI_LISTENER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/un.h>

#include "config.h"

/*
 * Listening sockets. Two entry points, because two different things are
 * opened:
 *
 * listener_take: THE FastCGI listener, from the first of
 *  1. systemd socket activation: LISTEN_PID is this process and LISTEN_FDS
 *     is 1, so the socket is fd 3 (sd_listen_fds(3), without libsystemd);
 *  2. a listening socket on fd 0, from spawn-fcgi, Apache mod_fcgid or
 *     systemd's StandardInput=socket (the FastCGI convention);
 *  3. server.listen, bound as listener_bind does.
 * A socket handed over (1, 2) wins over server.listen, so one configuration
 * file serves every way of starting taskapi.
 *
 * listener_bind: a socket of our own at a given address (a unix socket path
 * with socket_mode, socket_owner, socket_group; or TCP host:port,
 * [v6]:port, *:port). It never looks at fd 0 or the systemd variables: the
 * admin socket (server.admin_listen) is opened with it, so it can never
 * take the FastCGI listener a spawner handed over.
 *
 * Only the master process opens them, before privileges are dropped and
 * before any worker exists.
 */

/*
 * One open listener, owned by the caller. It records the unix socket file
 * this process created, so that listener_close removes that file and no
 * other: each listener removes its own.
 */
struct listener {
	int fd;              /* -1 when closed */
	bool created;        /* path below was bound by this process */
	pid_t pid;           /* the process that bound it (a forked child must not remove it) */
	dev_t dev;           /* the file as bound: a newer server may have replaced it */
	ino_t ino;
	char path[sizeof ((struct sockaddr_un *)0)->sun_path];
};

/* Sets l to "closed" (fd -1, no file); listener_close on it does nothing. */
void listener_init(struct listener *l);

/*
 * Takes over or opens the FastCGI listener as above into l, close-on-exec.
 * Consumes the systemd variables (LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES are
 * unset, as sd_listen_fds(1) does). Returns l->fd, or -1 with err (l closed).
 */
int listener_take(struct listener *l, const struct config *cfg, char *err, size_t errlen);

/*
 * Binds address (see above) into l, close-on-exec, listening with backlog;
 * cfg gives the unix socket's mode, owner and group. A stale socket file
 * (nobody answers) is replaced; a live one or any other file is refused.
 * Returns l->fd, or -1 with err (l closed).
 */
int listener_bind(struct listener *l, const struct config *cfg, const char *address, int backlog,
		  char *err, size_t errlen);

/*
 * Closes l and removes the unix socket file it created, if this is the
 * process that created it and the file is still the same one; sockets
 * handed over are left to whoever made them. Safe to call twice.
 */
void listener_close(struct listener *l);

/*
 * Closes l's descriptor only, leaving its file: for a forked process that
 * must not hold the socket (its file belongs to the parent).
 */
void listener_forget(struct listener *l);

/*
 * True when whoever started taskapi passed a listener (1 or 2 above),
 * without consuming anything. cgi.c uses it: a process with one is never
 * a CGI program.
 */
bool listener_inherited(void);

/* True when fd is a socket in the listening state. */
bool listener_is_listening(int fd);

#endif
