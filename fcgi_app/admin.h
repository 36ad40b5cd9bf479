#ifndef TASKAPI_ADMIN_H
#define TASKAPI_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "config.h"
#include "metrics.h"

/*
 * The admin endpoint: GET /metrics (Prometheus text) and GET /status
 * (PHP-FPM-like JSON, ?full for one entry per worker) on a socket of its
 * own, server.admin_listen; metrics_render.c writes both texts. It is
 * answered by a process of its own that the
 * master starts and restarts (PHP-FPM's pm.status_listen), which reads the
 * shared metrics area and never touches a worker or the database: so it
 * answers while every worker thread is busy. With --workers 0 a thread of
 * the single process answers instead.
 *
 * The admin process (or thread) serves every connection from one poll loop,
 * admin_loop.c, which bounds each peer (a whole-request deadline, a size cap,
 * a connection cap, non-blocking writes with a deadline) so that no peer can
 * hold /status from the others; it speaks FastCGI through admin_fcgi.c and
 * closes each connection after its answer. Its stop signals are those of a
 * worker (TERM, INT, QUIT); USR1 reopens its log files.
 */

/*
 * Opens server.admin_listen (a unix socket path with server.socket_mode, or
 * host:port) when it is set, always as a socket of its own (listener_bind:
 * never fd 0 or a socket from systemd); listen_fd is the FastCGI listener whose accept
 * queue /status reports. Returns 0 (also when the key is empty: admin off),
 * -1 with err.
 */
int admin_open(const struct config *cfg, int listen_fd, char *err, size_t errlen);
/* True when admin_open opened a socket. */
bool admin_enabled(void);
/* Closes the admin socket in a process that must not hold it (a worker); its file stays. */
void admin_close_listener(void);
/* At exit, in the master: closes the admin socket and removes the unix socket file it made. */
void admin_close(void);

/* ---- in the master ------------------------------------------------------------ */

/* Starts the admin process (now, or again a second after it died) unless stopping. */
void admin_tick(bool stopping);
/* True when pid was the admin process (reaped): it is restarted by admin_tick. */
bool admin_reaped(pid_t pid, int status);
/* Sends sig to the admin process, if it runs. */
void admin_signal(int sig);
/* True while the admin process runs. */
bool admin_running(void);

/* ---- --workers 0 ---------------------------------------------------------------- */

/* Starts a thread answering the admin socket; admin_thread_stop ends it. */
int admin_thread_start(void);
void admin_thread_stop(void);

/* ---- the accept queue ------------------------------------------------------------ */

/*
 * Samples the accept queue of listen_fd (unix: sock_diag; TCP: TCP_INFO) and
 * notes it for the board's "max" figure; out->known is false when it cannot.
 */
void admin_listen_queue(int listen_fd, struct metrics_listen *out);

#endif
