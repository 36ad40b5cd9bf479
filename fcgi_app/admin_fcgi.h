#ifndef TASKAPI_ADMIN_FCGI_H
#define TASKAPI_ADMIN_FCGI_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/*
 * The FastCGI responder side the admin socket speaks, read by taskapi itself
 * instead of libfcgi: the admin loop (admin_loop.c) buffers what a peer sent
 * without blocking and asks admin_fcgi_scan whether a whole request is there.
 * Nothing here reads or writes a socket, allocates past what the caller's
 * buffer holds, or keeps state outside the caller's struct admin_fcgi.
 *
 * A request is complete once FCGI_BEGIN_REQUEST and every FCGI_PARAMS record
 * up to the empty one have arrived (the point where libfcgi's FCGX_Accept_r
 * returned, which the admin socket used before): the admin endpoints take no
 * body, so FCGI_STDIN is not waited for. A management record (request id 0)
 * is answered as libfcgi answers it: FCGI_GET_VALUES with FCGI_MAX_CONNS 1,
 * FCGI_MAX_REQS 1, FCGI_MPXS_CONNS 0; any other type with FCGI_UNKNOWN_TYPE.
 * A role other than the responder gets FCGI_END_REQUEST with
 * FCGI_UNKNOWN_ROLE. Anything else out of order is a protocol error.
 */

enum admin_fcgi_status {
	ADMIN_FCGI_MORE,     /* no whole request yet: read more */
	ADMIN_FCGI_REQUEST,  /* a whole request: its params are in the struct */
	ADMIN_FCGI_REPLY,    /* no request, but an answer to send (management, role): then close */
	ADMIN_FCGI_BAD,      /* not FastCGI as a web server speaks it: close */
};

struct admin_fcgi {
	size_t pos;          /* input consumed as whole records */
	unsigned id;         /* of FCGI_BEGIN_REQUEST; 0 before it */
	struct buf params;   /* the FCGI_PARAMS contents, then (once whole) "name\0value\0"... */
	size_t n_params;
};

void admin_fcgi_init(struct admin_fcgi *f);
void admin_fcgi_release(struct admin_fcgi *f);

/*
 * Reads the whole records in in[f->pos, len) (in holds everything the peer sent
 * so far; the caller bounds len). On ADMIN_FCGI_REPLY the records to send are
 * appended to reply.
 */
enum admin_fcgi_status admin_fcgi_scan(struct admin_fcgi *f, const unsigned char *in, size_t len,
				       struct buf *reply);

/* A param of a whole request (NUL-terminated, borrowed from f), or NULL. */
const char *admin_fcgi_param(const struct admin_fcgi *f, const char *name);

/*
 * Appends to out the answer to f's request: cgi (a CGI response, "Status: ..."
 * headers, a blank line, the body) as FCGI_STDOUT records, the empty one, and
 * FCGI_END_REQUEST (request complete).
 */
void admin_fcgi_respond(const struct admin_fcgi *f, const char *cgi, size_t len, struct buf *out);

#endif
