#ifndef TASKAPI_ADMIN_LOOP_H
#define TASKAPI_ADMIN_LOOP_H

#include <stdbool.h>

#include "admin_fcgi.h"
#include "buf.h"

/*
 * The admin socket's connections, all served by one thread from one poll set,
 * so that no peer can hold the answers to the others (/status and /metrics
 * must answer while anything else is stuck).
 *
 *   A connection that has not sent a whole request holds nothing but its
 *   buffer: reads are non-blocking, into a buffer of at most
 *   ADMIN_LOOP_MAX_REQUEST_BYTES; a request that does not fit is closed.
 *   From accept to a whole request: at most ADMIN_LOOP_REQUEST_MS, silent
 *   or trickling alike; then the connection is closed.
 *   The answer is written without blocking, within ADMIN_LOOP_WRITE_MS of
 *   the request; a peer that does not read it is closed.
 *   After the answer the connection is half-closed and what the peer still
 *   sends is read and dropped for at most ADMIN_LOOP_LINGER_MS (so a peer
 *   whose FCGI_STDIN arrives late does not see a reset before its answer).
 *   At most ADMIN_LOOP_MAX_CONNS connections are open: one more closes the
 *   oldest, one still reading its request if there is one (a new client,
 *   such as a monitor, always gets in; the old one had its chance).
 *   Every connection closed for one of these reasons is counted; the counts
 *   are logged as one warning at most every ADMIN_LOOP_LOG_INTERVAL_MS,
 *   never one line per connection.
 *
 * One request per connection (no keep-alive, as before): the answer ends it.
 */

#define ADMIN_LOOP_MAX_CONNS 64
#define ADMIN_LOOP_MAX_REQUEST_BYTES 16384
#define ADMIN_LOOP_REQUEST_MS 2000
#define ADMIN_LOOP_WRITE_MS 2000
#define ADMIN_LOOP_LINGER_MS 1000
#define ADMIN_LOOP_LOG_INTERVAL_MS 10000
#define ADMIN_LOOP_TICK_MS 100

struct admin_loop_hooks {
	/* Writes the CGI response (Status and other headers, blank line, body) to req into cgi. */
	void (*answer)(const struct admin_fcgi *req, struct buf *cgi, void *ctx);
	/* Asked at least every ADMIN_LOOP_TICK_MS; true ends the loop. */
	bool (*should_stop)(void *ctx);
	/* Called about every ADMIN_LOOP_TICK_MS (may be NULL). */
	void (*tick)(void *ctx);
	void *ctx;
};

/*
 * Serves listen_fd (non-blocking, listening) until should_stop; every
 * connection it accepted is closed when it returns. Returns 0.
 */
int admin_loop_run(int listen_fd, const struct admin_loop_hooks *hooks);

#endif
