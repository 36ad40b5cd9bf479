#include "listener.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int set_cloexec(int fd)
{
	int flags = fcntl(fd, F_GETFD);

	return flags < 0 ? -1 : fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

int listener_is_listening(int fd)
{
	int accepting = 0;
	socklen_t len = sizeof accepting;

	return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) == 0 && accepting;
}

static int open_unix(const char *path, int mode, int backlog, char *err, size_t errlen)
{
	struct sockaddr_un addr;
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof addr.sun_path) {
		snprintf(err, errlen, "socket path '%s' is too long", path);
		return -1;
	}
	memset(&addr, 0, sizeof addr);
	addr.sun_family = AF_UNIX;
	memcpy(addr.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail_errno;
	/* A socket file left by a crash is removed; one that still answers belongs to a live server. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "'%s' exists and is not a socket", path);
			goto fail;
		}
		if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0) {
			snprintf(err, errlen, "'%s' is in use by another running server", path);
			goto fail;
		}
		close(fd);
		unlink(path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			goto fail_errno;
	}
	if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || chmod(path, (mode_t)mode) < 0 ||
	    listen(fd, backlog) < 0)
		goto fail_errno;
	return fd;
fail_errno:
	snprintf(err, errlen, "cannot listen on '%s': %s", path, strerror(errno));
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}

static int open_tcp(const char *spec, int backlog, char *err, size_t errlen)
{
	char host[256];
	const char *port, *colon;
	struct addrinfo hints, *res = NULL, *ai;
	int fd = -1, one = 1, rc;

	if (spec[0] == '[') { /* [::1]:9000 */
		const char *close_bracket = strchr(spec, ']');

		if (close_bracket == NULL || close_bracket[1] != ':' ||
		    (size_t)(close_bracket - spec - 1) >= sizeof host)
			goto bad_spec;
		memcpy(host, spec + 1, (size_t)(close_bracket - spec - 1));
		host[close_bracket - spec - 1] = '\0';
		port = close_bracket + 2;
	} else {
		colon = strrchr(spec, ':');
		if (colon == NULL || (size_t)(colon - spec) >= sizeof host)
			goto bad_spec;
		memcpy(host, spec, (size_t)(colon - spec));
		host[colon - spec] = '\0';
		port = colon + 1;
	}
	if (*port == '\0')
		goto bad_spec;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host[0] && strcmp(host, "*") != 0 ? host : NULL, port, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "cannot resolve '%s': %s", spec, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
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
	return fd;
bad_spec:
	snprintf(err, errlen, "invalid listen address '%s' (expected /path.sock, host:port or [v6]:port)", spec);
	return -1;
}

int listener_open(const struct config *cfg, char *err, size_t errlen)
{
	const char *listen_on = cfg->server.listen;

	if (listen_on[0] == '\0') {
		/* Spawned by a web server or spawn-fcgi: the FastCGI listener is fd 0. */
		if (!listener_is_listening(STDIN_FILENO)) {
			snprintf(err, errlen, "server.listen is empty and fd 0 is not a listening socket: "
				 "set server.listen (e.g. /run/taskapi/taskapi.sock or 127.0.0.1:9000)");
			return -1;
		}
		set_cloexec(STDIN_FILENO);
		return STDIN_FILENO;
	}
	if (strchr(listen_on, '/') != NULL)
		return open_unix(listen_on, cfg->server.socket_mode, cfg->server.backlog, err, errlen);
	return open_tcp(listen_on, cfg->server.backlog, err, errlen);
}

