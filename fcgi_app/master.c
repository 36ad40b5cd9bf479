#include "master.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "auth_socket.h"
#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "proctitle.h"
#include "server.h"
#include "xalloc.h"

#define MAX_BACKOFF_MS 30000
#define RELOAD_MIN_INTERVAL_MS 200

struct worker_proc {
	pid_t pid;
	unsigned generation;
	bool leaving;
	long long deadline_ms; /* when leaving: SIGKILL after this */
	long long started_ms;
	int slot;                  /* its metrics slot, -1 when none */
};

struct master {
	const struct config *cfg;   /* current configuration */
	struct config *owned;       /* set once a reload replaced the caller's */
	int listen_fd;
	const struct master_hooks *hooks;
	pid_t pid;
	struct worker_proc *procs;
	size_t n_procs, cap_procs;
	unsigned generation;
	long long *deaths;          /* ring of recent crash times, crash_threshold long */
	size_t n_deaths;
	long long respawn_at_ms;
	int backoff_ms;
	unsigned long restarts;
	bool stopping;
	bool reload_pending;
	long long last_reload_ms;
};

/* ---- workers ------------------------------------------------------------- */

static void spawn(struct master *m)
{
	pid_t pid;
	int slot = metrics_slot_claim(m->generation, m->cfg->server.threads);

	fflush(NULL); /* nothing buffered may be written twice */
	pid = fork();
	if (pid < 0) {
		metrics_slot_unclaim(slot);
		log_error("cannot start a worker: %s", strerror(errno));
		m->respawn_at_ms = clock_ms() + 1000;
		return;
	}
	if (pid == 0) {
		/* A worker must not outlive its master (it would hold the socket alone). */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != m->pid)
			_exit(0);
		admin_close_listener();
		proctitle_set("taskapi: worker process (generation %u)", m->generation);
		metrics_slot_attach(slot);
		exit(m->hooks->run_worker(m->cfg, m->listen_fd, m->hooks->ctx));
	}
	if (m->n_procs == m->cap_procs) {
		m->cap_procs = m->cap_procs ? m->cap_procs * 2 : 8;
		m->procs = xrealloc(m->procs, m->cap_procs * sizeof *m->procs);
	}
	metrics_slot_started(slot, pid);
	m->procs[m->n_procs++] = (struct worker_proc){ pid, m->generation, false, 0, clock_ms(), slot };
	log_info("started worker %d (generation %u)", (int)pid, m->generation);
}

static long long leave_allowance_ms(const struct config *cfg, int sig)
{
	long long ms = cfg->server.shutdown_timeout_s * 1000LL + 2000;

	return sig == SIGQUIT ? ms + cfg->server.drain_timeout_ms : ms;
}

static void ask_to_leave(struct master *m, struct worker_proc *p, int sig)
{
	if (p->leaving)
		return;
	p->leaving = true;
	metrics_slot_leaving(p->slot);
	p->deadline_ms = clock_ms() + leave_allowance_ms(m->cfg, sig);
	kill(p->pid, sig);
}

static void ask_all_to_leave(struct master *m, int sig)
{
	for (size_t i = 0; i < m->n_procs; i++)
		ask_to_leave(m, &m->procs[i], sig);
}

/*
 * A worker that died before serving anything: remember it, and back off when
 * they come too fast (a start-up loop: forking faster helps nobody).
 */
static void note_crash(struct master *m)
{
	const struct config *cfg = m->cfg;
	size_t keep = (size_t)cfg->server.crash_threshold;
	long long now = clock_ms();

	if (m->n_deaths == keep) {
		memmove(m->deaths, m->deaths + 1, (keep - 1) * sizeof *m->deaths);
		m->n_deaths--;
	}
	m->deaths[m->n_deaths++] = now;
	if (m->n_deaths == keep && now - m->deaths[0] <= cfg->server.crash_interval_s * 1000LL) {
		m->backoff_ms = m->backoff_ms ? m->backoff_ms * 2 : 1000;
		if (m->backoff_ms > MAX_BACKOFF_MS)
			m->backoff_ms = MAX_BACKOFF_MS;
		m->respawn_at_ms = now + m->backoff_ms;
		log_error("%zu worker crashes within %d s: waiting %d ms before starting another "
			  "(each died before it had served anything)",
			  keep, cfg->server.crash_interval_s, m->backoff_ms);
	}
}

/*
 * One line per death: how it ended, whether it had served, what follows. A
 * worker that had accepted a connection got through its start-up: what killed
 * it came in on a connection (a poisoned request, a bug on some path), and
 * waiting before the next worker would only turn one bad request into an
 * outage, so it is replaced at once and not counted toward the back-off.
 */
static void on_exit_status(struct master *m, const struct worker_proc *p, int status)
{
	uint64_t conns, reqs;
	bool measured = metrics_slot_activity(p->slot, &conns, &reqs);
	bool served = conns > 0 || reqs > 0;
	char how[96];

	if (p->leaving || m->stopping) {
		log_info("worker %d left", (int)p->pid);
		return;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		log_info("worker %d recycled after server.max_requests", (int)p->pid);
		return;
	}
	if (WIFSIGNALED(status))
		snprintf(how, sizeof how, "was killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(how, sizeof how, "exited with status %d", WEXITSTATUS(status));
	m->restarts++;
	metrics_worker_restarted();
	if (served) {
		log_error("worker %d %s after it had served (%llu connections, %llu requests): "
			  "starting a new one at once; not counted toward the crash back-off",
			  (int)p->pid, how, (unsigned long long)conns, (unsigned long long)reqs);
		return;
	}
	log_error("worker %d %s before it had served anything%s: starting a new one; counted toward the "
		  "crash back-off", (int)p->pid, how, measured ? "" : " (as far as known: it had no metrics slot)");
	note_crash(m);
}

static void reap(struct master *m)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (admin_reaped(pid, status))
			continue;
		for (size_t i = 0; i < m->n_procs; i++) {
			if (m->procs[i].pid != pid)
				continue;
			on_exit_status(m, &m->procs[i], status);
			metrics_slot_retire(m->procs[i].slot); /* its counts live on in the totals */
			m->procs[i] = m->procs[--m->n_procs];
			break;
		}
	}
}

/* Starts workers until the current generation has as many as configured. */
static void top_up(struct master *m)
{
	int want = config_workers(m->cfg), have = 0;
	long long now = clock_ms();

	if (m->stopping || now < m->respawn_at_ms)
		return;
	for (size_t i = 0; i < m->n_procs; i++)
		if (m->procs[i].generation == m->generation && !m->procs[i].leaving)
			have++;
	/* A worker that lived through a whole crash window ends the back-off. */
	if (m->backoff_ms && m->n_deaths && now - m->deaths[m->n_deaths - 1] > m->cfg->server.crash_interval_s * 1000LL)
		m->backoff_ms = 0;
	for (; have < want; have++)
		spawn(m);
}

static void enforce_deadlines(struct master *m)
{
	long long now = clock_ms();

	for (size_t i = 0; i < m->n_procs; i++) {
		struct worker_proc *p = &m->procs[i];

		if (p->leaving && p->deadline_ms && now > p->deadline_ms) {
			log_warn("worker %d did not leave in time: SIGKILL", (int)p->pid);
			kill(p->pid, SIGKILL);
			p->deadline_ms = 0;
		}
	}
}

/* ---- reload -------------------------------------------------------------- */

static void reload(struct master *m)
{
	struct config *next = xcalloc(1, sizeof *next);
	unsigned old_generation = m->generation;
	char err[1024];

	m->last_reload_ms = clock_ms();
	m->reload_pending = false;
	/* The socket stays: a reload into auth.mode = remote_user must pass its check too. */
	if (m->hooks->reload(next, err, sizeof err, m->hooks->ctx) < 0 ||
	    auth_socket_check(next, m->listen_fd, err, sizeof err) < 0) {
		log_error("reload failed, keeping the running configuration: %s", err);
		config_release(next);
		free(next);
		return;
	}
	if (strcmp(next->server.listen, m->cfg->server.listen) != 0)
		log_warn("server.listen changed to '%s': a reload keeps the open socket; restart to move it",
			 next->server.listen);
	if (next->server.crash_threshold != m->cfg->server.crash_threshold) {
		m->deaths = xrealloc(m->deaths, (size_t)next->server.crash_threshold * sizeof *m->deaths);
		m->n_deaths = 0;
	}
	if (m->owned != NULL) {
		config_release(m->owned);
		free(m->owned);
	}
	m->owned = next;
	m->cfg = next;
	m->generation++;
	log_info("reloading: starting generation %u", m->generation);
	/* New workers first, then the old ones drain: the socket is never without a server. */
	m->respawn_at_ms = 0;
	top_up(m);
	for (size_t i = 0; i < m->n_procs; i++)
		if (m->procs[i].generation == old_generation)
			ask_to_leave(m, &m->procs[i], SIGQUIT);
}

/* ---- the loop ------------------------------------------------------------ */

static void on_signal(struct master *m, int sig)
{
	switch (sig) {
	case SIGTERM:
	case SIGINT:
	case SIGQUIT:
		if (!m->stopping)
			log_info("received signal %d: stopping %zu worker%s", sig, m->n_procs,
				 m->n_procs == 1 ? "" : "s");
		m->stopping = true;
		ask_all_to_leave(m, sig == SIGQUIT ? SIGQUIT : SIGTERM);
		admin_signal(SIGTERM);
		break;
	case SIGHUP:
		if (!m->stopping)
			m->reload_pending = true; /* a burst of HUPs becomes one reload per interval */
		break;
	case SIGUSR1:
		log_reopen_on_signal("; passing it on");
		for (size_t i = 0; i < m->n_procs; i++)
			kill(m->procs[i].pid, SIGUSR1);
		admin_signal(SIGUSR1);
		break;
	default: /* SIGCHLD: reaped below */
		break;
	}
}

int master_run(const struct config *cfg, int listen_fd, const struct master_hooks *hooks)
{
	struct master m;
	struct timespec tick = { 0, 50 * 1000000L };
	sigset_t set;

	memset(&m, 0, sizeof m);
	m.cfg = cfg;
	m.listen_fd = listen_fd;
	m.hooks = hooks;
	m.pid = getpid();
	m.generation = 1;
	m.deaths = xcalloc((size_t)cfg->server.crash_threshold, sizeof *m.deaths);
	server_control_signals(&set);
	/* The command line stays in the title: scripts find the master by its arguments. */
	if (proctitle_set_with_command("taskapi: master process") < 0)
		log_debug("process title: 'taskapi: master process' and the command line do not fit "
			  "in %zu bytes; the command line is left as it is", proctitle_room());
	log_info("taskapi %s master: %d worker%s of %d threads", PACKAGE_VERSION, config_workers(cfg),
		 config_workers(cfg) == 1 ? "" : "s", cfg->server.threads);
	top_up(&m);
	admin_tick(false);
	while (!m.stopping || m.n_procs > 0 || admin_running()) {
		int sig = sigtimedwait(&set, NULL, &tick);

		if (sig > 0)
			on_signal(&m, sig);
		reap(&m);
		if (m.reload_pending && !m.stopping &&
		    clock_ms() - m.last_reload_ms >= RELOAD_MIN_INTERVAL_MS)
			reload(&m);
		top_up(&m);
		admin_tick(m.stopping);
		enforce_deadlines(&m);
	}
	log_info("stopped (%lu worker restart%s)", m.restarts, m.restarts == 1 ? "" : "s");
	if (m.owned != NULL) {
		config_release(m.owned);
		free(m.owned);
	}
	free(m.procs);
	free(m.deaths);
	return 0;
}
