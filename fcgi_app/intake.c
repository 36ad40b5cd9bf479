#include "intake.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "xalloc.h"

/* Connections taken at one wakeup while every thread is busy (see accept_ready). */
#define ACCEPT_BATCH_SATURATED 64
/* How often deadlines are checked: the timeouts hold to within this. */
#define SWEEP_MS 1000
/* Closes and accept failures are logged at most once per this interval. */
#define LOG_INTERVAL_MS 10000
/* Record headers and padding a whole request may add to its params and body. */
#define RECORD_OVERHEAD (8 + 255)
/* A request stalled this long with this much body waiting is handed over before it is whole. */
#define STALL_MS 1000
#define STALL_MIN_BODY_BYTES 16384

/* epoll keys of the two descriptors that are not connections. */
#define KEY_LISTEN UINT64_MAX
#define KEY_STOP (UINT64_MAX - 1)

/*
 * The waiting lists: every open connection that no thread is serving is on
 * one, oldest first. Each list has one timeout, so its order is also the
 * order of its deadlines and a sweep stops at the first one not yet due.
 */
enum { LIST_FRESH, LIST_RECEIVING, LIST_KEPT, LIST_NONE = -1 };

/*
 * Who has a connection slot. PARKED: waiting in the epoll set, no thread
 * has it; OWNED: one thread examines or serves it, nobody else touches its
 * descriptor. The generation in the upper bits changes each time the slot
 * takes a new connection, so an event for a connection that was closed
 * meanwhile (its descriptor number perhaps reused) is recognised as stale.
 */
enum { CONN_FREE = 0, CONN_PARKED = 1, CONN_OWNED = 2 };

struct intake_conn {
	_Atomic uint64_t owner; /* generation << 2 | CONN_* */
	atomic_int pending;     /* an event came while a thread owned it */
	int fd;
	/* Below: guarded by the intake's lock. */
	int list;               /* LIST_*, the one it waits on */
	int prev, next;         /* neighbours on that list; next also chains free slots */
	long long deadline_ms;
	/* The request arriving, as last examined (by its owner; read by the sweep once seized). */
	size_t seen_bytes;      /* bytes waiting in the socket */
	size_t body_bytes;      /* of which body, in whole records */
	long long grew_ms;      /* when seen_bytes last changed */
	bool params_done;
	bool hand_over;         /* the sweep found it stalled: serve it as it is */
};

static uint64_t tag(uint64_t generation, int state)
{
	return generation << 2 | (uint64_t)state;
}

static uint64_t event_key(uint64_t generation, int slot)
{
	return (generation & 0xffffffffu) << 32 | (uint32_t)slot;
}

/* Bounds every read and write of a serving thread: a stalled peer cannot hold it long. */
static void set_io_timeouts(int fd, int timeout_ms)
{
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* ---- the lists and slots (lock held) ------------------------------------------ */

static void waitlist_unlink(struct intake *in, int slot)
{
	struct intake_conn *c = &in->conns[slot];
	int l = c->list;

	if (l == LIST_NONE)
		return;
	if (c->prev >= 0)
		in->conns[c->prev].next = c->next;
	else
		in->head[l] = c->next;
	if (c->next >= 0)
		in->conns[c->next].prev = c->prev;
	else
		in->tail[l] = c->prev;
	c->list = LIST_NONE;
	c->prev = c->next = -1;
}

static void waitlist_push(struct intake *in, int slot, int l, long long deadline_ms)
{
	struct intake_conn *c = &in->conns[slot];

	waitlist_unlink(in, slot);
	c->list = l;
	c->deadline_ms = deadline_ms;
	c->next = -1;
	c->prev = in->tail[l];
	if (in->tail[l] >= 0)
		in->conns[in->tail[l]].next = slot;
	else
		in->head[l] = slot;
	in->tail[l] = slot;
}

/* Forgets what was seen of a request: the connection waits for a new one. */
static void request_reset(struct intake_conn *c)
{
	c->seen_bytes = 0;
	c->body_bytes = 0;
	c->grew_ms = 0;
	c->params_done = false;
	c->hand_over = false;
}

/* A free slot, now OWNED by the caller under a new generation; -1 when all are taken. */
static int slot_take(struct intake *in, int fd)
{
	int slot = in->free_slot;
	struct intake_conn *c;

	if (slot < 0)
		return -1;
	c = &in->conns[slot];
	in->free_slot = c->next;
	c->fd = fd;
	c->list = LIST_NONE;
	c->prev = c->next = -1;
	request_reset(c);
	atomic_store(&c->pending, 0);
	atomic_store(&c->owner, tag((atomic_load(&c->owner) >> 2) + 1, CONN_OWNED));
	return slot;
}

static void slot_free(struct intake *in, int slot)
{
	struct intake_conn *c = &in->conns[slot];

	waitlist_unlink(in, slot);
	c->fd = -1;
	atomic_store(&c->owner, tag(atomic_load(&c->owner) >> 2, CONN_FREE));
	c->next = in->free_slot;
	in->free_slot = slot;
}

/* Takes a PARKED slot for the closing caller: false when a thread has it right now. */
static bool seize(struct intake_conn *c)
{
	uint64_t now = atomic_load(&c->owner);

	if ((now & 3) != CONN_PARKED)
		return false;
	return atomic_compare_exchange_strong(&c->owner, &now, (now & ~(uint64_t)3) | CONN_OWNED);
}

/* ---- counting and logging what the intake closes --------------------------------- */

static void count_close(struct intake *in, enum metrics_intake_close why, const char *reason)
{
	metrics_intake_closed(why);
	in->closes[why]++;
	if (reason != NULL && in->reject_reason == NULL)
		in->reject_reason = reason;
}

/*
 * One line for everything closed since the last one, once the interval has
 * passed. Called with the lock held; formats into line (logged by the
 * caller after unlocking), or leaves it empty.
 */
static void closes_line(struct intake *in, long long now_ms, char *line, size_t size)
{
	static const char *const what[METRICS_N_INTAKE_CLOSES] = {
		"silent past server.idle_timeout_ms or keepalive_timeout_ms",
		"without a whole request within server.request_timeout_ms",
		"rejected",
		"refused at server.max_connections",
		"silent, closed to make room for new ones",
	};
	size_t at = 0;
	bool any = false;

	line[0] = '\0';
	for (int i = 0; i < METRICS_N_INTAKE_CLOSES; i++)
		any = any || in->closes[i] > 0;
	if (!any || now_ms - in->log_at_ms < LOG_INTERVAL_MS)
		return;
	at += (size_t)snprintf(line, size, "FastCGI connections closed unserved since %lld s ago:",
			       (now_ms - in->log_at_ms) / 1000 < 3600 ? (now_ms - in->log_at_ms) / 1000 : 3600);
	for (int i = 0; i < METRICS_N_INTAKE_CLOSES && at < size; i++) {
		if (in->closes[i] == 0)
			continue;
		at += (size_t)snprintf(line + at, size - at, " %lu %s%s%s%s;", in->closes[i], what[i],
				       i == METRICS_INTAKE_REJECTED && in->reject_reason ? " (first: " : "",
				       i == METRICS_INTAKE_REJECTED && in->reject_reason ? in->reject_reason : "",
				       i == METRICS_INTAKE_REJECTED && in->reject_reason ? ")" : "");
		in->closes[i] = 0;
	}
	in->reject_reason = NULL;
	in->log_at_ms = now_ms;
}

/* ---- connections --------------------------------------------------------------- */

/*
 * Closes a connection the caller owns. why < 0: an ordinary end (the peer
 * left), not counted as a close by the intake.
 */
static void conn_close(struct intake *in, int slot, int why, const char *reason)
{
	char line[512];

	pthread_mutex_lock(&in->lock);
	close(in->conns[slot].fd);
	slot_free(in, slot);
	if (why >= 0)
		count_close(in, (enum metrics_intake_close)why, reason);
	closes_line(in, clock_ms(), line, sizeof line);
	pthread_mutex_unlock(&in->lock);
	atomic_fetch_sub(&in->open_conns, 1);
	if (line[0])
		log_warn("%s", line);
}

/*
 * Takes the connection of an event: true when the caller now owns it. When a
 * thread has it, the event is left to that thread (pending), which looks
 * again when it lets go.
 */
static bool acquire(struct intake *in, int slot, uint64_t generation)
{
	struct intake_conn *c = &in->conns[slot];
	uint64_t expect = tag(generation, CONN_PARKED);

	if (atomic_compare_exchange_strong(&c->owner, &expect, tag(generation, CONN_OWNED)))
		return true;
	if ((expect >> 2 & 0xffffffffu) != (generation & 0xffffffffu) || (expect & 3) != CONN_OWNED)
		return false; /* closed since, perhaps a new connection in the slot */
	atomic_store(&c->pending, 1);
	expect = tag(expect >> 2, CONN_PARKED);
	return atomic_compare_exchange_strong(&c->owner, &expect, tag(expect >> 2, CONN_OWNED));
}

/*
 * Parks a connection the caller owns. Edge-triggered epoll reports only new
 * bytes: if some came while it was owned, the event went to a thread that
 * could not take it, so it is reported again by re-arming (which queues an
 * event at once when bytes are waiting).
 */
static void let_go(struct intake *in, int slot)
{
	struct intake_conn *c = &in->conns[slot];
	uint64_t owner = atomic_load(&c->owner);
	int fd = c->fd;

	atomic_store(&c->owner, tag(owner >> 2, CONN_PARKED));
	if (atomic_exchange(&c->pending, 0)) {
		struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | EPOLLET,
					  .data.u64 = event_key(owner >> 2, slot) };

		epoll_ctl(in->epoll_fd, EPOLL_CTL_MOD, fd, &ev);
	}
}

/* Moves an owned connection onto list l, its deadline timeout_ms from now. */
static void wait_on(struct intake *in, int slot, int l, int timeout_ms)
{
	pthread_mutex_lock(&in->lock);
	waitlist_push(in, slot, l, clock_ms() + timeout_ms);
	pthread_mutex_unlock(&in->lock);
}

/*
 * Reads the request waiting on the connection into r->fcgx; true when there
 * is one. With ipcFd set, FCGX_Accept_r reads from that connection instead
 * of accepting one (its listen_sock is a socket that cannot accept).
 */
static bool read_request(struct intake_reader *r, int fd)
{
	FCGX_Request *fcgx = &r->fcgx;

	fcgx->ipcFd = fd;
	fcgx->keepConnection = 1; /* so the Finish that FCGX_Accept_r starts with does not close fd */
	/*
	 * Should reading fail after all, libfcgi closes the connection;
	 * "detached" makes that a plain close instead of its lingering one,
	 * which waits up to 2 s more for a peer that is not going to answer.
	 */
	fcgx->detached = 1;
	if (FCGX_Accept_r(fcgx) == 0) {
		fcgx->detached = 0; /* a normal end keeps the lingering close: it drains unread input */
		return true;
	}
	return false;
}

/* The slot of a connection libfcgi has closed itself. */
static void conn_gone(struct intake *in, int slot)
{
	pthread_mutex_lock(&in->lock);
	slot_free(in, slot);
	pthread_mutex_unlock(&in->lock);
	atomic_fetch_sub(&in->open_conns, 1);
}

/*
 * Hands the connection the caller owns to libfcgi, which reads its request
 * into r->fcgx: true then (the connection stays owned, in r->slot); else
 * the connection is gone. partial: the params are whole but the body is
 * still arriving, from a sender that waits for the socket to drain (the
 * sweep chose it): libfcgi reads the params now and the body as it comes,
 * until the request's deadline (server.c enforces it).
 */
static bool take_request(struct intake *in, struct intake_reader *r, int slot, bool partial)
{
	struct intake_conn *c = &in->conns[slot];

	pthread_mutex_lock(&in->lock);
	r->deadline_ms = c->deadline_ms;
	waitlist_unlink(in, slot);
	pthread_mutex_unlock(&in->lock);
	if (partial)
		atomic_fetch_add(&in->partial_active, 1);
	r->slot = slot;
	r->partial = partial;
	if (read_request(r, c->fd))
		return true;
	if (partial)
		atomic_fetch_sub(&in->partial_active, 1);
	r->partial = false;
	r->slot = -1;
	if (r->fcgx.ipcFd < 0) {
		conn_gone(in, slot);
	} else {
		r->fcgx.ipcFd = -1;
		conn_close(in, slot, METRICS_INTAKE_REJECTED, "a request libfcgi could not read");
	}
	return false;
}

/*
 * Looks at what waits on a connection the caller owns (peer_done: the peer
 * has shut down its side; what it sent may still be read). Returns true with
 * its request read into r->fcgx (the connection stays owned, in r->slot);
 * false when there is no whole request yet (the connection is parked) or
 * it was closed.
 */
static bool examine(struct intake *in, struct intake_reader *r, int slot, bool peer_done)
{
	struct intake_conn *c = &in->conns[slot];
	struct fcgi_scan scan;
	ssize_t n = recv(c->fd, r->peek, r->peek_cap, MSG_PEEK | MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
		let_go(in, slot);
		return false;
	}
	if (n <= 0) { /* the peer left, or the connection broke */
		conn_close(in, slot, -1, NULL);
		return false;
	}
	switch (fcgi_scan(r->peek, (size_t)n, &in->limits.scan, &scan)) {
	case FCGI_SCAN_REJECT:
		conn_close(in, slot, METRICS_INTAKE_REJECTED, scan.reason);
		return false;
	case FCGI_SCAN_MORE:
		if (peer_done) { /* it stopped sending: the request can never be whole */
			conn_close(in, slot, -1, NULL);
			return false;
		}
		if ((size_t)n == r->peek_cap) { /* cannot happen within the caps; never wait on it */
			conn_close(in, slot, METRICS_INTAKE_REJECTED, "a request larger than the caps allow");
			return false;
		}
		if ((size_t)n != c->seen_bytes) {
			c->seen_bytes = (size_t)n;
			c->grew_ms = clock_ms();
		}
		c->body_bytes = scan.body_bytes;
		c->params_done = (scan.flags & FCGI_SCAN_PARAMS_DONE) != 0;
		if (c->hand_over && c->params_done)
			return take_request(in, r, slot, true);
		c->hand_over = false;
		/* The first bytes of a request: from now on it has request_timeout_ms to be whole. */
		if (c->list != LIST_RECEIVING)
			wait_on(in, slot, LIST_RECEIVING, in->limits.request_timeout_ms);
		let_go(in, slot);
		return false;
	case FCGI_SCAN_COMPLETE:
		break;
	}
	return take_request(in, r, slot, false);
}

/*
 * Room for a new connection at max_connections: closes the one that has
 * been silent longest since it connected. Lock held; returns the freed
 * slot (owned, for the new connection) or -1 when nobody is silent.
 */
static int evict_silent(struct intake *in)
{
	for (int slot = in->head[LIST_FRESH]; slot >= 0; slot = in->conns[slot].next) {
		struct intake_conn *c = &in->conns[slot];

		if (!seize(c))
			continue;
		close(c->fd);
		slot_free(in, slot);
		count_close(in, METRICS_INTAKE_EVICTED, NULL);
		atomic_fetch_sub(&in->open_conns, 1);
		return 0;
	}
	return -1;
}

/* Closes a connection accept() just gave, when there is no room for it. */
static void refuse(struct intake *in, int fd)
{
	char line[512];

	close(fd);
	pthread_mutex_lock(&in->lock);
	count_close(in, METRICS_INTAKE_REFUSED, NULL);
	closes_line(in, clock_ms(), line, sizeof line);
	pthread_mutex_unlock(&in->lock);
	if (line[0])
		log_warn("%s", line);
}

/* accept() failed for want of descriptors or memory: logged once per interval. */
static void accept_failed(struct intake *in, int err)
{
	static const long long quiet_ms = LOG_INTERVAL_MS;
	long long now = clock_ms();
	bool say;

	pthread_mutex_lock(&in->lock);
	say = now - in->accept_error_at_ms >= quiet_ms;
	if (say)
		in->accept_error_at_ms = now;
	else
		in->accept_errors++;
	pthread_mutex_unlock(&in->lock);
	if (say)
		log_error("accept failed: %s (further failures within %lld s are not logged)", strerror(err),
			  quiet_ms / 1000);
}

/* Takes one connection off the listen queue: its slot, owned by the caller, or -1. */
static int accept_one(struct intake *in)
{
	int fd = accept4(in->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	struct epoll_event ev;
	int slot;

	if (fd < 0) {
		/* Several threads and processes wake for one connection: losing the race is normal. */
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED)
			return -1;
		accept_failed(in, errno);
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
			clock_sleep_ms(10); /* out of descriptors: let connections close first */
		return -1;
	}
	metrics_connection_accepted();
	atomic_fetch_add(&in->open_conns, 1);
	pthread_mutex_lock(&in->lock);
	slot = slot_take(in, fd);
	if (slot < 0 && evict_silent(in) == 0)
		slot = slot_take(in, fd);
	if (slot >= 0)
		waitlist_push(in, slot, LIST_FRESH, clock_ms() + in->limits.idle_timeout_ms);
	pthread_mutex_unlock(&in->lock);
	if (slot < 0) {
		atomic_fetch_sub(&in->open_conns, 1);
		refuse(in, fd);
		return -1;
	}
	set_io_timeouts(fd, in->limits.io_timeout_ms);
	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
	ev.data.u64 = event_key(atomic_load(&in->conns[slot].owner) >> 2, slot);
	if (epoll_ctl(in->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		log_error("cannot watch a FastCGI connection: %s", strerror(errno));
		conn_close(in, slot, -1, NULL);
		return -1;
	}
	return slot;
}

/*
 * The listener is ready. Usually one connection is taken: a worker that took
 * more than its free threads can serve would hold them while another worker's
 * threads sit idle. But when every thread of every worker is busy, one accept
 * per wakeup starves the listen queue: the listener is one entry in the epoll
 * ready list, behind every kept connection with a request, so a request on a
 * new connection waited a whole pass of that list per connection ahead of it
 * (p99 over 1 s at 256 clients, with p50 at 30 ms). Then the pending
 * connections are all taken and wait in the epoll set behind the kept ones,
 * first come first served; nobody is idle to lose them to.
 *
 * Returns the first connection, owned by the caller, to be examined at once
 * (nginx writes its request right after connecting: usually it is there),
 * or -1.
 */
static int accept_ready(struct intake *in)
{
	int idle = metrics_idle_threads(); /* this thread counts as idle until it serves */
	int batch = idle >= 0 && idle <= 1 ? ACCEPT_BATCH_SATURATED : 1;
	int first = accept_one(in);

	if (first < 0)
		return -1;
	for (int i = 1; i < batch; i++) {
		int more = accept_one(in);

		if (more < 0)
			break;
		/* Its bytes, if already there, were reported when it joined the epoll set. */
		let_go(in, more);
	}
	return first;
}

/*
 * Among the requests still arriving, finds those whose sender waits for the
 * socket to drain: params whole, STALL_MIN_BODY_BYTES of body or more
 * waiting, nothing new for STALL_MS. Each is re-reported (epoll_ctl MOD
 * queues an event, its bytes being there) marked hand_over, while fewer
 * than max_partial threads serve such requests. A trickling peer that
 * sends a few bytes now and then is never chosen; one that sends 16 KiB of
 * body and stops holds at most one of those threads until its deadline.
 * Lock held.
 */
static void find_stalled(struct intake *in, long long now)
{
	int room = in->limits.max_partial - atomic_load(&in->partial_active);

	for (int slot = in->head[LIST_RECEIVING]; slot >= 0 && room > 0; slot = in->conns[slot].next) {
		struct intake_conn *c = &in->conns[slot];
		struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | EPOLLET };
		uint64_t owner;

		if (c->hand_over || !c->params_done || c->body_bytes < STALL_MIN_BODY_BYTES ||
		    now - c->grew_ms < STALL_MS || !seize(c))
			continue;
		c->hand_over = true;
		owner = atomic_load(&c->owner);
		ev.data.u64 = event_key(owner >> 2, slot);
		atomic_store(&c->owner, tag(owner >> 2, CONN_PARKED));
		epoll_ctl(in->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev);
		room--;
	}
}

/* Closes every waiting connection past its deadline; at most once per SWEEP_MS per process. */
static void sweep(struct intake *in)
{
	long long now = clock_ms();
	long long due = atomic_load(&in->next_sweep_ms);
	long closed = 0;
	char line[512];

	if (now < due || !atomic_compare_exchange_strong(&in->next_sweep_ms, &due, now + SWEEP_MS))
		return;
	pthread_mutex_lock(&in->lock);
	for (int l = LIST_FRESH; l <= LIST_KEPT; l++) {
		int slot = in->head[l];

		while (slot >= 0 && in->conns[slot].deadline_ms <= now) {
			struct intake_conn *c = &in->conns[slot];
			int next = c->next;

			if (seize(c)) { /* else a thread is looking at it: it moves or closes it */
				close(c->fd);
				slot_free(in, slot);
				count_close(in, l == LIST_RECEIVING ? METRICS_INTAKE_SLOW : METRICS_INTAKE_IDLE, NULL);
				closed++;
			}
			slot = next;
		}
	}
	find_stalled(in, now);
	closes_line(in, now, line, sizeof line);
	pthread_mutex_unlock(&in->lock);
	atomic_fetch_sub(&in->open_conns, closed);
	if (line[0])
		log_warn("%s", line);
}

int intake_next(struct intake *in, struct intake_reader *r)
{
	for (;;) {
		struct epoll_event ev;
		int n, slot;

		sweep(in);
		n = epoll_wait(in->epoll_fd, &ev, 1, SWEEP_MS);
		if (n < 0 && errno != EINTR) {
			log_error("epoll_wait failed: %s", strerror(errno));
			return 0;
		}
		if (n <= 0)
			continue;
		if (ev.data.u64 == KEY_STOP)
			return 0;
		if (ev.data.u64 == KEY_LISTEN) {
			slot = accept_ready(in);
		} else {
			slot = (int)(ev.data.u64 & 0xffffffffu);
			if (slot >= in->limits.max_connections || !acquire(in, slot, ev.data.u64 >> 32))
				continue;
		}
		if (slot >= 0 && examine(in, r, slot, ev.data.u64 != KEY_LISTEN && (ev.events & (EPOLLRDHUP | EPOLLHUP))))
			return 1;
	}
}

void intake_finish(struct intake *in, struct intake_reader *r, bool close)
{
	int slot = r->slot;

	/*
	 * Stopping: answer, then close. Draining keeps the connection: if we
	 * closed it, nginx could already have cached it and sent the next
	 * request into the closing socket, a 502 it does not retry for
	 * POST. nginx closes its own idle connections (keepalive_timeout,
	 * keepalive_requests), which ends the drain without that race.
	 */
	if (close || atomic_load(&in->state) == INTAKE_STOP)
		r->fcgx.keepConnection = 0;
	FCGX_Finish_r(&r->fcgx);
	r->slot = -1;
	if (r->partial) {
		r->partial = false;
		atomic_fetch_sub(&in->partial_active, 1);
	}
	if (r->fcgx.ipcFd < 0) { /* libfcgi closed it: no keep-alive, or an error */
		conn_gone(in, slot);
		return;
	}
	r->fcgx.ipcFd = -1;
	if (atomic_load(&in->state) == INTAKE_STOP) {
		conn_close(in, slot, -1, NULL);
		return;
	}
	request_reset(&in->conns[slot]);
	wait_on(in, slot, LIST_KEPT, in->limits.keepalive_timeout_ms);
	let_go(in, slot);
}

/* ---- set-up and stop ---------------------------------------------------------- */

static int watch(int epoll_fd, int fd, uint32_t events, uint64_t key)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof ev);
	ev.events = events;
	ev.data.u64 = key;
	return epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev);
}

/* The largest request the caps let through, headers and padding of every record included. */
static size_t request_bytes_max(const struct intake_limits *l)
{
	return l->scan.max_params_bytes + l->scan.max_body_bytes + 1 +
	       (size_t)l->scan.max_records * RECORD_OVERHEAD;
}

/*
 * On TCP, a request is peeked at in the receive buffer: make the buffer of
 * the connections to come (they inherit the listener's) hold the params and
 * body caps. Unix sockets hold what the sender's buffer allows (about 200 KiB
 * with Linux's defaults), more than the default caps need.
 */
static void size_receive_buffer(const struct intake *in)
{
	struct sockaddr_storage addr;
	socklen_t len = sizeof addr;
	int want = (int)(in->limits.scan.max_params_bytes + in->limits.scan.max_body_bytes + 65536);
	int got = 0;
	socklen_t got_len = sizeof got;

	if (getsockname(in->listen_fd, (struct sockaddr *)&addr, &len) < 0 ||
	    (addr.ss_family != AF_INET && addr.ss_family != AF_INET6))
		return;
	if (getsockopt(in->listen_fd, SOL_SOCKET, SO_RCVBUF, &got, &got_len) == 0 && got / 2 >= want)
		return;
	/* Linux doubles the value for its bookkeeping and caps it at net.core.rmem_max. */
	setsockopt(in->listen_fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
	if (getsockopt(in->listen_fd, SOL_SOCKET, SO_RCVBUF, &got, &got_len) == 0 && got / 2 < want)
		log_warn("the FastCGI socket's receive buffer holds %d bytes, less than the largest request "
			 "server.max_params_bytes and max_body_bytes allow (%d): raise net.core.rmem_max",
			 got / 2, want);
}

int intake_open(struct intake *in, int listen_fd, const struct intake_limits *limits)
{
	int flags = fcntl(listen_fd, F_GETFL);
	int n = limits->max_connections;

	memset(in, 0, sizeof *in);
	in->listen_fd = listen_fd;
	in->limits = *limits;
	in->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	in->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	in->dummy_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	atomic_init(&in->state, INTAKE_RUN);
	atomic_init(&in->open_conns, 0);
	atomic_init(&in->next_sweep_ms, clock_ms() + SWEEP_MS);
	atomic_init(&in->partial_active, 0);
	pthread_mutex_init(&in->lock, NULL);
	in->conns = xcalloc((size_t)n, sizeof *in->conns);
	for (int i = 0; i < n; i++) {
		in->conns[i].fd = -1;
		in->conns[i].list = LIST_NONE;
		in->conns[i].prev = -1;
		in->conns[i].next = i + 1 < n ? i + 1 : -1;
	}
	in->free_slot = 0;
	for (int l = 0; l < 3; l++)
		in->head[l] = in->tail[l] = -1;
	in->log_at_ms = clock_ms() - LOG_INTERVAL_MS;
	in->accept_error_at_ms = clock_ms() - LOG_INTERVAL_MS;
	if (in->epoll_fd < 0 || in->stop_fd < 0 || in->dummy_fd < 0 || flags < 0 ||
	    fcntl(listen_fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
	    watch(in->epoll_fd, in->stop_fd, EPOLLIN, KEY_STOP) < 0 ||
	    /* EPOLLEXCLUSIVE: one waiter per new connection, not every process's threads. */
	    watch(in->epoll_fd, listen_fd, EPOLLIN | EPOLLEXCLUSIVE, KEY_LISTEN) < 0) {
		log_error("cannot set up the event loop: %s", strerror(errno));
		return -1;
	}
	size_receive_buffer(in);
	return 0;
}

void intake_close(struct intake *in)
{
	if (in->conns != NULL) {
		for (int i = 0; i < in->limits.max_connections; i++)
			if (in->conns[i].fd >= 0)
				close(in->conns[i].fd);
		free(in->conns);
		in->conns = NULL;
	}
	pthread_mutex_destroy(&in->lock);
	if (in->epoll_fd >= 0)
		close(in->epoll_fd);
	if (in->stop_fd >= 0)
		close(in->stop_fd);
	if (in->dummy_fd >= 0)
		close(in->dummy_fd);
}

void intake_reader_init(struct intake *in, struct intake_reader *r)
{
	FCGX_InitRequest(&r->fcgx, in->dummy_fd, 0);
	r->peek_cap = request_bytes_max(&in->limits);
	r->peek = xmalloc(r->peek_cap);
	r->slot = -1;
	r->partial = false;
	r->deadline_ms = 0;
}

void intake_reader_release(struct intake_reader *r)
{
	free(r->peek);
	r->peek = NULL;
}

void intake_leave(struct intake *in, enum intake_state state)
{
	uint64_t one = 1;

	if (atomic_load(&in->state) >= (int)state)
		return;
	if (atomic_exchange(&in->state, state) == INTAKE_RUN)
		epoll_ctl(in->epoll_fd, EPOLL_CTL_DEL, in->listen_fd, NULL);
	if (state == INTAKE_STOP && write(in->stop_fd, &one, sizeof one) < 0)
		log_error("cannot wake the threads: %s", strerror(errno));
}

enum intake_state intake_state(struct intake *in)
{
	return (enum intake_state)atomic_load(&in->state);
}

long intake_open_conns(struct intake *in)
{
	return atomic_load(&in->open_conns);
}
