#include "intake.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"

/* Connections taken at one wakeup while every thread is busy (see accept_ready). */
#define ACCEPT_BATCH_SATURATED 64

/* Bounds every read and write on a FastCGI connection: a stalled peer cannot hold a thread. */
static void set_io_timeouts(int fd, int timeout_ms)
{
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

static void close_conn(struct intake *in, int fd)
{
	close(fd);
	atomic_fetch_sub(&in->open_conns, 1);
}

/*
 * Puts an idle connection in the epoll set, armed for one event: op is
 * EPOLL_CTL_ADD for a connection just accepted, EPOLL_CTL_MOD to re-arm one
 * that was served (which is not in the set yet if it was served straight
 * from accept_ready: then it is added).
 */
static void park(struct intake *in, int fd, int op)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
	ev.data.fd = fd;
	if (epoll_ctl(in->epoll_fd, op, fd, &ev) == 0)
		return;
	if (op == EPOLL_CTL_MOD && errno == ENOENT && epoll_ctl(in->epoll_fd, EPOLL_CTL_ADD, fd, &ev) == 0)
		return;
	log_error("cannot watch a FastCGI connection: %s", strerror(errno));
	close_conn(in, fd);
}

/* After libfcgi is done with fd for now: count it gone, close it, or park it for its next request. */
static void put_back(struct intake *in, FCGX_Request *fcgx, int fd)
{
	if (fcgx->ipcFd < 0) { /* libfcgi closed it: end of stream, error, or no keep-alive */
		atomic_fetch_sub(&in->open_conns, 1);
		return;
	}
	fcgx->ipcFd = -1;
	if (atomic_load(&in->state) == INTAKE_STOP)
		close_conn(in, fd);
	else
		park(in, fd, EPOLL_CTL_MOD);
}

/*
 * Reads the request waiting on fd into fcgx; true when there is one. With
 * ipcFd set, FCGX_Accept_r reads from that connection instead of accepting
 * one (its listen_sock is a socket that cannot accept, so when the peer has
 * closed, the call fails instead of blocking).
 */
static bool read_request(struct intake *in, FCGX_Request *fcgx, int fd)
{
	fcgx->ipcFd = fd;
	fcgx->keepConnection = 1; /* so the Finish that FCGX_Accept_r starts with does not close fd */
	/*
	 * When reading the request fails (peer gone, stalled past io_timeout_ms,
	 * garbage), libfcgi closes the connection; "detached" makes that a plain
	 * close instead of its lingering one, which waits up to 2 s more for a
	 * peer that is not going to answer.
	 */
	fcgx->detached = 1;
	if (FCGX_Accept_r(fcgx) == 0) {
		fcgx->detached = 0; /* a normal end keeps the lingering close: it drains unread input */
		return true;
	}
	put_back(in, fcgx, fd);
	return false;
}

static bool readable_now(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };

	return poll(&p, 1, 0) > 0;
}

/* Takes one connection off the listen queue: its descriptor, or -1. */
static int accept_one(struct intake *in)
{
	int fd = accept4(in->listen_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0) {
		/* Several threads and processes wake for one connection: losing the race is normal. */
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED)
			return -1;
		log_error("accept failed: %s", strerror(errno));
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
			usleep(10000); /* out of descriptors: let connections close first */
		return -1;
	}
	atomic_fetch_add(&in->open_conns, 1);
	metrics_connection_accepted();
	set_io_timeouts(fd, in->io_timeout_ms);
	return fd;
}

/*
 * The listener is ready. Usually one connection is taken: a worker that took
 * more than its free threads can serve would hold them while another worker's
 * threads sit idle. But when every thread of every worker is busy, one accept
 * per wakeup starves the listen queue: the listener is one entry in the epoll
 * ready list, behind every kept connection with a request, so a request on a
 * new connection waited a whole pass of that list per connection ahead of it
 * (p99 over 1 s at 256 clients, with p50 at 30 ms). Then the pending
 * connections are all taken and queued behind the kept ones, first come
 * first served; nobody is idle to lose them to.
 *
 * Returns a connection whose request is already there, for the calling
 * thread to read at once, or -1 (the others are parked).
 */
static int accept_ready(struct intake *in)
{
	int idle = metrics_idle_threads(); /* this thread counts as idle until it serves */
	int batch = idle >= 0 && idle <= 1 ? ACCEPT_BATCH_SATURATED : 1;
	int fd = accept_one(in);

	if (fd < 0)
		return -1;
	for (int i = 1; i < batch; i++) {
		int more = accept_one(in);

		if (more < 0)
			break;
		park(in, more, EPOLL_CTL_ADD); /* a request already there puts it in the ready list at once */
	}
	/* nginx writes the request right after connecting: usually it is already here. */
	if (readable_now(fd))
		return fd;
	park(in, fd, EPOLL_CTL_ADD);
	return -1;
}

int intake_next(struct intake *in, FCGX_Request *fcgx)
{
	for (;;) {
		struct epoll_event ev;
		int n = epoll_wait(in->epoll_fd, &ev, 1, -1);
		int fd;

		if (n < 0 && errno != EINTR) {
			log_error("epoll_wait failed: %s", strerror(errno));
			return 0;
		}
		if (n <= 0)
			continue;
		if (ev.data.fd == in->stop_fd)
			return 0;
		fd = ev.data.fd == in->listen_fd ? accept_ready(in) : ev.data.fd;
		if (fd >= 0 && read_request(in, fcgx, fd))
			return 1;
	}
}

void intake_finish(struct intake *in, FCGX_Request *fcgx, bool close)
{
	int fd = fcgx->ipcFd;

	/*
	 * Stopping: answer, then close. Draining keeps the connection: if we
	 * closed it, nginx could already have cached it and sent the next
	 * request into the closing socket, a 502 it does not retry for
	 * POST. nginx closes its own idle connections (keepalive_timeout,
	 * keepalive_requests), which ends the drain without that race.
	 */
	if (close || atomic_load(&in->state) == INTAKE_STOP)
		fcgx->keepConnection = 0;
	FCGX_Finish_r(fcgx);
	put_back(in, fcgx, fd);
}

/* ---- set-up and stop ---------------------------------------------------------- */

static int watch(int epoll_fd, int fd, uint32_t events)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof ev);
	ev.events = events;
	ev.data.fd = fd;
	return epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev);
}

int intake_open(struct intake *in, int listen_fd, int io_timeout_ms)
{
	int flags = fcntl(listen_fd, F_GETFL);

	memset(in, 0, sizeof *in);
	in->listen_fd = listen_fd;
	in->io_timeout_ms = io_timeout_ms;
	in->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	in->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	in->dummy_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	atomic_init(&in->state, INTAKE_RUN);
	atomic_init(&in->open_conns, 0);
	if (in->epoll_fd < 0 || in->stop_fd < 0 || in->dummy_fd < 0 || flags < 0 ||
	    fcntl(listen_fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
	    watch(in->epoll_fd, in->stop_fd, EPOLLIN) < 0 ||
	    /* EPOLLEXCLUSIVE: one waiter per new connection, not every process's threads. */
	    watch(in->epoll_fd, listen_fd, EPOLLIN | EPOLLEXCLUSIVE) < 0) {
		log_error("cannot set up the event loop: %s", strerror(errno));
		return -1;
	}
	return 0;
}

void intake_close(struct intake *in)
{
	if (in->epoll_fd >= 0)
		close(in->epoll_fd);
	if (in->stop_fd >= 0)
		close(in->stop_fd);
	if (in->dummy_fd >= 0)
		close(in->dummy_fd);
}

void intake_init_request(struct intake *in, FCGX_Request *fcgx)
{
	FCGX_InitRequest(fcgx, in->dummy_fd, 0);
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
