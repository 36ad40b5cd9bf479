#include "server.h"

#include <errno.h>
#include <fcgiapp.h>
#include <mysql.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "intake.h"
#include "log.h"
#include "metrics.h"
#include "pipeline.h"
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
	/*
	 * SERVER_DEADLINE_SIGNAL ends a serving thread's blocking read at its
	 * request's deadline (a timer aimed at that thread): without SA_RESTART,
	 * read() returns EINTR, which libfcgi reports as a read error.
	 */
	set_handler(SERVER_DEADLINE_SIGNAL, 0);
	server_control_signals(&set);
	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(&set, sig) == 1)
			set_handler(sig, SA_RESTART);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

/* ---- the process's serving state ---------------------------------------- */

struct server;

/* What one serving thread owns; the pipeline's buffers are reused from request to request. */
struct thread_ctx {
	pthread_t thread;
	struct server *server;
	struct intake_reader reader;
	struct pipeline pipeline;
	timer_t deadline;        /* signals this thread at a partial request's deadline */
	bool has_deadline_timer;
	bool deadline_armed;
	bool started;
};

/* Arms (ms > 0) or disarms (0) the thread's deadline timer. */
static void deadline_set(struct thread_ctx *t, long long ms)
{
	struct itimerspec its;

	if (!t->has_deadline_timer || (ms == 0 && !t->deadline_armed))
		return;
	memset(&its, 0, sizeof its);
	its.it_value.tv_sec = (time_t)(ms / 1000);
	its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
	timer_settime(t->deadline, 0, &its, NULL);
	t->deadline_armed = ms > 0;
}

/* A timer that interrupts this thread's blocking reads (see server_prepare_signals). */
static void deadline_timer_create(struct thread_ctx *t)
{
	struct sigevent sev;

	memset(&sev, 0, sizeof sev);
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = SERVER_DEADLINE_SIGNAL;
	sev._sigev_un._tid = gettid(); /* sigev_notify_thread_id, which glibc 2.36 does not define yet */
	t->has_deadline_timer = timer_create(CLOCK_MONOTONIC, &sev, &t->deadline) == 0;
	if (!t->has_deadline_timer)
		log_warn("no deadline timer for a serving thread: %s", strerror(errno));
}

struct server {
	const struct config *cfg;
	const struct app *app;
	struct intake intake;    /* connections and the requests on them */
	atomic_long served;      /* requests answered by this process */
	atomic_int running;      /* threads that have not left yet */
	struct thread_ctx *threads;
	int n_threads;
};

/* ---- the FastCGI front end of the pipeline ----------------------------------- */

static const char *fcgx_param(void *ctx, const char *name)
{
	struct thread_ctx *t = ctx;

	return FCGX_GetParam(name, t->reader.fcgx.envp);
}

static long fcgx_read(void *ctx, char *data, size_t n)
{
	struct thread_ctx *t = ctx;
	FCGX_Request *fcgx = &t->reader.fcgx;
	int got = FCGX_GetStr(data, (int)n, fcgx->in);

	if (got <= 0)
		deadline_set(t, 0); /* the body is read (or lost): nothing else may be interrupted */
	if (got < 0 || (got == 0 && FCGX_GetError(fcgx->in) != 0))
		return -1;
	return got;
}

static int fcgx_write(void *ctx, const char *data, size_t len)
{
	struct thread_ctx *t = ctx;
	FCGX_Request *fcgx = &t->reader.fcgx;

	deadline_set(t, 0);
	if (FCGX_PutStr(data, (int)len, fcgx->out) >= 0)
		return 0;
	log_debug("client went away before the response was written");
	return -1;
}

/* Answers the request intake_next left in t->fcgx; the request counts toward max_requests. */
static void serve_one(struct thread_ctx *t)
{
	struct server *s = t->server;
	long long start_ns = clock_ns();
	const struct pipeline_frontend fe = {
		.ctx = t,
		.param = fcgx_param,
		.envp = t->reader.fcgx.envp,
		.read = fcgx_read,
		.write = fcgx_write,
		.traced = true,
	};
	int result;
	long served;

	metrics_busy_begin();
	/*
	 * A request handed over before its body had arrived (intake.h) may
	 * block in reading it: no longer than its deadline. The timer is off
	 * again once the body is read, before any database work.
	 */
	if (t->reader.partial) {
		long long left = t->reader.deadline_ms - clock_ms();

		deadline_set(t, left > 0 ? left : 1);
	}
	result = pipeline_serve(&t->pipeline, s->app, &fe, start_ns);
	if (t->deadline_armed) {
		deadline_set(t, 0);
		result |= PIPELINE_CLOSE;
	}
	metrics_busy_end();
	intake_finish(&s->intake, &t->reader, (result & PIPELINE_CLOSE) != 0);
	served = atomic_fetch_add(&s->served, 1) + 1;
	if (s->cfg->server.max_requests > 0 && served == s->cfg->server.max_requests)
		kill(getpid(), SIGQUIT); /* recycle: the signal thread drains this process */
}

static void *thread_main(void *arg)
{
	struct thread_ctx *t = arg;
	struct server *s = t->server;

	mysql_thread_init();
	deadline_timer_create(t);
	while (intake_next(&s->intake, &t->reader) == 1)
		serve_one(t);
	if (t->has_deadline_timer)
		timer_delete(t->deadline);
	mysql_thread_end();
	atomic_fetch_sub(&s->running, 1);
	return NULL;
}

/* ---- set-up and stop ---------------------------------------------------------- */

static int server_open(struct server *s, const struct config *cfg, const struct app *app, int listen_fd)
{
	const struct intake_limits limits = {
		.io_timeout_ms = cfg->server.io_timeout_ms,
		.idle_timeout_ms = cfg->server.idle_timeout_ms,
		.request_timeout_ms = cfg->server.request_timeout_ms,
		.keepalive_timeout_ms = cfg->server.keepalive_timeout_ms,
		.max_connections = cfg->server.max_connections,
		/* A quarter of the threads at most (one at least) serve requests still arriving. */
		.max_partial = (cfg->server.threads + 3) / 4,
		.scan = {
			.max_params_bytes = (size_t)cfg->server.max_params_bytes,
			.max_body_bytes = (size_t)cfg->server.max_body_bytes,
			.max_records = (unsigned)cfg->server.max_records,
		},
	};

	memset(s, 0, sizeof *s);
	s->cfg = cfg;
	s->app = app;
	return intake_open(&s->intake, listen_fd, &limits);
}

static void server_close(struct server *s)
{
	for (int i = 0; i < s->n_threads; i++) {
		pipeline_release(&s->threads[i].pipeline);
		intake_reader_release(&s->threads[i].reader);
	}
	free(s->threads);
	intake_close(&s->intake);
}

static void start_threads(struct server *s)
{
	s->threads = xcalloc((size_t)s->cfg->server.threads, sizeof *s->threads);
	for (int i = 0; i < s->cfg->server.threads; i++) {
		struct thread_ctx *t = &s->threads[i];
		int rc;

		t->server = s;
		pipeline_init(&t->pipeline);
		intake_reader_init(&s->intake, &t->reader);
		atomic_fetch_add(&s->running, 1);
		rc = pthread_create(&t->thread, NULL, thread_main, t);
		if (rc != 0) {
			atomic_fetch_sub(&s->running, 1);
			pipeline_release(&t->pipeline);
			log_error("cannot start thread %d: %s", i, strerror(rc));
			break;
		}
		t->started = true;
		s->n_threads = i + 1;
	}
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
		intake_leave(&s->intake, INTAKE_STOP);
		break;
	case SIGQUIT:
		if (intake_state(&s->intake) == INTAKE_RUN) {
			log_info("%s: draining for up to %d ms",
				 atomic_load(&s->served) >= s->cfg->server.max_requests &&
						 s->cfg->server.max_requests > 0
					 ? "max_requests reached" : "received SIGQUIT",
				 s->cfg->server.drain_timeout_ms);
			*drain_deadline = clock_ms() + s->cfg->server.drain_timeout_ms;
			intake_leave(&s->intake, INTAKE_DRAIN);
		}
		break;
	case SIGUSR1:
		log_reopen_on_signal("");
		break;
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
	while (intake_state(&s.intake) != INTAKE_STOP) {
		int sig = sigtimedwait(&set, NULL, &tick);

		if (sig > 0)
			on_signal(&s, sig, &drain_deadline);
		metrics_publish_db(s.app->db); /* for /metrics and /status, read by the admin process */
		/* Draining ends when every kept connection is gone or the time is up. */
		if (intake_state(&s.intake) == INTAKE_DRAIN &&
		    (intake_open_conns(&s.intake) == 0 || clock_ms() >= drain_deadline))
			intake_leave(&s.intake, INTAKE_STOP);
	}
	left = join_threads(&s);
	metrics_publish_db(s.app->db); /* the pool's last figures, before the master folds them */
	if (left > 0)
		return SERVER_ABANDONED;
	server_close(&s);
	log_info("stopped after %ld requests", atomic_load(&s.served));
	return 0;
}
