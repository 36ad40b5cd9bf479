#include "admin.h"

#include <errno.h>
#include <fcgiapp.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "listener.h"
#include "log.h"
#include "metrics_render.h"
#include "proctitle.h"
#include "xalloc.h"

#define ADMIN_IO_TIMEOUT_MS 1000
#define ADMIN_POLL_MS 100
#define ADMIN_RESPAWN_MS 1000
#define ADMIN_KILL_AFTER_MS 3000

static struct {
	struct listener sock;    /* the admin listening socket; fd -1 when off */
	int listen_fd;           /* the FastCGI listener, for its accept queue */
	char *listen_name;       /* server.listen, shown in /status */
	pid_t master;
	pid_t pid;               /* the admin process, 0 when none */
	long long respawn_at_ms;
	long long kill_at_ms;    /* stopping: SIGKILL after this */
	pthread_t thread;
	bool thread_started;
	atomic_bool thread_stop;
} admin = { .sock = { .fd = -1 }, .listen_fd = -1 };

int admin_open(const struct config *cfg, int listen_fd, char *err, size_t errlen)
{
	char msg[CONFIG_ERR_SIZE];
	int flags;

	listener_init(&admin.sock);
	admin.listen_fd = listen_fd;
	free(admin.listen_name);
	admin.listen_name = xstrdup(cfg->server.listen[0] ? cfg->server.listen : "fd 0");
	if (cfg->server.admin_listen[0] == '\0')
		return 0;
	/*
	 * A socket of its own, always: never fd 0 or systemd's fd 3, which are the
	 * FastCGI listener a spawner handed over (listener_take has them).
	 */
	if (listener_bind(&admin.sock, cfg, cfg->server.admin_listen, 64, msg, sizeof msg) < 0) {
		snprintf(err, errlen, "server.admin_listen: %s", msg);
		return -1;
	}
	flags = fcntl(admin.sock.fd, F_GETFL);
	if (flags >= 0)
		fcntl(admin.sock.fd, F_SETFL, flags | O_NONBLOCK);
	admin.master = getpid();
	return 0;
}

bool admin_enabled(void)
{
	return admin.sock.fd >= 0;
}

void admin_close_listener(void)
{
	listener_forget(&admin.sock);
}

void admin_close(void)
{
	listener_close(&admin.sock);
	free(admin.listen_name);
	admin.listen_name = NULL;
}

/* ---- the listen queue --------------------------------------------------------- */

/*
 * A listening unix socket's queue through sock_diag (what `ss -xl` shows as
 * Recv-Q / Send-Q): for a listener, rqueue is the connections waiting for
 * accept() and wqueue the backlog.
 */
static bool unix_listen_queue(int fd, struct metrics_listen *out)
{
	struct {
		struct nlmsghdr nlh;
		struct unix_diag_req req;
	} msg;
	union {
		struct nlmsghdr nlh;
		char data[8192];
	} reply;
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	struct stat st;
	ssize_t n;
	int nl;
	bool found = false;

	if (fstat(fd, &st) < 0)
		return false;
	nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (nl < 0)
		return false;
	memset(&msg, 0, sizeof msg);
	msg.nlh.nlmsg_len = sizeof msg;
	msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	msg.nlh.nlmsg_flags = NLM_F_REQUEST;
	msg.req.sdiag_family = AF_UNIX;
	msg.req.udiag_states = 1u << 10; /* TCP_LISTEN */
	msg.req.udiag_ino = (unsigned)st.st_ino;
	msg.req.udiag_show = UDIAG_SHOW_RQLEN;
	msg.req.udiag_cookie[0] = msg.req.udiag_cookie[1] = ~0u; /* no cookie */
	if (sendto(nl, &msg, sizeof msg, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0)
		goto out;
	{
		struct timeval tv = { 0, 200000 };

		setsockopt(nl, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	}
	n = recv(nl, &reply, sizeof reply, 0);
	for (struct nlmsghdr *h = &reply.nlh; n > 0 && NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
		struct unix_diag_msg *m;
		struct rtattr *a;
		int len;

		if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY)
			break;
		m = NLMSG_DATA(h);
		if (m->udiag_ino != (unsigned)st.st_ino)
			continue;
		len = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof *m));
		for (a = (struct rtattr *)(m + 1); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
			if (a->rta_type == UNIX_DIAG_RQLEN && RTA_PAYLOAD(a) >= sizeof(struct unix_diag_rqlen)) {
				const struct unix_diag_rqlen *q = RTA_DATA(a);

				out->queue = (int)q->udiag_rqueue;
				out->backlog = (int)q->udiag_wqueue;
				found = true;
			}
		}
		break;
	}
out:
	close(nl);
	return found;
}

void admin_listen_queue(int listen_fd, struct metrics_listen *out)
{
	struct sockaddr_storage addr;
	socklen_t len = sizeof addr;

	memset(out, 0, sizeof *out);
	if (listen_fd < 0 || getsockname(listen_fd, (struct sockaddr *)&addr, &len) < 0)
		return;
	if (addr.ss_family == AF_UNIX) {
		out->known = unix_listen_queue(listen_fd, out);
	} else if (addr.ss_family == AF_INET || addr.ss_family == AF_INET6) {
		struct tcp_info info;
		socklen_t ilen = sizeof info;

		/* On a listening TCP socket, unacked is the accept queue and sacked its limit. */
		if (getsockopt(listen_fd, IPPROTO_TCP, TCP_INFO, &info, &ilen) == 0) {
			out->queue = (int)info.tcpi_unacked;
			out->backlog = (int)info.tcpi_sacked;
			out->known = true;
		}
	}
	if (out->known)
		metrics_note_listen_queue(out->queue);
}

/* ---- the answers ----------------------------------------------------------------- */

static bool query_has(const char *query, const char *name)
{
	size_t n = strlen(name);

	while (query != NULL && *query) {
		if (strncmp(query, name, n) == 0 && (query[n] == '\0' || query[n] == '&' || query[n] == '='))
			return true;
		query = strchr(query, '&');
		if (query != NULL)
			query++;
	}
	return false;
}

static void respond(FCGX_Request *req, int status, const char *reason, const char *type,
		    const char *extra, const struct buf *body, bool head)
{
	char head_text[512];
	int n = snprintf(head_text, sizeof head_text,
			 "Status: %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Cache-Control: no-store\r\n%s\r\n",
			 status, reason, type, body->len, extra ? extra : "");

	/* libfcgi's own FCGX_FPrintF knows no %zu: format here, write once. */
	if (n > 0 && (size_t)n < sizeof head_text)
		FCGX_PutStr(head_text, n, req->out);
	if (!head && body->len > 0)
		FCGX_PutStr(body->data, (int)body->len, req->out);
}

static void answer(FCGX_Request *req, struct metrics_snapshot *snap, struct buf *body)
{
	const char *method = FCGX_GetParam("REQUEST_METHOD", req->envp);
	const char *uri = FCGX_GetParam("REQUEST_URI", req->envp);
	const char *query = FCGX_GetParam("QUERY_STRING", req->envp);
	const char *json = "application/json; charset=utf-8";
	struct metrics_listen listen;
	size_t path_len;
	bool head = method != NULL && strcmp(method, "HEAD") == 0;

	if (uri == NULL || *uri == '\0')
		uri = FCGX_GetParam("DOCUMENT_URI", req->envp);
	if (uri == NULL)
		uri = "/";
	path_len = strcspn(uri, "?");
	if (query == NULL && uri[path_len] == '?')
		query = uri + path_len + 1;
	buf_reset(body);
	if (!(path_len == 8 && strncmp(uri, "/metrics", 8) == 0) &&
	    !(path_len == 7 && strncmp(uri, "/status", 7) == 0)) {
		buf_puts(body, "{\"detail\":\"Not Found\"}\n");
		respond(req, 404, "Not Found", json, NULL, body, head);
		return;
	}
	if (method == NULL || (strcmp(method, "GET") != 0 && !head)) {
		buf_puts(body, "{\"detail\":\"Method Not Allowed\"}\n");
		respond(req, 405, "Method Not Allowed", json, "Allow: GET, HEAD\r\n", body, head);
		return;
	}
	admin_listen_queue(admin.listen_fd, &listen);
	if (!metrics_snapshot_take(snap)) {
		buf_puts(body, "{\"detail\":\"metrics are not available\"}\n");
		respond(req, 503, "Service Unavailable", json, NULL, body, head);
		return;
	}
	if (uri[1] == 'm') {
		metrics_render_prometheus(snap, &listen, body);
		respond(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", NULL, body, head);
	} else {
		metrics_render_status(snap, &listen, admin.listen_name, query_has(query, "full"), body);
		respond(req, 200, "OK", json, NULL, body, head);
	}
}

/* ---- the loop -------------------------------------------------------------------- */

static void set_io_timeouts(int fd)
{
	struct timeval tv = { ADMIN_IO_TIMEOUT_MS / 1000, (ADMIN_IO_TIMEOUT_MS % 1000) * 1000 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* Answers one connection: one request, then close (no keep-alive on the admin socket). */
static void serve_connection(FCGX_Request *req, int fd, struct metrics_snapshot *snap, struct buf *body)
{
	set_io_timeouts(fd);
	req->ipcFd = fd;
	req->keepConnection = 1; /* the Finish FCGX_Accept_r starts with must not close fd */
	req->detached = 1;       /* a failed read closes without libfcgi's 2 s linger */
	if (FCGX_Accept_r(req) == 0) {
		req->detached = 0;
		answer(req, snap, body);
		req->keepConnection = 0;
		FCGX_Finish_r(req);
	}
	if (req->ipcFd >= 0)
		close(req->ipcFd);
	req->ipcFd = -1;
}

/* Serves the admin socket until should_stop says so; checked at least every 100 ms. */
static void admin_loop(bool (*should_stop)(void))
{
	struct metrics_snapshot *snap = xmalloc(sizeof *snap);
	struct buf body = BUF_INIT;
	FCGX_Request req;
	int dummy = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	/* libfcgi's listen socket is one that cannot accept: it only reads the fd we hand it. */
	FCGX_InitRequest(&req, dummy, 0);
	while (!should_stop()) {
		struct pollfd p = { admin.sock.fd, POLLIN, 0 };
		struct metrics_listen sample;
		int fd;

		/* Sampling between requests makes "max listen queue" see more than scrapes alone. */
		admin_listen_queue(admin.listen_fd, &sample);
		if (poll(&p, 1, ADMIN_POLL_MS) <= 0)
			continue;
		fd = accept4(admin.sock.fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		serve_connection(&req, fd, snap, &body);
	}
	FCGX_Free(&req, 1);
	if (dummy >= 0)
		close(dummy);
	buf_release(&body);
	free(snap);
}

/* ---- the admin process ------------------------------------------------------------ */

static bool process_should_stop(void)
{
	struct timespec zero = { 0, 0 };
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	while ((sig = sigtimedwait(&set, NULL, &zero)) > 0) {
		if (sig == SIGUSR1) {
			log_reopen_on_signal(" (admin)");
			continue;
		}
		if (sig != SIGHUP)
			return true;
	}
	/* The master is gone (PDEATHSIG may race with its exit): leave too. */
	return getppid() != admin.master;
}

void admin_tick(bool stopping)
{
	long long now = clock_ms();
	pid_t pid;

	if (stopping) {
		if (admin.pid > 0 && admin.kill_at_ms && now > admin.kill_at_ms) {
			log_warn("admin process %d did not stop: SIGKILL", (int)admin.pid);
			kill(admin.pid, SIGKILL);
			admin.kill_at_ms = 0;
		}
		return;
	}
	if (admin.sock.fd < 0 || admin.pid > 0 || now < admin.respawn_at_ms)
		return;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		log_error("cannot start the admin process: %s", strerror(errno));
		admin.respawn_at_ms = now + ADMIN_RESPAWN_MS;
		return;
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != admin.master)
			_exit(0);
		proctitle_set("taskapi: admin process");
		admin_loop(process_should_stop);
		exit(0);
	}
	admin.pid = pid;
	log_info("started admin process %d (/metrics, /status)", (int)pid);
}

bool admin_reaped(pid_t pid, int status)
{
	if (admin.pid <= 0 || pid != admin.pid)
		return false;
	admin.pid = 0;
	admin.kill_at_ms = 0;
	admin.respawn_at_ms = clock_ms() + ADMIN_RESPAWN_MS;
	if (WIFSIGNALED(status) && WTERMSIG(status) != SIGTERM)
		log_error("admin process %d was killed by signal %d; starting another in 1 s", (int)pid,
			  WTERMSIG(status));
	else
		log_info("admin process %d left", (int)pid);
	return true;
}

void admin_signal(int sig)
{
	if (admin.pid <= 0)
		return;
	if (sig == SIGTERM || sig == SIGQUIT || sig == SIGINT)
		admin.kill_at_ms = clock_ms() + ADMIN_KILL_AFTER_MS;
	kill(admin.pid, sig);
}

bool admin_running(void)
{
	return admin.pid > 0;
}

/* ---- --workers 0: a thread ------------------------------------------------------------ */

static bool thread_should_stop(void)
{
	return atomic_load(&admin.thread_stop);
}

static void *admin_thread_main(void *arg)
{
	(void)arg;
	admin_loop(thread_should_stop);
	return NULL;
}

int admin_thread_start(void)
{
	int rc;

	if (admin.sock.fd < 0)
		return 0;
	atomic_store(&admin.thread_stop, false);
	rc = pthread_create(&admin.thread, NULL, admin_thread_main, NULL);
	if (rc != 0) {
		/* pthread_create returns its error; errno is not set. */
		log_error("cannot start the admin thread: %s", strerror(rc));
		return -1;
	}
	admin.thread_started = true;
	return 0;
}

void admin_thread_stop(void)
{
	if (!admin.thread_started)
		return;
	atomic_store(&admin.thread_stop, true);
	pthread_join(admin.thread, NULL);
	admin.thread_started = false;
}
