#include "admin_loop.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "xalloc.h"

#define ACCEPTS_PER_WAKEUP 16
#define ACCEPT_PAUSE_MS 100 /* out of descriptors: let some close before the next accept */
#define READS_PER_WAKEUP 16

enum conn_state { CONN_FREE = 0, CONN_READING, CONN_WRITING, CONN_LINGER };

/* Why connections were closed early, counted until the next log line. */
enum close_reason { R_DEADLINE, R_SILENT, R_TOO_LARGE, R_BAD, R_EVICTED, R_WRITE, R_ACCEPT, R_N };

struct conn {
	int fd;
	enum conn_state state;
	long long accepted_ms;
	long long deadline_ms;     /* of the current state */
	unsigned char *in;         /* ADMIN_LOOP_MAX_REQUEST_BYTES, kept for the slot's next connection */
	size_t in_len;
	struct admin_fcgi req;
	struct buf out;            /* the FastCGI records to send */
	size_t out_off;
};

struct loop {
	int listen_fd;
	const struct admin_loop_hooks *hooks;
	struct conn conns[ADMIN_LOOP_MAX_CONNS];
	size_t n_open;
	struct buf cgi;             /* one answer's CGI text, reused */
	long long accept_paused_until;
	unsigned long counts[R_N];
	unsigned long pending;      /* counted since the last log line */
	long long last_log_ms;
};

/* ---- the log: one line per interval --------------------------------------------- */

static void report(struct loop *l, long long now, bool force)
{
	static const char *const what[R_N] = {
		"trickled past the request deadline",
		"sent nothing before the request deadline",
		"sent more than the request size cap",
		"sent what is not FastCGI",
		"were the oldest when the connection cap was reached",
		"did not read their answer within the write deadline",
		"accept failures (out of descriptors)",
	};
	struct buf line = BUF_INIT;

	if (l->pending == 0 || (!force && l->last_log_ms != 0 && now - l->last_log_ms < ADMIN_LOOP_LOG_INTERVAL_MS))
		return;
	for (int r = 0; r < R_N; r++)
		if (l->counts[r] > 0)
			buf_printf(&line, "%s%lu %s", line.len ? ", " : "", l->counts[r], what[r]);
	log_warn("admin socket: %lu connection%s closed early since the last report (%s; limits: %d ms to a "
		 "whole request, %d request bytes, %d connections, %d ms to write the answer)",
		 l->pending, l->pending == 1 ? "" : "s", line.data, ADMIN_LOOP_REQUEST_MS,
		 ADMIN_LOOP_MAX_REQUEST_BYTES, ADMIN_LOOP_MAX_CONNS, ADMIN_LOOP_WRITE_MS);
	buf_release(&line);
	memset(l->counts, 0, sizeof l->counts);
	l->pending = 0;
	l->last_log_ms = now;
}

static void count(struct loop *l, enum close_reason r)
{
	l->counts[r]++;
	l->pending++;
}

/* ---- connections -------------------------------------------------------------------- */

static void conn_close(struct loop *l, struct conn *c)
{
	close(c->fd);
	c->fd = -1;
	c->state = CONN_FREE;
	c->in_len = 0;
	admin_fcgi_release(&c->req);
	buf_reset(&c->out);
	c->out_off = 0;
	l->n_open--;
}

static void conn_close_early(struct loop *l, struct conn *c, enum close_reason r)
{
	count(l, r);
	conn_close(l, c);
}

/* The answer is all sent: half-close, then drop what the peer still sends for a while. */
static void conn_linger(struct conn *c, long long now)
{
	shutdown(c->fd, SHUT_WR);
	c->state = CONN_LINGER;
	c->deadline_ms = now + ADMIN_LOOP_LINGER_MS;
}

static void conn_write(struct loop *l, struct conn *c, long long now)
{
	while (c->out_off < c->out.len) {
		ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);

		if (n > 0) {
			c->out_off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return; /* poll says when there is room again */
		conn_close(l, c); /* the peer went away: nothing to count */
		return;
	}
	conn_linger(c, now);
}

/* What arrived so far is scanned for a whole request; one found is answered at once. */
static void conn_scan(struct loop *l, struct conn *c, long long now)
{
	switch (admin_fcgi_scan(&c->req, c->in, c->in_len, &c->out)) {
	case ADMIN_FCGI_MORE:
		if (c->in_len == ADMIN_LOOP_MAX_REQUEST_BYTES)
			conn_close_early(l, c, R_TOO_LARGE);
		return;
	case ADMIN_FCGI_BAD:
		conn_close_early(l, c, R_BAD);
		return;
	case ADMIN_FCGI_REQUEST:
		buf_reset(&l->cgi);
		l->hooks->answer(&c->req, &l->cgi, l->hooks->ctx);
		admin_fcgi_respond(&c->req, l->cgi.data, l->cgi.len, &c->out);
		break;
	case ADMIN_FCGI_REPLY:
		break;
	}
	c->state = CONN_WRITING;
	c->deadline_ms = now + ADMIN_LOOP_WRITE_MS;
	conn_write(l, c, now);
}

static void conn_read(struct loop *l, struct conn *c, long long now)
{
	/* A peer sending without end while lingering gets a bounded share of each wakeup. */
	for (int reads = 0; reads < READS_PER_WAKEUP; reads++) {
		ssize_t n;

		if (c->state == CONN_LINGER) {
			unsigned char drop[4096];

			n = recv(c->fd, drop, sizeof drop, 0);
		} else {
			n = recv(c->fd, c->in + c->in_len, ADMIN_LOOP_MAX_REQUEST_BYTES - c->in_len, 0);
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			/* The end, or an error: a peer that left early needs no answer and is not counted. */
			conn_close(l, c);
			return;
		}
		if (c->state == CONN_LINGER)
			continue;
		c->in_len += (size_t)n;
		if (c->in_len == ADMIN_LOOP_MAX_REQUEST_BYTES)
			break;
	}
	if (c->state == CONN_READING)
		conn_scan(l, c, now);
}

/* The connection cap is reached: the oldest still reading goes, else the oldest of all. */
static void evict_oldest(struct loop *l)
{
	struct conn *oldest = NULL;

	for (size_t i = 0; i < ADMIN_LOOP_MAX_CONNS; i++) {
		struct conn *c = &l->conns[i];

		if (c->state == CONN_FREE)
			continue;
		if (oldest == NULL || (c->state == CONN_READING && oldest->state != CONN_READING) ||
		    ((c->state == CONN_READING) == (oldest->state == CONN_READING) &&
		     c->accepted_ms < oldest->accepted_ms))
			oldest = c;
	}
	if (oldest != NULL)
		conn_close_early(l, oldest, R_EVICTED);
}

static void accept_some(struct loop *l, long long now)
{
	for (int k = 0; k < ACCEPTS_PER_WAKEUP; k++) {
		int fd = accept4(l->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		struct conn *c = NULL;

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				count(l, R_ACCEPT);
				l->accept_paused_until = now + ACCEPT_PAUSE_MS;
			}
			return; /* EAGAIN: the queue is empty */
		}
		if (l->n_open == ADMIN_LOOP_MAX_CONNS)
			evict_oldest(l);
		for (size_t i = 0; c == NULL && i < ADMIN_LOOP_MAX_CONNS; i++)
			if (l->conns[i].state == CONN_FREE)
				c = &l->conns[i];
		if (c == NULL) { /* cannot happen: evict_oldest freed one */
			close(fd);
			return;
		}
		if (c->in == NULL)
			c->in = xmalloc(ADMIN_LOOP_MAX_REQUEST_BYTES);
		c->fd = fd;
		c->state = CONN_READING;
		c->accepted_ms = now;
		c->deadline_ms = now + ADMIN_LOOP_REQUEST_MS;
		c->in_len = 0;
		c->out_off = 0;
		admin_fcgi_init(&c->req);
		l->n_open++;
	}
}

/* Closes what is past its deadline; returns the earliest deadline still ahead (or now + a tick). */
static long long expire(struct loop *l, long long now)
{
	long long next = now + ADMIN_LOOP_TICK_MS;

	for (size_t i = 0; i < ADMIN_LOOP_MAX_CONNS; i++) {
		struct conn *c = &l->conns[i];

		if (c->state == CONN_FREE)
			continue;
		if (now >= c->deadline_ms) {
			if (c->state == CONN_READING)
				conn_close_early(l, c, c->in_len == 0 ? R_SILENT : R_DEADLINE);
			else if (c->state == CONN_WRITING)
				conn_close_early(l, c, R_WRITE);
			else
				conn_close(l, c); /* lingering ends: the answer was sent */
			continue;
		}
		if (c->deadline_ms < next)
			next = c->deadline_ms;
	}
	return next;
}

int admin_loop_run(int listen_fd, const struct admin_loop_hooks *hooks)
{
	struct loop *l = xcalloc(1, sizeof *l);
	struct pollfd fds[ADMIN_LOOP_MAX_CONNS + 1];
	struct conn *polled[ADMIN_LOOP_MAX_CONNS + 1];
	long long last_tick = 0;

	l->listen_fd = listen_fd;
	l->hooks = hooks;
	buf_init(&l->cgi);
	for (size_t i = 0; i < ADMIN_LOOP_MAX_CONNS; i++) {
		l->conns[i].fd = -1;
		buf_init(&l->conns[i].out);
	}
	while (!hooks->should_stop(hooks->ctx)) {
		long long now = clock_ms(), next = expire(l, now);
		nfds_t n = 0;
		int ready, timeout;

		if (hooks->tick != NULL && now - last_tick >= ADMIN_LOOP_TICK_MS) {
			hooks->tick(hooks->ctx);
			last_tick = now;
		}
		report(l, now, false);
		if (now >= l->accept_paused_until) {
			fds[n] = (struct pollfd){ listen_fd, POLLIN, 0 };
			polled[n++] = NULL;
		}
		for (size_t i = 0; i < ADMIN_LOOP_MAX_CONNS; i++) {
			struct conn *c = &l->conns[i];

			if (c->state == CONN_FREE)
				continue;
			fds[n] = (struct pollfd){ c->fd, c->state == CONN_WRITING ? POLLOUT : POLLIN, 0 };
			polled[n++] = c;
		}
		timeout = (int)(next - now);
		if (timeout < 1)
			timeout = 1;
		ready = poll(fds, n, timeout);
		if (ready <= 0)
			continue;
		now = clock_ms();
		for (nfds_t i = 0; i < n; i++) {
			struct conn *c = polled[i];

			if (fds[i].revents == 0)
				continue;
			if (c == NULL) {
				accept_some(l, now);
			} else if (c->state == CONN_WRITING) {
				conn_write(l, c, now);
			} else if (c->state != CONN_FREE) {
				conn_read(l, c, now);
			}
		}
	}
	report(l, clock_ms(), true);
	for (size_t i = 0; i < ADMIN_LOOP_MAX_CONNS; i++) {
		struct conn *c = &l->conns[i];

		if (c->state != CONN_FREE)
			conn_close(l, c);
		free(c->in);
		buf_release(&c->out);
	}
	buf_release(&l->cgi);
	free(l);
	return 0;
}
