#ifndef TASKAPI_LISTENER_H
#define TASKAPI_LISTENER_H

#include <stddef.h>

#include "config.h"

/*
 * The FastCGI listening socket: one taskapi opens itself (a unix socket with
 * the configured mode, or TCP on IPv4/IPv6), or one handed over by whoever
 * started taskapi (fd 0 from a web server or spawn-fcgi).
 */

/*
 * Opens the listener named by cfg->server.listen, or checks that fd 0 is a
 * listening socket when it is empty. Returns the fd or -1 with err.
 */
int listener_open(const struct config *cfg, char *err, size_t errlen);

/* True when fd is a socket in the listening state. */
int listener_is_listening(int fd);

#endif
