#ifndef TASKAPI_SERVER_H
#define TASKAPI_SERVER_H

#include <signal.h>

#include "app.h"
#include "config.h"

/*
 * One serving process: T threads answering FastCGI requests on a listening
 * socket, its signals and its graceful stop. The connections and the reading
 * of requests off them (accept, keep-alive, idle connections in an epoll
 * set) are intake.c's; each thread takes the next complete request from the
 * intake and answers it through the pipeline (pipeline.c).
 *
 * Signals (blocked in every thread, taken by the calling thread):
 *   SIGTERM, SIGINT  stop: accept nothing more, finish requests in flight
 *                    (up to server.shutdown_timeout_s), close the rest;
 *   SIGQUIT          drain: accept nothing more, keep answering requests on
 *                    kept connections for server.drain_timeout_ms (closing
 *                    each after its answer), then stop;
 *   SIGUSR1          reopen log files.
 * After server.max_requests requests the process drains by itself (recycling).
 * SERVER_DEADLINE_SIGNAL is not blocked in serving threads: a per-thread
 * timer sends it to end a blocking read at a request's deadline.
 */
#define SERVER_DEADLINE_SIGNAL (SIGRTMIN + 1)

/*
 * Installs signal handling. Must run before FCGX_Init and before any thread
 * is created, so every thread inherits the blocked signal mask.
 */
void server_prepare_signals(void);

/*
 * Raises the soft limit on open descriptors to the hard one: every idle
 * connection nginx keeps is a descriptor here (nginx/taskapi.conf keeps up to
 * 256 per nginx worker), and the usual soft limit is 1024. libfcgi 2.4.2
 * polls instead of select()ing in its accept path, so descriptors past 1023 are
 * safe; tests/e2e/88 serves on one. A failure is logged, not fatal.
 */
void server_raise_fd_limit(void);

/* The control signals server_run and the master wait for (all blocked). */
void server_control_signals(sigset_t *set);

/*
 * Serves on listen_fd until a stop signal or recycling. Returns 0 after a
 * clean stop, or SERVER_ABANDONED when requests were still running at the
 * shutdown deadline: their threads still use the app, so the caller must
 * exit without freeing it.
 */
#define SERVER_ABANDONED 100
int server_run(const struct config *cfg, const struct app *app, int listen_fd);

#endif
