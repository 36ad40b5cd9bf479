#ifndef TASKAPI_MASTER_H
#define TASKAPI_MASTER_H

#include <stddef.h>

#include "config.h"

/*
 * The master process (PHP-FPM's model): it owns the listening socket and
 * the configuration, and keeps config_workers(cfg) worker processes
 * serving on that socket. It never touches the database or a request.
 *
 *   a worker that dies is replaced at once (the master wakes on SIGCHLD);
 *     one that dies before it has accepted any connection (a start-up loop)
 *     counts toward the back-off: crash_threshold such deaths within
 *     crash_interval_s make the master wait, doubling the delay up to 30 s,
 *     and say so in the log; one that had served is never delayed (one bad
 *     request must not take more than the worker that read it);
 *   SIGTERM, SIGINT  stop: workers finish requests in flight, then exit;
 *   SIGQUIT          graceful stop: workers drain their kept connections;
 *   SIGHUP           reload: re-read and check the configuration (on error
 *                    keep running and log why), start a new generation of
 *                    workers, then drain the old one: no request is dropped;
 *   SIGUSR1          passed on to the workers (reopen logs);
 *   workers that do not leave within their deadline get SIGKILL.
 */

/* Runs in the child after fork: serve with cfg on listen_fd; returns the exit code. */
typedef int (*master_worker_fn)(const struct config *cfg, int listen_fd, void *ctx);
/*
 * Builds a fresh configuration for a reload (file, environment, flags) into
 * *out, which the callee initialises; returns -1 with err on a bad one.
 */
typedef int (*master_reload_fn)(struct config *out, char *err, size_t errlen, void *ctx);

struct master_hooks {
	master_worker_fn run_worker;
	master_reload_fn reload;
	void *ctx;
};

/*
 * Supervises workers until stopped; returns the process exit code. cfg stays
 * the caller's; configurations loaded on reload are the master's. Signal
 * handling must already be prepared (server_prepare_signals).
 */
int master_run(const struct config *cfg, int listen_fd, const struct master_hooks *hooks);

#endif
