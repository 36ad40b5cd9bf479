/*
 * Unit tests for auth_socket.c: the rule that keeps auth.mode = remote_user off
 * listeners others can connect to. The rule itself on made-up facts (every branch,
 * and what the refusal says), then the facts read from real sockets (TCP, IPv6, a
 * unix socket file by mode, abstract, gone, replaced), the group's accounts from
 * the system's databases, auth_socket_check on a listener handed over the way
 * systemd does, and the preview --check-config judges. Each test runs in its own process (CK_FORK).
 */
#include <arpa/inet.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "auth_socket.h"
#include "config.h"
#include "listener.h"
#include "unit.h"

static char dir[UNIT_DIR_SIZE];

static void remove_dir(void)
{
	unit_dir_remove(dir);
}

static void set(struct config *cfg, const char *section, const char *key, const char *value)
{
	char err[CONFIG_ERR_SIZE];

	ck_assert_msg(config_set(cfg, section, key, value, err, sizeof err) == 0, "%s", err);
}

/* Facts of a unix socket file with the given mode and group, as auth_socket_inspect finds them. */
static struct auth_socket_facts file_facts(unsigned mode, const char *group, unsigned accounts)
{
	struct auth_socket_facts f;

	memset(&f, 0, sizeof f);
	f.family = AF_UNIX;
	snprintf(f.address, sizeof f.address, "/run/taskapi/taskapi.sock");
	f.has_file = true;
	f.mode = (mode_t)mode;
	f.uid = 999;
	f.gid = 998;
	snprintf(f.owner, sizeof f.owner, "taskapi");
	snprintf(f.group, sizeof f.group, "%s", group);
	f.group_accounts = accounts;
	snprintf(f.group_account, sizeof f.group_account, "%s", accounts ? "www-data" : "");
	return f;
}

static int judge(const struct auth_socket_facts *f, char *why, size_t whylen)
{
	why[0] = '\0';
	return auth_socket_judge(f, why, whylen);
}

START_TEST(test_network_and_fileless_sockets_are_refused)
{
	struct auth_socket_facts f;
	char why[768];

	memset(&f, 0, sizeof f);
	f.family = AF_INET;
	snprintf(f.address, sizeof f.address, "127.0.0.1:9000");
	ck_assert_int_eq(judge(&f, why, sizeof why), -1);
	ck_assert_msg(strstr(why, "127.0.0.1:9000") && strstr(why, "every local process"), "%s", why);
	f.family = AF_INET6;
	ck_assert_int_eq(judge(&f, why, sizeof why), -1);

	memset(&f, 0, sizeof f);
	f.family = AF_UNIX;
	snprintf(f.address, sizeof f.address, "an abstract unix socket");
	ck_assert_int_eq(judge(&f, why, sizeof why), -1);
	ck_assert_msg(strstr(why, "abstract") && strstr(why, "no file permission"), "%s", why);
}
END_TEST

START_TEST(test_socket_file_modes)
{
	struct auth_socket_facts f;
	char why[768];

	/* Owner only, or a group nobody else holds: the web server alone. */
	f = file_facts(0600, "taskapi", 0);
	ck_assert_msg(judge(&f, why, sizeof why) == 0, "%s", why);
	f = file_facts(0660, "taskapi-web", 1);
	ck_assert_msg(judge(&f, why, sizeof why) == 0, "%s", why);
	f = file_facts(0660, "root", 0);
	ck_assert_msg(judge(&f, why, sizeof why) == 0, "%s", why);
	/* Group and others may read, not write: they cannot connect. */
	f = file_facts(0644, "www-data", 5);
	ck_assert_msg(judge(&f, why, sizeof why) == 0, "%s", why);

	/* Others may write. */
	f = file_facts(0666, "taskapi-web", 1);
	ck_assert_int_eq(judge(&f, why, sizeof why), -1);
	ck_assert_msg(strstr(why, "0666") && strstr(why, "writable by others"), "%s", why);
	f = file_facts(0602, "taskapi", 0);
	ck_assert_int_eq(judge(&f, why, sizeof why), -1);
}
END_TEST

START_TEST(test_shared_groups)
{
	static const char *const shared[] = { "www-data", "www", "http", "apache", "nginx",
					      "nobody", "nogroup", "users", "staff", "daemon" };
	struct auth_socket_facts f;
	char why[768];

	for (size_t i = 0; i < sizeof shared / sizeof shared[0]; i++) {
		ck_assert_msg(auth_socket_shared_group(shared[i]), "%s", shared[i]);
		/* Even when only the web server holds it: other programs are given it. */
		f = file_facts(0660, shared[i], 1);
		ck_assert_int_eq(judge(&f, why, sizeof why), -1);
		ck_assert_msg(strstr(why, shared[i]) && strstr(why, "share"), "%s", why);
	}
	ck_assert(!auth_socket_shared_group("taskapi-web"));
	ck_assert(!auth_socket_shared_group("www-data2"));
	ck_assert(!auth_socket_shared_group(""));

	/* A dedicated group that more than one account holds: shared all the same. */
	f = file_facts(0660, "taskapi-web", 2);
	ck_assert_int_eq(judge(&f, why, sizeof why), -1);
	ck_assert_msg(strstr(why, "taskapi-web") && strstr(why, "2 accounts") && strstr(why, "www-data"),
		      "%s", why);
	f = file_facts(0670, "taskapi-web", 7);
	ck_assert_int_eq(judge(&f, why, sizeof why), -1);
}
END_TEST

START_TEST(test_owner_nobody)
{
	struct auth_socket_facts f = file_facts(0600, "nogroup", 0);
	char why[768];

	snprintf(f.owner, sizeof f.owner, "nobody");
	ck_assert_int_eq(judge(&f, why, sizeof why), -1);
	ck_assert_msg(strstr(why, "nobody"), "%s", why);
	f = file_facts(0600, "taskapi", 0);
	f.uid = 65534;
	ck_assert_int_eq(judge(&f, why, sizeof why), -1);
	/* The web server's own account may own it. */
	f = file_facts(0600, "www-data", 0);
	snprintf(f.owner, sizeof f.owner, "www-data");
	f.uid = 33;
	ck_assert_msg(judge(&f, why, sizeof why) == 0, "%s", why);
}
END_TEST

static int tcp_listener(int family)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd = socket(family, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	memset(&ss, 0, sizeof ss);
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		in->sin_family = AF_INET;
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof *in;
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_addr = in6addr_loopback;
		len = sizeof *in6;
	}
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 4) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

START_TEST(test_inspect_tcp)
{
	struct auth_socket_facts f;
	char err[512], why[768];
	int fd = tcp_listener(AF_INET);

	ck_assert_int_ge(fd, 0);
	ck_assert_msg(auth_socket_inspect(fd, &f, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(f.family, AF_INET);
	ck_assert_msg(strncmp(f.address, "127.0.0.1:", 10) == 0, "%s", f.address);
	ck_assert_int_eq(judge(&f, why, sizeof why), -1);
	close(fd);
	fd = tcp_listener(AF_INET6);
	if (fd >= 0) { /* a host without IPv6 on loopback has nothing to show here */
		ck_assert_msg(auth_socket_inspect(fd, &f, err, sizeof err) == 0, "%s", err);
		ck_assert_int_eq(f.family, AF_INET6);
		ck_assert_msg(strncmp(f.address, "[::1]:", 6) == 0, "%s", f.address);
		ck_assert_int_eq(judge(&f, why, sizeof why), -1);
		close(fd);
	}
}
END_TEST

static int unix_listener(const char *path, size_t path_len)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	memcpy(addr.sun_path, path, path_len);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&addr,
			      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + path_len)), 0);
	ck_assert_int_eq(listen(fd, 4), 0);
	return fd;
}

START_TEST(test_inspect_unix_file)
{
	struct auth_socket_facts f;
	char path[256], err[512], why[768];
	int fd;

	unit_dir_make(dir, "authsock");
	snprintf(path, sizeof path, "%s/taskapi.sock", dir);
	fd = unix_listener(path, strlen(path) + 1);

	ck_assert_int_eq(chmod(path, 0600), 0);
	ck_assert_msg(auth_socket_inspect(fd, &f, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(f.family, AF_UNIX);
	ck_assert(f.has_file);
	ck_assert_str_eq(f.address, path);
	ck_assert_uint_eq(f.mode, 0600);
	ck_assert_uint_eq(f.uid, geteuid());
	ck_assert_uint_eq(f.gid, getegid());
	ck_assert(f.owner[0] != '\0' && f.group[0] != '\0');
	if (geteuid() != 65534)
		ck_assert_msg(judge(&f, why, sizeof why) == 0, "%s", why);

	ck_assert_int_eq(chmod(path, 0666), 0);
	ck_assert_msg(auth_socket_inspect(fd, &f, err, sizeof err) == 0, "%s", err);
	ck_assert_uint_eq(f.mode, 0666);
	ck_assert_int_eq(judge(&f, why, sizeof why), -1);

	/* The file is gone, or another file took its place: nothing unchecked is trusted. */
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(auth_socket_inspect(fd, &f, err, sizeof err), -1);
	ck_assert_msg(strstr(err, path) != NULL, "%s", err);
	fclose(fopen(path, "w"));
	ck_assert_int_eq(auth_socket_inspect(fd, &f, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "not a socket") != NULL, "%s", err);
	close(fd);
}
END_TEST

START_TEST(test_inspect_abstract)
{
	struct auth_socket_facts f;
	char name[64], err[512], why[768];
	int fd;

	name[0] = '\0';
	snprintf(name + 1, sizeof name - 1, "taskapi-test-%ld", (long)getpid());
	fd = unix_listener(name, 1 + strlen(name + 1));
	ck_assert_msg(auth_socket_inspect(fd, &f, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(f.family, AF_UNIX);
	ck_assert(!f.has_file);
	ck_assert_int_eq(judge(&f, why, sizeof why), -1);
	close(fd);
}
END_TEST

START_TEST(test_group_accounts)
{
	char one[64];
	struct passwd *pw;

	/* A group nobody holds. */
	ck_assert_uint_eq(auth_socket_group_accounts((gid_t)3999999999u, 0, one, sizeof one), 0);
	ck_assert_str_eq(one, "");
	/* Root never counts; nor does the owner given. */
	pw = getpwuid(0);
	ck_assert_ptr_nonnull(pw);
	ck_assert_str_ne(auth_socket_group_accounts(pw->pw_gid, 0, one, sizeof one) ? one : "-", "root");
	/* An account holds its primary group: counted unless it is the owner. */
	pw = getpwnam("www-data");
	if (pw != NULL && pw->pw_uid != 0) {
		uid_t uid = pw->pw_uid;
		gid_t gid = pw->pw_gid;
		unsigned with = auth_socket_group_accounts(gid, 0, one, sizeof one);
		unsigned without = auth_socket_group_accounts(gid, uid, NULL, 0);

		ck_assert_uint_ge(with, 1);
		ck_assert_uint_eq(without, with - 1);
	}
}
END_TEST

START_TEST(test_check_by_mode)
{
	struct config cfg;
	char err[1024];
	int fd = tcp_listener(AF_INET);

	ck_assert_int_ge(fd, 0);
	config_init(&cfg);
	/* Other modes: no opinion about the socket. */
	set(&cfg, "auth", "mode", "none");
	ck_assert_int_eq(auth_socket_check(&cfg, fd, err, sizeof err), 0);
	set(&cfg, "auth", "mode", "token");
	ck_assert_int_eq(auth_socket_check(&cfg, fd, err, sizeof err), 0);
	set(&cfg, "auth", "mode", "remote_user");
	ck_assert_int_eq(auth_socket_check(&cfg, fd, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "remote_user") && strstr(err, "claim to be any user") &&
			      strstr(err, "auth.remote_user_any_socket = true") && strstr(err, "127.0.0.1:"),
		      "%s", err);
	set(&cfg, "auth", "remote_user_any_socket", "true");
	ck_assert_int_eq(auth_socket_check(&cfg, fd, err, sizeof err), 0);
	config_release(&cfg);
	close(fd);
}
END_TEST

/* A socket handed over (systemd's fd 3) is judged like one taskapi binds. */
START_TEST(test_check_handed_over_socket)
{
	struct config cfg;
	struct listener l;
	char err[1024], pid[32];
	int fd = tcp_listener(AF_INET), saved, taken, rc;

	ck_assert_int_ge(fd, 0);
	config_init(&cfg);
	set(&cfg, "auth", "mode", "remote_user");
	set(&cfg, "server", "listen", "/nonexistent/taskapi.sock");
	snprintf(pid, sizeof pid, "%ld", (long)getpid());
	setenv("LISTEN_PID", pid, 1);
	setenv("LISTEN_FDS", "1", 1);
	/*
	 * check keeps its messages to the runner on fd 3: no assertion until it is
	 * back (each one writes there).
	 */
	saved = dup(3);
	dup2(fd, 3);
	close(fd);
	taken = listener_take(&l, &cfg, err, sizeof err);
	rc = taken == 3 ? auth_socket_check(&cfg, l.fd, err, sizeof err) : 0;
	listener_close(&l);
	dup2(saved, 3);
	close(saved);
	ck_assert_msg(taken == 3, "%s", err);
	ck_assert_int_eq(rc, -1);
	ck_assert_msg(strstr(err, "127.0.0.1:") != NULL, "%s", err);
	config_release(&cfg);
}
END_TEST

/* --check-config's view: the listener server.listen would make, nothing opened. */
START_TEST(test_preview)
{
	struct config cfg;
	struct auth_socket_facts f;
	char err[512], why[768];

	config_init(&cfg);
	set(&cfg, "server", "listen", "127.0.0.1:9000");
	ck_assert_msg(auth_socket_preview(&cfg, &f, err, sizeof err) == 0, "%s", err);
	ck_assert_int_ne(f.family, AF_UNIX);
	ck_assert_int_eq(judge(&f, why, sizeof why), -1);
	ck_assert_msg(strstr(why, "127.0.0.1:9000") != NULL, "%s", why);

	set(&cfg, "server", "listen", "/run/taskapi/taskapi.sock");
	set(&cfg, "server", "socket_mode", "0600");
	ck_assert_msg(auth_socket_preview(&cfg, &f, err, sizeof err) == 0, "%s", err);
	ck_assert(f.family == AF_UNIX && f.has_file);
	ck_assert_uint_eq(f.mode, 0600);
	ck_assert_uint_eq(f.uid, geteuid());
	if (geteuid() != 65534)
		ck_assert_msg(judge(&f, why, sizeof why) == 0, "%s", why);
	set(&cfg, "server", "socket_mode", "0666");
	ck_assert_msg(auth_socket_preview(&cfg, &f, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(judge(&f, why, sizeof why), -1);
	if (getgrnam("www-data") != NULL) {
		set(&cfg, "server", "socket_mode", "0660");
		set(&cfg, "server", "socket_group", "www-data");
		ck_assert_msg(auth_socket_preview(&cfg, &f, err, sizeof err) == 0, "%s", err);
		ck_assert_str_eq(f.group, "www-data");
		ck_assert_int_eq(judge(&f, why, sizeof why), -1);
	}
	set(&cfg, "server", "socket_group", "no-such-group-here");
	ck_assert_int_eq(auth_socket_preview(&cfg, &f, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "no-such-group-here") != NULL, "%s", err);
	config_release(&cfg);
}
END_TEST

Suite *unit_suite(void)
{
	return unit_suite_of("auth_socket", NULL, remove_dir,
			     test_network_and_fileless_sockets_are_refused, test_socket_file_modes,
			     test_shared_groups, test_owner_nobody, test_inspect_tcp,
			     test_inspect_unix_file, test_inspect_abstract, test_group_accounts,
			     test_check_by_mode, test_check_handed_over_socket, test_preview);
}
