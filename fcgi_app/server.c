#include "server.h"

#include <errno.h>
#include <fcgiapp.h>
#include <fcntl.h>
#include <mysql.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "request.h"
#include "response.h"
#include "trace.h"
#include "xalloc.h"

/* ---- signals ---------------------------------------------------------- */

static void ignore_signal(int sig)
{
	(void)sig;
}

static void set_handler(int sig, int flags)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = ignore_signal;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

void server_control_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGQUIT);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGUSR1);
	sigaddset(set, SIGCHLD);
}

void server_raise_fd_limit(void)
{
	struct rlimit rl;
	rlim_t was;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max)
		return;
	was = rl.rlim_cur;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		log_warn("cannot raise the open file limit from %llu: %s", (unsigned long long)was, strerror(errno));
}

void server_prepare_signals(void)
{
	sigset_t set;

	/*
	 * libfcgi's FCGX_Init installs its own SIGPIPE, SIGUSR1 and SIGTERM
	 * handlers only where the disposition is still the default, and they
	 * wake one thread at most. Ours go first: control signals are blocked
	 * everywhere and taken with sigtimedwait by one thread per process
	 * (a blocked signal with a handler is queued, never lost or ignored).
	 */
	set_handler(SIGPIPE, SA_RESTART);
	server_control_signals(&set);
	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(&set, sig) == 1)
			set_handler(sig, SA_RESTART);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

/* ---- the process's serving state ---------------------------------------- */

enum server_mode { MODE_RUN = 0, MODE_DRAIN, MODE_STOP };

/* Connections taken at one wakeup while every thread is busy (see accept_ready). */
#define ACCEPT_BATCH_SATURATED 64

struct server;

/* What one serving thread owns; buffers are reused from request to request. */
struct thread_ctx {
	pthread_t thread;
	struct server *server;
	FCGX_Request fcgx;
	struct request req;
	struct response resp;
	struct buf out;
	struct buf line;
	bool started;
};

struct server {
	const struct config *cfg;
	const struct app *app;
	int listen_fd;
	int epoll_fd;
	int stop_fd;             /* eventfd, readable once every thread must leave */
	int dummy_fd;            /* libfcgi's listen_sock: accept() on it always fails */
	atomic_int mode;
	atomic_long open_conns;  /* accepted and not yet closed */
	atomic_long served;      /* requests answered by this process */
	atomic_int running;      /* threads that have not left yet */
	struct thread_ctx *threads;
	int n_threads;
};

/* ---- one request ---------------------------------------------------------- */

static long fcgx_read(void *ctx, char *data, size_t n)
{
	FCGX_Stream *in = ctx;
	int got = FCGX_GetStr(data, (int)n, in);

	if (got < 0 || (got == 0 && FCGX_GetError(in) != 0))
		return -1;
	return got;
}

static long long elapsed_ns(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)(now.tv_sec - start->tv_sec) * 1000000000LL + (now.tv_nsec - start->tv_nsec);
}

/* After the answer is written: the request's metrics, access line and slow line (log.c). */
static void request_done(struct thread_ctx *w, const char *route, const struct timespec *start)
{
	const struct config *cfg = w->server->cfg;
	const struct trace *tr = trace_current();
	long long ns = elapsed_ns(start);
	bool slow = cfg->log.slow_request_ms > 0 && ns >= cfg->log.slow_request_ms * 1000000LL;
	struct log_access_entry e;

	metrics_request(route, w->resp.status, ns, tr->acquires, tr->pool_wait_ns, slow);
	if (!config_access_log(cfg, false) && !slow)
		return;
	e.request_id = tr->request_id;
	e.method = w->req.method_name;
	e.uri = FCGX_GetParam("REQUEST_URI", w->fcgx.envp);
	e.status = w->resp.status;
	e.bytes = w->resp.has_body ? w->resp.body.len : 0;
	e.duration_ns = ns;
	e.pool_wait_ns = tr->pool_wait_ns;
	e.route = route;
	e.statements = tr->stmts;
	e.n_statements = tr->n_stmts;
	e.n_listed = tr->n_stmts < TRACE_MAX_STMTS ? tr->n_stmts : TRACE_MAX_STMTS;
	e.rows = tr->rows;
	if (config_access_log(cfg, false))
		log_access(&e, &w->line);
	if (slow)
		log_slow(&e, &w->line);
}

static void serve_one(struct thread_ctx *w)
{
	const struct config *cfg = w->server->cfg;
	struct timespec start;
	const char *route = "bad_request";
	char err[160];
	enum request_status status;

	clock_gettime(CLOCK_MONOTONIC, &start);
	response_reset(&w->resp);
	status = request_parse_envp(&w->req, w->fcgx.envp, err, sizeof err);
	trace_begin(w->req.request_id); /* without nginx's $request_id, a fresh one */
	if (status == REQUEST_OK) {
		status = request_read_body(&w->req, cfg->server.max_body_bytes, fcgx_read, w->fcgx.in);
		if (status == REQUEST_BAD)
			snprintf(err, sizeof err, "request body is shorter than its Content-Length");
	}
	switch (status) {
	case REQUEST_OK:
		route = app_handle(w->server->app, &w->req, &w->resp);
		break;
	case REQUEST_BAD:
		response_error(&w->resp, 400, err);
		break;
	case REQUEST_TOO_LARGE:
		snprintf(err, sizeof err, "request body is larger than %ld bytes", cfg->server.max_body_bytes);
		response_error(&w->resp, 413, err);
		/* The rest of the body is still on the connection: it cannot carry another request. */
		w->fcgx.keepConnection = 0;
		route = "too_large";
		break;
	case REQUEST_IO_ERROR:
		w->fcgx.keepConnection = 0;
		return;
	}
	response_serialize(&w->resp, w->req.method == HTTP_HEAD, &w->out);
	if (FCGX_PutStr(w->out.data, (int)w->out.len, w->fcgx.out) < 0)
		log_debug("client went away before the response was written");
	request_done(w, route, &start);
}

/* ---- connections ------------------------------------------------------------ */

/* Bounds every read and write on a FastCGI connection: a stalled peer cannot hold a thread. */
static void set_io_timeouts(int fd, int timeout_ms)
{
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

static void close_conn(struct server *s, int fd)
{
	close(fd);
	atomic_fetch_sub(&s->open_conns, 1);
}

/*
 * Puts an idle connection in the epoll set, armed for one event: op is
 * EPOLL_CTL_ADD for a connection just accepted, EPOLL_CTL_MOD to re-arm one
 * that was served (which is not in the set yet if it was served straight
 * from accept_ready: then it is added).
 */
static void park(struct server *s, int fd, int op)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
	ev.data.fd = fd;
	if (epoll_ctl(s->epoll_fd, op, fd, &ev) == 0)
		return;
	if (op == EPOLL_CTL_MOD && errno == ENOENT && epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &ev) == 0)
		return;
	log_error("cannot watch a FastCGI connection: %s", strerror(errno));
	close_conn(s, fd);
}

/*
 * Answers the request waiting on fd. libfcgi reads it through the thread's
 * FCGX_Request: with ipcFd set, FCGX_Accept_r reads from that connection
 * instead of accepting one (its listen_sock is a socket that cannot accept,
 * so when the peer has closed, the call fails instead of blocking).
 */
static void serve_connection(struct thread_ctx *t, int fd)
{
	struct server *s = t->server;
	long served;

	t->fcgx.ipcFd = fd;
	t->fcgx.keepConnection = 1; /* so the Finish that FCGX_Accept_r starts with does not close fd */
	/*
	 * When reading the request fails (peer gone, stalled past io_timeout_ms,
	 * garbage), libfcgi closes the connection; "detached" makes that a plain
	 * close instead of its lingering one, which waits up to 2 s more for a
	 * peer that is not going to answer.
	 */
	t->fcgx.detached = 1;
	if (FCGX_Accept_r(&t->fcgx) == 0) {
		t->fcgx.detached = 0; /* a normal end keeps the lingering close: it drains unread input */
		metrics_busy_begin();
		serve_one(t);
		metrics_busy_end();
		/*
		 * Stopping: answer, then close. Draining keeps the connection: if we
		 * closed it, nginx could already have cached it and sent the next
		 * request into the closing socket, a 502 it does not retry for
		 * POST. nginx closes its own idle connections (keepalive_timeout,
		 * keepalive_requests), which ends the drain without that race.
		 */
		if (atomic_load(&s->mode) == MODE_STOP)
			t->fcgx.keepConnection = 0;
		FCGX_Finish_r(&t->fcgx);
		served = atomic_fetch_add(&s->served, 1) + 1;
		if (s->cfg->server.max_requests > 0 && served == s->cfg->server.max_requests)
			kill(getpid(), SIGQUIT); /* recycle: the signal thread drains this process */
	}
	if (t->fcgx.ipcFd < 0) { /* libfcgi closed it: end of stream, error, or no keep-alive */
		atomic_fetch_sub(&s->open_conns, 1);
		return;
	}
	t->fcgx.ipcFd = -1;
	if (atomic_load(&s->mode) == MODE_STOP)
		close_conn(s, fd);
	else
		park(s, fd, EPOLL_CTL_MOD);
}

static bool readable_now(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };

	return poll(&p, 1, 0) > 0;
}

/* Takes one connection off the listen queue: its descriptor, or -1. */
static int accept_one(struct server *s)
{
	int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0) {
		/* Several threads and processes wake for one connection: losing the race is normal. */
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED)
			return -1;
		log_error("accept failed: %s", strerror(errno));
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
			usleep(10000); /* out of descriptors: let connections close first */
		return -1;
	}
	atomic_fetch_add(&s->open_conns, 1);
	metrics_connection_accepted();
	set_io_timeouts(fd, s->cfg->server.io_timeout_ms);
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
 */
static void accept_ready(struct thread_ctx *t)
{
	struct server *s = t->server;
	int idle = metrics_idle_threads(); /* this thread counts as idle until it serves */
	int batch = idle >= 0 && idle <= 1 ? ACCEPT_BATCH_SATURATED : 1;
	int fd = accept_one(s);

	if (fd < 0)
		return;
	for (int i = 1; i < batch; i++) {
		int more = accept_one(s);

		if (more < 0)
			break;
		park(s, more, EPOLL_CTL_ADD); /* a request already there puts it in the ready list at once */
	}
	/* nginx writes the request right after connecting: usually it is already here. */
	if (readable_now(fd))
		serve_connection(t, fd);
	else
		park(s, fd, EPOLL_CTL_ADD);
}

static void *thread_main(void *arg)
{
	struct thread_ctx *t = arg;
	struct server *s = t->server;

	mysql_thread_init();
	FCGX_InitRequest(&t->fcgx, s->dummy_fd, 0);
	for (;;) {
		struct epoll_event ev;
		int n = epoll_wait(s->epoll_fd, &ev, 1, -1);

		if (n < 0 && errno != EINTR) {
			log_error("epoll_wait failed: %s", strerror(errno));
			break;
		}
		if (n <= 0)
			continue;
		if (ev.data.fd == s->stop_fd)
			break;
		if (ev.data.fd == s->listen_fd)
			accept_ready(t);
		else
			serve_connection(t, ev.data.fd);
	}
	mysql_thread_end();
	atomic_fetch_sub(&s->running, 1);
	return NULL;
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

static int server_open(struct server *s, const struct config *cfg, const struct app *app, int listen_fd)
{
	int flags = fcntl(listen_fd, F_GETFL);

	memset(s, 0, sizeof *s);
	s->cfg = cfg;
	s->app = app;
	s->listen_fd = listen_fd;
	s->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->dummy_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	atomic_init(&s->mode, MODE_RUN);
	if (s->epoll_fd < 0 || s->stop_fd < 0 || s->dummy_fd < 0 || flags < 0 ||
	    fcntl(listen_fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
	    watch(s->epoll_fd, s->stop_fd, EPOLLIN) < 0 ||
	    /* EPOLLEXCLUSIVE: one waiter per new connection, not every process's threads. */
	    watch(s->epoll_fd, listen_fd, EPOLLIN | EPOLLEXCLUSIVE) < 0) {
		log_error("cannot set up the event loop: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static void server_close(struct server *s)
{
	for (int i = 0; i < s->n_threads; i++) {
		struct thread_ctx *t = &s->threads[i];

		request_release(&t->req);
		response_release(&t->resp);
		buf_release(&t->out);
		buf_release(&t->line);
	}
	free(s->threads);
	if (s->epoll_fd >= 0)
		close(s->epoll_fd);
	if (s->stop_fd >= 0)
		close(s->stop_fd);
	if (s->dummy_fd >= 0)
		close(s->dummy_fd);
}

static void start_threads(struct server *s)
{
	s->threads = xcalloc((size_t)s->cfg->server.threads, sizeof *s->threads);
	for (int i = 0; i < s->cfg->server.threads; i++) {
		struct thread_ctx *t = &s->threads[i];

		t->server = s;
		request_init(&t->req);
		response_init(&t->resp);
		buf_init(&t->out);
		buf_init(&t->line);
		atomic_fetch_add(&s->running, 1);
		if (pthread_create(&t->thread, NULL, thread_main, t) != 0) {
			atomic_fetch_sub(&s->running, 1);
			log_error("cannot start thread %d: %s", i, strerror(errno));
			break;
		}
		t->started = true;
		s->n_threads = i + 1;
	}
}

/* Stops taking new connections; with MODE_STOP idle threads leave at once. */
static void begin_leaving(struct server *s, enum server_mode mode)
{
	uint64_t one = 1;

	if (atomic_load(&s->mode) >= (int)mode)
		return;
	if (atomic_exchange(&s->mode, mode) == MODE_RUN)
		epoll_ctl(s->epoll_fd, EPOLL_CTL_DEL, s->listen_fd, NULL);
	if (mode == MODE_STOP && write(s->stop_fd, &one, sizeof one) < 0)
		log_error("cannot wake the threads: %s", strerror(errno));
}

/* Waits for the threads to leave, at most the shutdown timeout. Returns those still running. */
static int join_threads(struct server *s)
{
	long long deadline = clock_ms() + s->cfg->server.shutdown_timeout_s * 1000LL;
	int left;

	while ((left = atomic_load(&s->running)) > 0 && clock_ms() < deadline)
		usleep(5000);
	if (left > 0) {
		log_warn("%d request%s still running after %d s; exiting anyway", left, left == 1 ? "" : "s",
			 s->cfg->server.shutdown_timeout_s);
		return left;
	}
	for (int i = 0; i < s->n_threads; i++)
		if (s->threads[i].started)
			pthread_join(s->threads[i].thread, NULL);
	return 0;
}

/* Acts on one control signal taken by the signal thread. */
static void on_signal(struct server *s, int sig, long long *drain_deadline)
{
	switch (sig) {
	case SIGTERM:
	case SIGINT:
		log_info("received signal %d: stopping", sig);
		begin_leaving(s, MODE_STOP);
		break;
	case SIGQUIT:
		if (atomic_load(&s->mode) == MODE_RUN) {
			log_info("%s: draining for up to %d ms",
				 atomic_load(&s->served) >= s->cfg->server.max_requests &&
						 s->cfg->server.max_requests > 0
					 ? "max_requests reached" : "received SIGQUIT",
				 s->cfg->server.drain_timeout_ms);
			*drain_deadline = clock_ms() + s->cfg->server.drain_timeout_ms;
			begin_leaving(s, MODE_DRAIN);
		}
		break;
	case SIGUSR1: {
		char err[CONFIG_ERR_SIZE];

		if (log_reopen(err, sizeof err) < 0)
			log_error("SIGUSR1: %s", err);
		else
			log_info("SIGUSR1: log files reopened");
		break;
	}
	default:
		break;
	}
}

int server_run(const struct config *cfg, const struct app *app, int listen_fd)
{
	struct server s;
	struct timespec tick = { 0, 50 * 1000000L };
	long long drain_deadline = 0;
	sigset_t set;
	int left;

	if (server_open(&s, cfg, app, listen_fd) < 0) {
		server_close(&s);
		return 1;
	}
	start_threads(&s);
	log_info("taskapi %s ready: %d threads, pool of %d connections", PACKAGE_VERSION, s.n_threads,
		 config_pool_size(cfg));
	server_control_signals(&set);
	while (atomic_load(&s.mode) != MODE_STOP) {
		int sig = sigtimedwait(&set, NULL, &tick);

		if (sig > 0)
			on_signal(&s, sig, &drain_deadline);
		metrics_publish_pool(s.app->pool); /* for /metrics and /status, read by the admin process */
		/* Draining ends when every kept connection is gone or the time is up. */
		if (atomic_load(&s.mode) == MODE_DRAIN &&
		    (atomic_load(&s.open_conns) == 0 || clock_ms() >= drain_deadline))
			begin_leaving(&s, MODE_STOP);
	}
	left = join_threads(&s);
	metrics_publish_pool(s.app->pool); /* the pool's last figures, before the master folds them */
	if (left > 0)
		return SERVER_ABANDONED;
	server_close(&s);
	log_info("stopped after %ld requests", atomic_load(&s.served));
	return 0;
}
