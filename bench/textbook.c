/*
 * bench/textbook.c — the textbook threaded libfcgi responder, the FastCGI ceiling of
 * script/bench: the shape of libfcgi's examples/threaded.c (N threads, each with its
 * own FCGX_Request, each looping on FCGX_Accept_r on the shared listening socket),
 * answering every request with one fixed JSON body. No database, no parsing, no
 * logging: whatever taskapi does beyond this loop is what a request costs on top.
 *
 *   textbook SOCKET BODY_FILE [THREADS] [--mutex]
 *
 * SOCKET is a unix socket path (created, replacing a stale one) or host:port; BODY_FILE
 * holds the body, sent with the headers taskapi sends (Status, Content-Type,
 * Content-Length, Cache-Control). THREADS defaults to 8, taskapi's server.threads.
 *
 * --mutex takes threaded.c's process-wide accept_mutex around FCGX_Accept_r. Without
 * it (the default, what script/bench measures) threads block in accept() side by side,
 * which Linux allows, so one thread parked on an idle kept-alive connection does not
 * lock the others out. Either way a thread serving a kept connection waits in a plain
 * read() for the next request on it: nginx must keep fewer idle
 * connections than there are threads, or new requests stall.
 *
 * Built by script/bench with plain cc; not part of Makefile.am. SIGTERM ends it at once.
 */
#include <errno.h>
#include <fcgiapp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_THREADS 256
#define MAX_BODY (1024 * 1024)

static char *response;    /* headers + body, built once */
static int response_len;
static int listen_fd;
static int use_mutex;
static pthread_mutex_t accept_mutex = PTHREAD_MUTEX_INITIALIZER;

static void *serve(void *arg)
{
    FCGX_Request request;

    (void)arg;
    FCGX_InitRequest(&request, listen_fd, 0);
    for (;;) {
        int rc;

        if (use_mutex)
            pthread_mutex_lock(&accept_mutex);
        rc = FCGX_Accept_r(&request);
        if (use_mutex)
            pthread_mutex_unlock(&accept_mutex);
        if (rc < 0)
            break;
        FCGX_PutStr(response, response_len, request.out);
        FCGX_Finish_r(&request);
    }
    return NULL;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *data;

    if (f == NULL)
        return NULL;
    data = malloc(MAX_BODY);
    if (data == NULL) {
        fclose(f);
        return NULL;
    }
    *len = fread(data, 1, MAX_BODY, f);
    fclose(f);
    return data;
}

int main(int argc, char **argv)
{
    static const char head[] =
        "Status: 200 OK\r\n"
        "Content-Type: application/json; charset=utf-8\r\n"
        "Content-Length: %zu\r\n"
        "Cache-Control: no-store\r\n"
        "\r\n";
    pthread_t threads[MAX_THREADS];
    int nthreads = 8, i, n;
    size_t body_len;
    char *body;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--mutex") == 0) {
            use_mutex = 1;
            memmove(&argv[i], &argv[i + 1], (size_t)(argc - i) * sizeof *argv);
            argc--;
            i--;
        }
    }
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: textbook SOCKET BODY_FILE [THREADS] [--mutex]\n");
        return 2;
    }
    if (argc == 4)
        nthreads = atoi(argv[3]);
    if (nthreads < 1 || nthreads > MAX_THREADS) {
        fprintf(stderr, "textbook: THREADS must be 1..%d\n", MAX_THREADS);
        return 2;
    }
    body = read_file(argv[2], &body_len);
    if (body == NULL) {
        fprintf(stderr, "textbook: cannot read '%s': %s\n", argv[2], strerror(errno));
        return 1;
    }
    response = malloc(sizeof head + 32 + body_len);
    if (response == NULL)
        return 1;
    n = sprintf(response, head, body_len);
    memcpy(response + n, body, body_len);
    response_len = n + (int)body_len;

    if (FCGX_Init() != 0) {
        fprintf(stderr, "textbook: FCGX_Init failed\n");
        return 1;
    }
    /* FCGX_Init made SIGTERM only set a flag that blocked threads never look at
     * (libfcgi's OS_LibInit installs that handler); the benchmark wants SIGTERM to end it at once. */
    signal(SIGTERM, SIG_DFL);
    listen_fd = FCGX_OpenSocket(argv[1], 511); /* exits on failure */
    if (listen_fd < 0) {
        fprintf(stderr, "textbook: cannot listen on '%s'\n", argv[1]);
        return 1;
    }
    fprintf(stderr, "textbook: %d threads%s on %s, %zu-byte body\n", nthreads,
            use_mutex ? " (accept mutex)" : "", argv[1], body_len);
    for (i = 0; i < nthreads; i++) {
        if (pthread_create(&threads[i], NULL, serve, NULL) != 0) {
            fprintf(stderr, "textbook: pthread_create failed\n");
            return 1;
        }
    }
    for (i = 0; i < nthreads; i++)
        pthread_join(threads[i], NULL);
    return 0;
}
