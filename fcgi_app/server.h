#ifndef TASKAPI_SERVER_H
#define TASKAPI_SERVER_H

#include "app.h"
#include "config.h"

/*
 * The FastCGI process: a listening socket (its own unix or TCP socket, or
 * one inherited on fd 0 from a web server or spawn-fcgi), T threads each
 * running FCGX_Accept_r on its own FCGX_Request, and signal handling.
 *
 * SIGTERM and SIGINT stop: no new requests are taken, requests in flight
 * finish (up to server.shutdown_timeout_s), and server_run returns 0.
 */

/*
 * Opens the listener named by cfg->server.listen, or checks that fd 0 is a
 * listening socket when it is empty. Returns the fd or -1 with err.
 */
int server_open_listener(const struct config *cfg, char *err, size_t errlen);

/*
 * Installs signal handling. Must run before FCGX_Init and before any thread
 * is created, so every thread inherits the blocked signal mask.
 */
void server_prepare_signals(void);

/* Serves on listen_fd until a stop signal. Returns the process exit code. */
int server_run(const struct config *cfg, const struct app *app, int listen_fd);

#endif
