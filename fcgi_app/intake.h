#ifndef TASKAPI_INTAKE_H
#define TASKAPI_INTAKE_H

#include <fcgiapp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "fcgi_scan.h"
#include "metrics.h"

/*
 * The connection side of a serving process: takes connections off the
 * listening socket, watches every open one in an epoll set, and hands a
 * connection to one of the serving threads (server.c) only when one whole
 * request is waiting in its socket; the thread answers it (pipeline.c) and
 * gives the connection back.
 *
 * Bounded against any peer, hostile or careless:
 *  - a request that has not fully arrived holds no thread: the intake peeks
 *    (MSG_PEEK) at the bytes waiting and checks them with fcgi_scan, so
 *    libfcgi, which parses the protocol, only ever reads a request that is
 *    whole, within the caps (params, body, records), and made of the records
 *    web servers send; anything else is closed before a thread or an
 *    allocation is spent on it;
 *  - time: a new connection must start a request within idle_timeout_ms, a
 *    request must be whole request_timeout_ms after its first byte, a kept
 *    connection may idle keepalive_timeout_ms between requests; a sweep once
 *    a second closes whoever is past their deadline;
 *  - count: at most max_connections open; at the cap the connection that has
 *    been silent longest since it connected makes room, or, when none is
 *    silent, the new one is closed at once.
 * What it closes is counted on the metrics board and logged once per
 * interval, never once per event.
 *
 * A whole request must fit in the socket's buffer to be peeked at: the
 * caps (max_params_bytes + max_body_bytes) keep it there; on TCP the intake
 * sizes the listener's receive buffer for them. One kind of sender cannot be
 * waited for: one that sends the next body record only once the socket
 * reports room (Apache's mod_proxy_fcgi polls for POLLOUT, which a unix
 * socket reports only while under a quarter of the sender's buffer is in
 * flight). A request whose params are whole, with at least 16 KiB of body
 * waiting and nothing new for a second, is handed over before it is whole
 * (intake_reader.partial), to at most max_partial threads at once, each
 * bounded by the request's deadline.
 */

/* How far the process is in leaving; only ever moves forward. */
enum intake_state {
	INTAKE_RUN = 0, /* accepting, connections kept */
	INTAKE_DRAIN,   /* no new connections; kept ones still answered */
	INTAKE_STOP,    /* no new requests: each connection closes after its answer, idle threads leave */
};

/* The bounds of intake.c, from [server] (config.h). */
struct intake_limits {
	int io_timeout_ms;            /* one read or write of a thread on a connection */
	int idle_timeout_ms;
	int request_timeout_ms;
	int keepalive_timeout_ms;
	int max_connections;
	int max_partial;              /* threads that may serve a request still arriving (see intake.c) */
	struct fcgi_scan_limits scan; /* params, body, records of one request */
};

struct intake_conn;

/* One process's intake, shared by its serving threads. Owned by the caller (server.c). */
struct intake {
	int listen_fd;         /* borrowed */
	struct intake_limits limits;
	int epoll_fd;
	int stop_fd;           /* eventfd, readable once every thread must leave */
	int dummy_fd;          /* libfcgi's listen_sock: accept() on it always fails */
	atomic_int state;      /* enum intake_state */
	atomic_long open_conns;/* accepted and not yet closed */
	atomic_llong next_sweep_ms;
	atomic_int partial_active; /* requests handed over before they were whole */
	/* Below: guarded by lock. */
	pthread_mutex_t lock;
	struct intake_conn *conns; /* max_connections slots */
	int free_slot;             /* first of the free slots' chain, -1 when none */
	int head[3], tail[3];      /* the waiting lists (intake.c), oldest first */
	long long log_at_ms;       /* when the closes were last logged */
	unsigned long closes[METRICS_N_INTAKE_CLOSES]; /* since then */
	const char *reject_reason; /* the first rejection's reason since then */
	long long accept_error_at_ms; /* when an accept() failure was last logged */
	unsigned long accept_errors;  /* failures not logged since */
};

/* What one serving thread owns for the intake; reused from request to request. */
struct intake_reader {
	FCGX_Request fcgx;
	unsigned char *peek; /* room for the largest request the caps allow */
	size_t peek_cap;
	int slot;            /* the connection being served, -1 when none */
	/*
	 * The request was handed over before its body had fully arrived (a
	 * web server that waits for the socket to drain): reading its body may
	 * block, and must end by deadline_ms (server.c interrupts it there).
	 */
	bool partial;
	long long deadline_ms;
};

/*
 * Sets up the epoll set over listen_fd (made non-blocking; borrowed, never
 * closed here). Returns 0, or -1 with the reason logged; intake_close is
 * needed either way.
 */
int intake_open(struct intake *in, int listen_fd, const struct intake_limits *limits);
/* Closes what intake_open made and the connections still open. Every thread must have left. */
void intake_close(struct intake *in);

/* Readies a thread's reader for intake_next; intake_reader_release frees it. */
void intake_reader_init(struct intake *in, struct intake_reader *r);
void intake_reader_release(struct intake_reader *r);

/*
 * Waits for the next whole request and leaves it in r->fcgx (its params,
 * body stream and answer stream). Returns 1 with a request the caller must
 * hand back with intake_finish, or 0 when the thread must leave (stop, or
 * the event loop failed).
 */
int intake_next(struct intake *in, struct intake_reader *r);
/*
 * Ends the request intake_next gave: the connection is kept for the next
 * one unless close (the request left it unusable) or the intake is stopping.
 */
void intake_finish(struct intake *in, struct intake_reader *r, bool close);

/*
 * Moves to state (never back): from DRAIN on no new connections are
 * accepted; STOP also wakes every thread waiting in intake_next to leave.
 */
void intake_leave(struct intake *in, enum intake_state state);
enum intake_state intake_state(struct intake *in);
/* Connections accepted and not yet closed. */
long intake_open_conns(struct intake *in);

#endif
