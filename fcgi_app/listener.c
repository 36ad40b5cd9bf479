#include "listener.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "privileges.h"

/* sd_listen_fds(3): passed sockets start here. */
#define SYSTEMD_FIRST_FD 3
/* A unix socket is born 0600 (umask 0177) until its owner and mode are set. */
#define LISTENER_BIND_UMASK 0177

static int set_cloexec(int fd)
{
	int flags = fcntl(fd, F_GETFD);

	return flags < 0 ? -1 : fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

bool listener_is_listening(int fd)
{
	int accepting = 0;
	socklen_t len = sizeof accepting;

	return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) == 0 && accepting;
}

/* ---- systemd socket activation ---------------------------------------- */

/*
 * LISTEN_FDS when LISTEN_PID names this process, else 0 (the variables were
 * meant for another process, e.g. a parent that did not unset them); -1 when
 * they are malformed.
 */
static long systemd_fd_count(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	char *end;
	long p, n;

	if (pid == NULL || fds == NULL)
		return 0;
	errno = 0;
	p = strtol(pid, &end, 10);
	if (errno != 0 || *end != '\0' || p <= 0)
		return -1;
	if (p != (long)getpid())
		return 0;
	n = strtol(fds, &end, 10);
	if (errno != 0 || *end != '\0' || n < 0 || n > INT_MAX - SYSTEMD_FIRST_FD)
		return -1;
	return n;
}

static void systemd_unsetenv(void)
{
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
}

/* fd 3 from systemd, or -1 with err. Exactly one socket is expected. */
static int take_systemd_socket(const char *listen_on, long count, char *err, size_t errlen)
{
	if (count != 1) {
		snprintf(err, errlen, "systemd passed %ld sockets (LISTEN_FDS); taskapi takes exactly one: "
			 "give its .socket unit a single ListenStream=", count);
		return -1;
	}
	if (!listener_is_listening(SYSTEMD_FIRST_FD)) {
		snprintf(err, errlen, "fd %d from systemd (LISTEN_FDS=1) is not a listening stream socket",
			 SYSTEMD_FIRST_FD);
		return -1;
	}
	set_cloexec(SYSTEMD_FIRST_FD);
	log_info("listening on the socket passed by systemd (fd %d)%s%s%s", SYSTEMD_FIRST_FD,
		 listen_on[0] ? "; server.listen '" : "", listen_on, listen_on[0] ? "' is not used" : "");
	return SYSTEMD_FIRST_FD;
}

bool listener_inherited(void)
{
	return systemd_fd_count() != 0 || listener_is_listening(STDIN_FILENO);
}

/* ---- a unix socket of our own ----------------------------------------- */

/*
 * A socket file left by a crash is removed; one that still answers belongs
 * to a live server. Anything we cannot tell apart (no permission to
 * connect, not a socket) is refused rather than removed.
 */
static int remove_stale(const struct sockaddr_un *addr, char *err, size_t errlen)
{
	const char *path = addr->sun_path;
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) < 0)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "'%s' exists and is not a socket", path);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail_errno;
	rc = connect(fd, (const struct sockaddr *)addr, sizeof *addr);
	close(fd);
	if (rc == 0) {
		snprintf(err, errlen, "'%s' is in use by another running server", path);
		return -1;
	}
	if (errno != ECONNREFUSED) {
		snprintf(err, errlen, "cannot tell whether '%s' is in use (%s): remove it if it is stale",
			 path, strerror(errno));
		return -1;
	}
	if (unlink(path) < 0 && errno != ENOENT)
		goto fail_errno;
	return 0;
fail_errno:
	snprintf(err, errlen, "cannot replace '%s': %s", path, strerror(errno));
	return -1;
}

/*
 * chown's the socket file to socket_owner (else server.user) and
 * socket_group (else server.group); names that are empty change nothing.
 */
static int chown_socket(const struct config *cfg, const char *path, char *err, size_t errlen)
{
	const char *owner = cfg->server.socket_owner[0] ? cfg->server.socket_owner : cfg->server.user;
	const char *group = cfg->server.socket_group[0] ? cfg->server.socket_group : cfg->server.group;
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1, primary;
	char msg[CONFIG_ERR_SIZE];

	if (owner[0] == '\0' && group[0] == '\0')
		return 0;
	if ((owner[0] && privileges_lookup_user(owner, &uid, &primary, msg, sizeof msg) < 0) ||
	    (group[0] && privileges_lookup_group(group, &gid, msg, sizeof msg) < 0)) {
		snprintf(err, errlen, "socket owner/group: %s", msg);
		return -1;
	}
	if (chown(path, uid, gid) < 0) {
		snprintf(err, errlen, "cannot give '%s' to %s:%s: %s", path, owner[0] ? owner : "-",
			 group[0] ? group : "-", strerror(errno));
		return -1;
	}
	return 0;
}

/* Records in l the file just made, for listener_close. */
static void remember(struct listener *l, const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return;
	l->created = true;
	l->pid = getpid();
	l->dev = st.st_dev;
	l->ino = st.st_ino;
	snprintf(l->path, sizeof l->path, "%s", path);
}

static int open_unix(struct listener *l, const struct config *cfg, const char *path, int backlog,
		     char *err, size_t errlen)
{
	struct sockaddr_un addr;
	mode_t old_umask;
	int fd, rc;

	if (strlen(path) >= sizeof addr.sun_path) {
		snprintf(err, errlen, "socket path '%s' is too long (at most %zu bytes)", path,
			 sizeof addr.sun_path - 1);
		return -1;
	}
	memset(&addr, 0, sizeof addr);
	addr.sun_family = AF_UNIX;
	memcpy(addr.sun_path, path, strlen(path) + 1);
	if (remove_stale(&addr, err, errlen) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create a unix socket: %s", strerror(errno));
		return -1;
	}
	/* Born 0600: nobody can connect before the owner and mode below are in place. */
	old_umask = umask(LISTENER_BIND_UMASK);
	rc = bind(fd, (struct sockaddr *)&addr, sizeof addr);
	umask(old_umask);
	if (rc < 0) {
		snprintf(err, errlen, "cannot listen on '%s': %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (chown_socket(cfg, path, err, errlen) < 0)
		goto fail;
	if (chmod(path, (mode_t)cfg->server.socket_mode) < 0 || listen(fd, backlog) < 0) {
		snprintf(err, errlen, "cannot listen on '%s': %s", path, strerror(errno));
		goto fail;
	}
	l->fd = fd;
	remember(l, path);
	log_info("listening on unix socket %s (mode %04o, backlog %d)", path,
		 (unsigned)cfg->server.socket_mode, backlog);
	return fd;
fail:
	unlink(path);
	close(fd);
	return -1;
}

/* ---- TCP -------------------------------------------------------------- */

/* Splits "host:port", "[v6]:port", "*:port" or ":port"; host "" means any address. */
static int split_host_port(const char *spec, char *host, size_t hostlen, const char **port)
{
	const char *sep;
	size_t n;

	if (spec[0] == '[') {
		sep = strchr(spec, ']');
		if (sep == NULL || sep[1] != ':')
			return -1;
		spec++;
		*port = sep + 2;
	} else {
		sep = strrchr(spec, ':');
		if (sep == NULL)
			return -1;
		*port = sep + 1;
	}
	n = (size_t)(sep - spec);
	if (n >= hostlen || **port == '\0')
		return -1;
	memcpy(host, spec, n);
	host[n] = '\0';
	if (strcmp(host, "*") == 0)
		host[0] = '\0';
	return 0;
}

static int open_tcp(struct listener *l, const char *spec, int backlog, char *err, size_t errlen)
{
	const char *port;
	char host[256];
	struct addrinfo hints, *res = NULL, *ai;
	int fd = -1, one = 1, rc;

	if (split_host_port(spec, host, sizeof host, &port) < 0) {
		snprintf(err, errlen, "invalid listen address '%s' (expected /path.sock, host:port, "
			 "[v6]:port or *:port)", spec);
		return -1;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "cannot resolve '%s': %s", spec, gai_strerror(rc));
		return -1;
	}
	snprintf(err, errlen, "cannot listen on '%s': no usable address", spec);
	for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, backlog) == 0)
			break;
		snprintf(err, errlen, "cannot listen on '%s': %s", spec, strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd >= 0)
		log_info("listening on %s (backlog %d)", spec, backlog);
	l->fd = fd;
	return fd;
}

/* ---- entry points ----------------------------------------------------- */

void listener_init(struct listener *l)
{
	memset(l, 0, sizeof *l);
	l->fd = -1;
}

int listener_bind(struct listener *l, const struct config *cfg, const char *address, int backlog,
		  char *err, size_t errlen)
{
	listener_init(l);
	if (address[0] == '\0') {
		snprintf(err, errlen, "no address to listen on");
		return -1;
	}
	if (strchr(address, '/') != NULL)
		return open_unix(l, cfg, address, backlog, err, errlen);
	return open_tcp(l, address, backlog, err, errlen);
}

int listener_take(struct listener *l, const struct config *cfg, char *err, size_t errlen)
{
	const char *listen_on = cfg->server.listen;
	long n_systemd = systemd_fd_count();

	listener_init(l);
	systemd_unsetenv();
	if (n_systemd < 0) {
		snprintf(err, errlen, "malformed LISTEN_PID/LISTEN_FDS in the environment");
		return -1;
	}
	if (n_systemd > 0) {
		l->fd = take_systemd_socket(listen_on, n_systemd, err, errlen);
		return l->fd;
	}
	if (listener_is_listening(STDIN_FILENO)) {
		/* Spawned by a web server or spawn-fcgi: the FastCGI listener is fd 0. */
		set_cloexec(STDIN_FILENO);
		log_info("listening on the socket inherited as fd 0%s%s%s",
			 listen_on[0] ? "; server.listen '" : "", listen_on, listen_on[0] ? "' is not used" : "");
		l->fd = STDIN_FILENO;
		return l->fd;
	}
	if (listen_on[0] == '\0') {
		snprintf(err, errlen, "server.listen is empty and no listening socket was passed "
			 "(fd 0, or systemd's LISTEN_FDS): set server.listen, e.g. "
			 "/run/taskapi/taskapi.sock or 127.0.0.1:9000");
		return -1;
	}
	return listener_bind(l, cfg, listen_on, cfg->server.backlog, err, errlen);
}

void listener_forget(struct listener *l)
{
	if (l->fd >= 0)
		close(l->fd);
	listener_init(l);
}

void listener_close(struct listener *l)
{
	struct stat st;

	if (l->created && l->pid == getpid() && lstat(l->path, &st) == 0 && st.st_dev == l->dev &&
	    st.st_ino == l->ino && unlink(l->path) < 0)
		log_warn("cannot remove %s: %s", l->path, strerror(errno));
	listener_forget(l);
}
