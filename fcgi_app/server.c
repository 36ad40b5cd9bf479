#include "server.h"

#include <errno.h>
#include <fcgiapp.h>
#include <fcntl.h>
#include <mysql.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "request.h"
#include "response.h"
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

static void control_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGQUIT);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGUSR1);
}

void server_prepare_signals(void)
{
	sigset_t set;

	/*
	 * libfcgi's FCGX_Init installs its own SIGPIPE, SIGUSR1 and SIGTERM
	 * handlers only where the disposition is still the default, and they
	 * wake one thread at most. Ours go first: control signals are blocked
	 * everywhere and taken by sigwait in the main thread; SIGUSR2, without
	 * SA_RESTART, is how the main thread interrupts an idle worker's
	 * blocking accept or read.
	 */
	set_handler(SIGPIPE, SA_RESTART);
	set_handler(SIGUSR2, 0);
	control_signals(&set);
	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(&set, sig) == 1)
			set_handler(sig, SA_RESTART);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

/* ---- workers ---------------------------------------------------------- */

enum worker_state { WORKER_STARTING, WORKER_WAITING, WORKER_BUSY, WORKER_DONE };

struct server;

struct worker {
	pthread_t thread;
	struct server *server;
	pthread_mutex_t lock;      /* guards state */
	enum worker_state state;
	FCGX_Request fcgx;
	struct request req;
	struct response resp;
	struct buf out;
	struct buf line;
};

struct server {
	const struct config *cfg;
	const struct app *app;
	int listen_fd;
	atomic_int stopping;
	struct worker *workers;
	int n_workers;
};

static void set_state(struct worker *w, enum worker_state state)
{
	pthread_mutex_lock(&w->lock);
	w->state = state;
	pthread_mutex_unlock(&w->lock);
}

static const char *fcgx_param(void *ctx, const char *name)
{
	return FCGX_GetParam(name, ctx);
}

static long fcgx_read(void *ctx, char *data, size_t n)
{
	FCGX_Stream *in = ctx;
	int got = FCGX_GetStr(data, (int)n, in);

	if (got < 0 || (got == 0 && FCGX_GetError(in) != 0))
		return -1;
	return got;
}

static double elapsed_ms(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) * 1e3 + (double)(now.tv_nsec - start->tv_nsec) / 1e6;
}

static void access_log(struct worker *w, const char *route, const struct timespec *start)
{
	const char *uri = FCGX_GetParam("REQUEST_URI", w->fcgx.envp);
	struct timespec now;
	struct tm tm;
	char stamp[32];

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
	buf_reset(&w->line);
	buf_printf(&w->line, "%s.%03ldZ [%d] access: %s %s %s %d %zu %.3fms %s\n", stamp,
		   now.tv_nsec / 1000000, (int)getpid(),
		   w->req.request_id ? w->req.request_id : "-",
		   w->req.method_name ? w->req.method_name : "-", uri ? uri : "-",
		   w->resp.status, w->resp.has_body ? w->resp.body.len : (size_t)0,
		   elapsed_ms(start), route);
	log_write_line(w->line.data, w->line.len);
}

static void serve_one(struct worker *w)
{
	const struct config *cfg = w->server->cfg;
	struct timespec start;
	const char *route = "bad_request";
	char err[160];
	enum request_status status;

	clock_gettime(CLOCK_MONOTONIC, &start);
	response_reset(&w->resp);
	status = request_parse(&w->req, fcgx_param, w->fcgx.envp, err, sizeof err);
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
	if (cfg->log.access_log)
		access_log(w, route, &start);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct server *s = w->server;

	mysql_thread_init();
	FCGX_InitRequest(&w->fcgx, s->listen_fd, FCGI_FAIL_ACCEPT_ON_INTR);
	while (!atomic_load(&s->stopping)) {
		int rc;

		set_state(w, WORKER_WAITING);
		/* Checked again after publishing WAITING, so a stop cannot slip between. */
		if (atomic_load(&s->stopping))
			break;
		rc = FCGX_Accept_r(&w->fcgx);
		set_state(w, WORKER_BUSY);
		if (rc < 0) {
			if (atomic_load(&s->stopping))
				break;
			if (rc != -EINTR) {
				log_error("FastCGI accept failed: %s", strerror(-rc));
				usleep(10000); /* do not spin on a persistent error */
			}
			continue;
		}
		serve_one(w);
		FCGX_Finish_r(&w->fcgx);
	}
	/* Closes a kept-alive connection, if any. */
	FCGX_Free(&w->fcgx, 1);
	mysql_thread_end();
	set_state(w, WORKER_DONE);
	return NULL;
}

static int stop_workers(struct server *s)
{
	struct timespec start;
	int remaining;

	clock_gettime(CLOCK_MONOTONIC, &start);
	atomic_store(&s->stopping, 1);
	for (;;) {
		remaining = 0;
		for (int i = 0; i < s->n_workers; i++) {
			struct worker *w = &s->workers[i];

			pthread_mutex_lock(&w->lock);
			if (w->state != WORKER_DONE)
				remaining++;
			/* Idle threads sit in accept() or read(): interrupt them. Busy ones finish. */
			if (w->state == WORKER_WAITING || w->state == WORKER_STARTING)
				pthread_kill(w->thread, SIGUSR2);
			pthread_mutex_unlock(&w->lock);
		}
		if (remaining == 0)
			return 0;
		if (elapsed_ms(&start) > s->cfg->server.shutdown_timeout_s * 1000.0) {
			log_warn("%d request%s still running after %d s; exiting anyway", remaining,
				 remaining == 1 ? "" : "s", s->cfg->server.shutdown_timeout_s);
			return remaining;
		}
		usleep(20000);
	}
}

int server_run(const struct config *cfg, const struct app *app, int listen_fd)
{
	struct server s;
	sigset_t set;
	int sig = 0, left;

	memset(&s, 0, sizeof s);
	s.cfg = cfg;
	s.app = app;
	s.listen_fd = listen_fd;
	atomic_init(&s.stopping, 0);
	s.n_workers = cfg->server.threads;
	s.workers = xcalloc((size_t)s.n_workers, sizeof *s.workers);
	for (int i = 0; i < s.n_workers; i++) {
		struct worker *w = &s.workers[i];

		w->server = &s;
		pthread_mutex_init(&w->lock, NULL);
		w->state = WORKER_STARTING;
		request_init(&w->req);
		response_init(&w->resp);
		buf_init(&w->out);
		buf_init(&w->line);
		if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
			log_error("cannot start thread %d: %s", i, strerror(errno));
			s.n_workers = i;
			break;
		}
	}
	log_info("taskapi %s ready: %d threads, pool of %d connections", PACKAGE_VERSION, s.n_workers,
		 config_pool_size(cfg));

	control_signals(&set);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGTERM || sig == SIGINT || sig == SIGQUIT)
			break;
		if (sig == SIGHUP)
			log_warn("SIGHUP: reload is not supported yet; restart to apply new configuration");
		else if (sig == SIGUSR1)
			log_info("SIGUSR1: logs go to stderr; nothing to reopen");
	}
	log_info("received signal %d: stopping", sig);
	left = stop_workers(&s);
	if (left > 0)
		return SERVER_ABANDONED;
	for (int i = 0; i < s.n_workers; i++) {
		struct worker *w = &s.workers[i];

		pthread_join(w->thread, NULL);
		request_release(&w->req);
		response_release(&w->resp);
		buf_release(&w->out);
		buf_release(&w->line);
		pthread_mutex_destroy(&w->lock);
	}
	free(s.workers);
	log_info("stopped");
	return 0;
}
