#ifndef TASKAPI_SERVER_H
#define TASKAPI_SERVER_H

#include "app.h"
#include "config.h"

/*
 * The FastCGI process: a listening socket (its own unix or TCP socket, or
 * one inherited on fd 0 from a web server or spawn-fcgi), T threads each
 * running FCGX_Accept_r on its own FCGX_Request, and signal handling.
 *
 * SIGTERM, SIGINT and SIGQUIT stop: no new requests are taken, requests in
 * flight finish (up to server.shutdown_timeout_s), and server_run returns.
 */

/*
 * Installs signal handling. Must run before FCGX_Init and before any thread
 * is created, so every thread inherits the blocked signal mask.
 */
void server_prepare_signals(void);

/*
 * Serves on listen_fd until a stop signal. Returns 0 after a clean stop, or
 * SERVER_ABANDONED when requests were still running at the shutdown
 * deadline: their threads still use the app, so the caller must exit
 * without freeing it.
 */
#define SERVER_ABANDONED 100
int server_run(const struct config *cfg, const struct app *app, int listen_fd);

#endif
