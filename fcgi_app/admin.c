#include "admin.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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

#include "admin_loop.h"
#include "clock.h"
#include "listener.h"
#include "log.h"
#include "metrics_render.h"
#include "proctitle.h"
#include "xalloc.h"

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

/*
 * The CGI text of one answer: headers, a blank line, the body (none for HEAD).
 * nosniff as on the workers' answers (response.c): nginx passes these through.
 */
static void respond(struct buf *cgi, int status, const char *reason, const char *type, const char *extra,
		    const struct buf *body, bool head)
{
	buf_printf(cgi,
		   "Status: %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		   "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n%s\r\n",
		   status, reason, type, body->len, extra ? extra : "");
	if (!head && body->len > 0)
		buf_append(cgi, body->data, body->len);
}

/* What one run of the loop answers with: a snapshot (large: allocated once) and a body buffer. */
struct answerer {
	struct metrics_snapshot *snap;
	struct buf body;
	bool (*should_stop)(void);
};

static void answer(const struct admin_fcgi *req, struct buf *cgi, void *ctx)
{
	struct answerer *a = ctx;
	struct buf *body = &a->body;
	const char *method = admin_fcgi_param(req, "REQUEST_METHOD");
	const char *uri = admin_fcgi_param(req, "REQUEST_URI");
	const char *query = admin_fcgi_param(req, "QUERY_STRING");
	const char *json = "application/json; charset=utf-8";
	struct metrics_listen listen;
	size_t path_len;
	bool head = method != NULL && strcmp(method, "HEAD") == 0;

	if (uri == NULL || *uri == '\0')
		uri = admin_fcgi_param(req, "DOCUMENT_URI");
	if (uri == NULL)
		uri = "/";
	path_len = strcspn(uri, "?");
	if (query == NULL && uri[path_len] == '?')
		query = uri + path_len + 1;
	buf_reset(body);
	if (!(path_len == 8 && strncmp(uri, "/metrics", 8) == 0) &&
	    !(path_len == 7 && strncmp(uri, "/status", 7) == 0)) {
		buf_puts(body, "{\"detail\":\"Not Found\"}\n");
		respond(cgi, 404, "Not Found", json, NULL, body, head);
		return;
	}
	if (method == NULL || (strcmp(method, "GET") != 0 && !head)) {
		buf_puts(body, "{\"detail\":\"Method Not Allowed\"}\n");
		respond(cgi, 405, "Method Not Allowed", json, "Allow: GET, HEAD\r\n", body, head);
		return;
	}
	admin_listen_queue(admin.listen_fd, &listen);
	if (!metrics_snapshot_take(a->snap)) {
		buf_puts(body, "{\"detail\":\"metrics are not available\"}\n");
		respond(cgi, 503, "Service Unavailable", json, NULL, body, head);
		return;
	}
	if (uri[1] == 'm') {
		metrics_render_prometheus(a->snap, &listen, body);
		respond(cgi, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", NULL, body, head);
	} else {
		metrics_render_status(a->snap, &listen, admin.listen_name, query_has(query, "full"), body);
		respond(cgi, 200, "OK", json, NULL, body, head);
	}
}

/* ---- the loop -------------------------------------------------------------------- */

static bool answerer_should_stop(void *ctx)
{
	return ((struct answerer *)ctx)->should_stop();
}

/* Sampling between requests makes "max listen queue" see more than scrapes alone. */
static void sample_listen_queue(void *ctx)
{
	struct metrics_listen sample;

	(void)ctx;
	admin_listen_queue(admin.listen_fd, &sample);
}

/* Serves the admin socket (admin_loop.c: every connection bounded) until should_stop says so. */
static void admin_loop(bool (*should_stop)(void))
{
	struct answerer a = { xmalloc(sizeof *a.snap), BUF_INIT, should_stop };
	struct admin_loop_hooks hooks = { answer, answerer_should_stop, sample_listen_queue, &a };

	admin_loop_run(admin.sock.fd, &hooks);
	buf_release(&a.body);
	free(a.snap);
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
