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

/* ---- listening socket ------------------------------------------------- */

static int set_cloexec(int fd)
{
	int flags = fcntl(fd, F_GETFD);

	return flags < 0 ? -1 : fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

static int is_listening_socket(int fd)
{
	int accepting = 0;
	socklen_t len = sizeof accepting;

	return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) == 0 && accepting;
}

static int open_unix(const char *path, int mode, int backlog, char *err, size_t errlen)
{
	struct sockaddr_un addr;
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof addr.sun_path) {
		snprintf(err, errlen, "socket path '%s' is too long", path);
		return -1;
	}
	memset(&addr, 0, sizeof addr);
	addr.sun_family = AF_UNIX;
	memcpy(addr.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail_errno;
	/* A socket file left by a crash is removed; one that still answers belongs to a live server. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "'%s' exists and is not a socket", path);
			goto fail;
		}
		if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0) {
			snprintf(err, errlen, "'%s' is in use by another running server", path);
			goto fail;
		}
		close(fd);
		unlink(path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			goto fail_errno;
	}
	if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || chmod(path, (mode_t)mode) < 0 ||
	    listen(fd, backlog) < 0)
		goto fail_errno;
	return fd;
fail_errno:
	snprintf(err, errlen, "cannot listen on '%s': %s", path, strerror(errno));
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}

static int open_tcp(const char *spec, int backlog, char *err, size_t errlen)
{
	char host[256];
	const char *port, *colon;
	struct addrinfo hints, *res = NULL, *ai;
	int fd = -1, one = 1, rc;

	if (spec[0] == '[') { /* [::1]:9000 */
		const char *close_bracket = strchr(spec, ']');

		if (close_bracket == NULL || close_bracket[1] != ':' ||
		    (size_t)(close_bracket - spec - 1) >= sizeof host)
			goto bad_spec;
		memcpy(host, spec + 1, (size_t)(close_bracket - spec - 1));
		host[close_bracket - spec - 1] = '\0';
		port = close_bracket + 2;
	} else {
		colon = strrchr(spec, ':');
		if (colon == NULL || (size_t)(colon - spec) >= sizeof host)
			goto bad_spec;
		memcpy(host, spec, (size_t)(colon - spec));
		host[colon - spec] = '\0';
		port = colon + 1;
	}
	if (*port == '\0')
		goto bad_spec;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host[0] && strcmp(host, "*") != 0 ? host : NULL, port, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "cannot resolve '%s': %s", spec, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, backlog) == 0)
			break;
		snprintf(err, errlen, "cannot listen on '%s': %s", spec, strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
bad_spec:
	snprintf(err, errlen, "invalid listen address '%s' (expected /path.sock, host:port or [v6]:port)", spec);
	return -1;
}

int server_open_listener(const struct config *cfg, char *err, size_t errlen)
{
	const char *listen_on = cfg->server.listen;

	if (listen_on[0] == '\0') {
		/* Spawned by a web server or spawn-fcgi: the FastCGI listener is fd 0. */
		if (!is_listening_socket(STDIN_FILENO)) {
			snprintf(err, errlen, "server.listen is empty and fd 0 is not a listening socket: "
				 "set server.listen (e.g. /run/taskapi/taskapi.sock or 127.0.0.1:9000)");
			return -1;
		}
		set_cloexec(STDIN_FILENO);
		return STDIN_FILENO;
	}
	if (strchr(listen_on, '/') != NULL)
		return open_unix(listen_on, cfg->server.socket_mode, cfg->server.backlog, err, errlen);
	return open_tcp(listen_on, cfg->server.backlog, err, errlen);
}

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
