#ifndef TASKAPI_INTAKE_H
#define TASKAPI_INTAKE_H

#include <fcgiapp.h>
#include <stdatomic.h>
#include <stdbool.h>

/*
 * The connection side of a serving process: takes connections off the
 * listening socket, keeps idle kept-alive ones (nginx fastcgi_keep_conn) in
 * an epoll set, and reads the next complete FastCGI request from whichever
 * becomes readable, for any of the serving threads (server.c), which answer
 * it (pipeline.c) and hand the connection back. A thread never blocks on an
 * idle connection: however many nginx keeps, no request waits behind them.
 * libfcgi parses the protocol: each thread lends it one ready connection at
 * a time through its FCGX_Request.
 *
 * Decides here: how many connections one wakeup accepts (it reads the
 * metrics board's idle thread count), the I/O timeout of every connection,
 * and whether a connection is kept for another request.
 */

/* How far the process is in leaving; only ever moves forward. */
enum intake_state {
	INTAKE_RUN = 0, /* accepting, connections kept */
	INTAKE_DRAIN,   /* no new connections; kept ones still answered */
	INTAKE_STOP,    /* no new requests: each connection closes after its answer, idle threads leave */
};

/* One process's intake, shared by its serving threads. Owned by the caller (server.c). */
struct intake {
	int listen_fd;         /* borrowed */
	int io_timeout_ms;
	int epoll_fd;
	int stop_fd;           /* eventfd, readable once every thread must leave */
	int dummy_fd;          /* libfcgi's listen_sock: accept() on it always fails */
	atomic_int state;      /* enum intake_state */
	atomic_long open_conns;/* accepted and not yet closed */
};

/*
 * Sets up the epoll set over listen_fd (made non-blocking; borrowed, never
 * closed here). Returns 0, or -1 with the reason logged; intake_close is
 * needed either way.
 */
int intake_open(struct intake *in, int listen_fd, int io_timeout_ms);
/* Closes what intake_open made. Every thread must have left. */
void intake_close(struct intake *in);

/* Readies a thread's FCGX_Request for intake_next. */
void intake_init_request(struct intake *in, FCGX_Request *fcgx);

/*
 * Waits for the next complete request and leaves it in fcgx (its params,
 * body stream and answer stream). Returns 1 with a request the caller must
 * hand back with intake_finish, or 0 when the thread must leave (stop, or
 * the event loop failed).
 */
int intake_next(struct intake *in, FCGX_Request *fcgx);
/*
 * Ends the request intake_next gave: the connection is kept for the next
 * one unless close (the request left it unusable) or the intake is stopping.
 */
void intake_finish(struct intake *in, FCGX_Request *fcgx, bool close);

/*
 * Moves to state (never back): from DRAIN on no new connections are
 * accepted; STOP also wakes every thread waiting in intake_next to leave.
 */
void intake_leave(struct intake *in, enum intake_state state);
enum intake_state intake_state(struct intake *in);
/* Connections accepted and not yet closed. */
long intake_open_conns(struct intake *in);

#endif
