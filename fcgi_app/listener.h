#ifndef TASKAPI_LISTENER_H
#define TASKAPI_LISTENER_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/*
 * The FastCGI listening socket, from the first of:
 *
 *  1. systemd socket activation: LISTEN_PID is this process and LISTEN_FDS
 *     is 1, so the socket is fd 3 (sd_listen_fds(3), without libsystemd);
 *  2. a listening socket on fd 0, from spawn-fcgi, Apache mod_fcgid or
 *     systemd's StandardInput=socket (the FastCGI convention);
 *  3. server.listen: a unix socket taskapi creates (with socket_mode,
 *     socket_owner, socket_group), or TCP host:port / [v6]:port.
 *
 * A socket handed over (1, 2) wins over server.listen, so one configuration
 * file serves every way of starting taskapi. Only the master process opens
 * it, before privileges are dropped and before any worker exists.
 */

/*
 * Opens or takes over the listener as above, close-on-exec. Consumes the
 * systemd variables (LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES are unset, as
 * sd_listen_fds(1) does). Returns the fd, or -1 with err.
 */
int listener_open(const struct config *cfg, char *err, size_t errlen);

/*
 * Closes a listener from listener_open. A unix socket file this process
 * created is removed too, if it is still the same file (a newer server may
 * have replaced it); sockets handed over are left to whoever made them. Call
 * it in the process that opened it (the master), with the same cfg.
 */
void listener_close(const struct config *cfg, int fd);

/*
 * True when whoever started taskapi passed a listener (1 or 2 above),
 * without consuming anything. cgi.c uses it: a process with one is never
 * a CGI program.
 */
bool listener_inherited(void);

/* True when fd is a socket in the listening state. */
bool listener_is_listening(int fd);

#endif
