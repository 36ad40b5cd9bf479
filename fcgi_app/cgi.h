#ifndef TASKAPI_CGI_H
#define TASKAPI_CGI_H

#include <stdbool.h>

#include "config.h"

/*
 * Plain CGI (RFC 3875), for hosts that offer nothing else: the web server
 * starts taskapi once per request with the request in the environment and
 * the body on stdin, and reads the response from stdout. taskapi answers
 * that one request with the same parser, router and handlers as in FastCGI
 * mode, then exits. No threads; a pool of one connection.
 */

/*
 * True when taskapi was started as a CGI program: GATEWAY_INTERFACE is
 * "CGI/..." (RFC 3875 says the server must set it) and nobody passed a
 * listening socket (fd 0 or systemd's LISTEN_FDS; see listener.h). A
 * spawn-fcgi or mod_fcgid listener on fd 0 is therefore never taken for
 * CGI, whatever the environment says.
 */
bool cgi_detect(void);

/*
 * Answers the request in the environment and on stdin, on stdout. Drops
 * privileges first (privileges_drop), then connects to cfg's database
 * through a pool of one. Returns the exit status: 0 once a response was
 * written (whatever its HTTP status), 1 when none could be.
 */
int cgi_main(const struct config *cfg);

#endif
