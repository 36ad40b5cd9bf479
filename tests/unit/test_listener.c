/*
 * Unit tests for listener.c and privileges.c: the systemd hand-off (LISTEN_PID,
 * LISTEN_FDS, consumed), fd 0, own unix sockets (mode, stale and live files,
 * removal of only what was made), TCP address forms, user and group lookups and
 * the root rules. Each test runs in its own process (CK_FORK), so fds, the
 * environment and dropped privileges do not leak into the next.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "listener.h"
#include "privileges.h"
#include "unit.h"

static char dir[UNIT_DIR_SIZE];

static void make_dir(void)
{
	unit_dir_make(dir, "listener");
}

static const char *in_dir(const char *name)
{
	static char path[512];

	snprintf(path, sizeof path, "%s/%s", dir, name);
	return path;
}

/* Checked fixture: the test's folder goes, whatever the test left in it. */
static void remove_dir(void)
{
	unit_dir_remove(dir);
}

static void set(struct config *cfg, const char *section, const char *key, const char *value)
{
	char err[CONFIG_ERR_SIZE];

	ck_assert_msg(config_set(cfg, section, key, value, err, sizeof err) == 0, "%s", err);
}

/* A listening unix socket at path (bound, not made by listener.c). */
static int unix_listener(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&addr, sizeof addr), 0);
	ck_assert_int_eq(listen(fd, 4), 0);
	return fd;
}

static void put_on(int fd, int target)
{
	ck_assert_int_eq(dup2(fd, target), target);
	close(fd);
}

START_TEST(test_systemd_socket_is_taken_and_consumed)
{
	struct config cfg;
	struct listener l;
	char err[256], pid[32];
	int fd;

	make_dir();
	put_on(unix_listener(in_dir("activated.sock")), 3);
	snprintf(pid, sizeof pid, "%d", (int)getpid());
	setenv("LISTEN_PID", pid, 1);
	setenv("LISTEN_FDS", "1", 1);
	setenv("LISTEN_FDNAMES", "taskapi.socket", 1);
	config_init(&cfg);
	set(&cfg, "server", "listen", in_dir("own.sock"));
	ck_assert_msg(listener_inherited(), "a socket from systemd counts as inherited");
	fd = listener_take(&l, &cfg, err, sizeof err);
	ck_assert_msg(fd == 3 && l.fd == 3, "%s", err);
	ck_assert_ptr_null(getenv("LISTEN_PID"));
	ck_assert_ptr_null(getenv("LISTEN_FDS"));
	ck_assert_ptr_null(getenv("LISTEN_FDNAMES"));
	ck_assert_int_eq(fcntl(3, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	ck_assert_int_ne(access(in_dir("own.sock"), F_OK), 0); /* server.listen not created */
	listener_close(&l);
	ck_assert_int_eq(l.fd, -1);
	ck_assert_int_eq(access(in_dir("activated.sock"), F_OK), 0); /* systemd's file stays */
	config_release(&cfg);
}
END_TEST

START_TEST(test_systemd_variables_of_another_process_are_ignored)
{
	struct config cfg;
	struct listener l;
	char err[256], pid[32];
	int fd;

	make_dir();
	put_on(unix_listener(in_dir("activated.sock")), 3);
	snprintf(pid, sizeof pid, "%d", (int)getpid() + 1);
	setenv("LISTEN_PID", pid, 1);
	setenv("LISTEN_FDS", "1", 1);
	config_init(&cfg);
	set(&cfg, "server", "listen", in_dir("own.sock"));
	fd = listener_take(&l, &cfg, err, sizeof err);
	ck_assert_msg(fd >= 0 && fd != 3, "%s", err);
	ck_assert_ptr_null(getenv("LISTEN_FDS")); /* unset either way: children must not see them */
	ck_assert_int_eq(access(in_dir("own.sock"), F_OK), 0);
	listener_close(&l);
	config_release(&cfg);
}
END_TEST

START_TEST(test_systemd_mistakes_are_refused)
{
	struct config cfg;
	struct listener l;
	char err[256], pid[32];

	make_dir();
	snprintf(pid, sizeof pid, "%d", (int)getpid());
	config_init(&cfg);
	set(&cfg, "server", "listen", in_dir("own.sock"));

	setenv("LISTEN_PID", "12abc", 1);
	setenv("LISTEN_FDS", "1", 1);
	ck_assert_int_eq(listener_take(&l, &cfg, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "malformed"));

	setenv("LISTEN_PID", pid, 1);
	setenv("LISTEN_FDS", "2", 1);
	ck_assert_int_eq(listener_take(&l, &cfg, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "exactly one"));

	put_on(open("/dev/null", O_RDONLY), 3);
	setenv("LISTEN_PID", pid, 1);
	setenv("LISTEN_FDS", "1", 1);
	ck_assert_int_eq(listener_take(&l, &cfg, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "not a listening stream socket"));
	config_release(&cfg);
}
END_TEST

START_TEST(test_fd0_listener_wins_over_server_listen)
{
	struct config cfg;
	struct listener l;
	char err[256];

	make_dir();
	put_on(unix_listener(in_dir("spawned.sock")), STDIN_FILENO);
	config_init(&cfg);
	set(&cfg, "server", "listen", in_dir("own.sock"));
	ck_assert(listener_inherited());
	ck_assert_int_eq(listener_take(&l, &cfg, err, sizeof err), STDIN_FILENO);
	ck_assert_int_ne(access(in_dir("own.sock"), F_OK), 0);
	config_release(&cfg);
}
END_TEST

START_TEST(test_no_listener_at_all)
{
	struct config cfg;
	struct listener l;
	char err[256];

	put_on(open("/dev/null", O_RDONLY), STDIN_FILENO);
	config_init(&cfg);
	ck_assert(!listener_inherited());
	ck_assert_int_eq(listener_take(&l, &cfg, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "server.listen is empty"));
	config_release(&cfg);
}
END_TEST

START_TEST(test_unix_socket_mode_and_removal)
{
	struct config cfg;
	struct listener l, again;
	struct stat st;
	char err[256];
	const char *path;
	int fd;

	make_dir();
	path = in_dir("own.sock");
	config_init(&cfg);
	set(&cfg, "server", "listen", path);
	set(&cfg, "server", "socket_mode", "0640");
	fd = listener_take(&l, &cfg, err, sizeof err);
	ck_assert_msg(fd >= 0, "%s", err);
	ck_assert(listener_is_listening(fd));
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_int_eq(st.st_mode & 07777, 0640);
	/* A live socket is never taken over... */
	ck_assert_int_eq(listener_bind(&again, &cfg, path, 4, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "in use"));
	/* ...and its own file is removed at close. */
	listener_close(&l);
	ck_assert_int_ne(access(path, F_OK), 0);
	listener_close(&l); /* twice: nothing more happens */
	config_release(&cfg);
}
END_TEST

START_TEST(test_unix_socket_files_not_ours)
{
	struct config cfg;
	struct listener l;
	char err[256];
	const char *path;
	int fd, stale;

	make_dir();
	path = in_dir("own.sock");
	config_init(&cfg);
	set(&cfg, "server", "listen", path);

	/* A stale socket (nobody listens) is replaced. */
	stale = unix_listener(path);
	close(stale);
	fd = listener_take(&l, &cfg, err, sizeof err);
	ck_assert_msg(fd >= 0, "%s", err);
	/* A file that replaced ours is left alone at close. */
	ck_assert_int_eq(unlink(path), 0);
	close(open(path, O_CREAT | O_WRONLY, 0600));
	listener_close(&l);
	ck_assert_int_eq(access(path, F_OK), 0);
	/* A regular file in the way is refused, not removed. */
	ck_assert_int_eq(listener_take(&l, &cfg, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "is not a socket"));
	ck_assert_int_eq(access(path, F_OK), 0);
	config_release(&cfg);
}
END_TEST

START_TEST(test_tcp_address_forms)
{
	static const char *const good[] = { "127.0.0.1:0", "[::1]:0", "localhost:0" };
	static const char *const bad[] = { "nonsense", "127.0.0.1:", "[::1]9000", "[::1:9000" };
	struct config cfg;
	struct listener l;
	char err[256];
	int fd;

	config_init(&cfg);
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		set(&cfg, "server", "listen", good[i]);
		fd = listener_take(&l, &cfg, err, sizeof err);
		ck_assert_msg(fd >= 0, "%s: %s", good[i], err);
		ck_assert(listener_is_listening(fd));
		listener_close(&l);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		set(&cfg, "server", "listen", bad[i]);
		ck_assert_msg(listener_take(&l, &cfg, err, sizeof err) == -1, "%s accepted", bad[i]);
		ck_assert_msg(strstr(err, "invalid listen address") != NULL, "%s: %s", bad[i], err);
	}
	config_release(&cfg);
}
END_TEST

/*
 * listener_bind opens its own address even when fd 0 and systemd's fd 3 are
 * listeners: the admin socket must never take the FastCGI listener that
 * spawn-fcgi, mod_fcgid or systemd handed over.
 */
START_TEST(test_bind_never_takes_a_passed_socket)
{
	struct config cfg;
	struct listener fcgi, admin;
	char err[256], pid[32];
	int fd;

	make_dir();
	put_on(unix_listener(in_dir("spawned.sock")), STDIN_FILENO);
	config_init(&cfg);
	ck_assert_int_eq(listener_take(&fcgi, &cfg, err, sizeof err), STDIN_FILENO);
	fd = listener_bind(&admin, &cfg, in_dir("admin.sock"), 8, err, sizeof err);
	ck_assert_msg(fd > STDIN_FILENO && fd != 3, "%s (fd %d)", err, fd);
	ck_assert_int_eq(access(in_dir("admin.sock"), F_OK), 0);
	listener_close(&admin);
	ck_assert_int_ne(access(in_dir("admin.sock"), F_OK), 0);

	/* The same with a socket from systemd whose variables are still set. */
	put_on(unix_listener(in_dir("activated.sock")), 3);
	snprintf(pid, sizeof pid, "%d", (int)getpid());
	setenv("LISTEN_PID", pid, 1);
	setenv("LISTEN_FDS", "1", 1);
	fd = listener_bind(&admin, &cfg, "127.0.0.1:0", 8, err, sizeof err);
	ck_assert_msg(fd >= 0 && fd != 3 && fd != STDIN_FILENO, "%s (fd %d)", err, fd);
	ck_assert_str_eq(getenv("LISTEN_FDS"), "1"); /* not consumed: not its business */
	listener_close(&admin);
	listener_close(&fcgi);
	ck_assert_int_eq(access(in_dir("spawned.sock"), F_OK), 0); /* the spawner's file stays */
	config_release(&cfg);
}
END_TEST

/* Two unix sockets of our own (FastCGI and admin): each close removes its own file. */
START_TEST(test_each_listener_removes_its_own_file)
{
	struct config cfg;
	struct listener fcgi, admin;
	char err[256];

	make_dir();
	put_on(open("/dev/null", O_RDONLY), STDIN_FILENO);
	config_init(&cfg);
	set(&cfg, "server", "listen", in_dir("fcgi.sock"));
	ck_assert_msg(listener_take(&fcgi, &cfg, err, sizeof err) >= 0, "%s", err);
	ck_assert_msg(listener_bind(&admin, &cfg, in_dir("admin.sock"), 8, err, sizeof err) >= 0, "%s", err);
	listener_close(&fcgi);
	ck_assert_msg(access(in_dir("fcgi.sock"), F_OK) != 0, "the FastCGI socket file is left behind");
	ck_assert_int_eq(access(in_dir("admin.sock"), F_OK), 0);
	listener_close(&admin);
	ck_assert_msg(access(in_dir("admin.sock"), F_OK) != 0, "the admin socket file is left behind");
	config_release(&cfg);
}
END_TEST

/* A forked child that closes its copy leaves the file to the process that made it. */
START_TEST(test_forget_and_other_process_keep_the_file)
{
	struct config cfg;
	struct listener l, copy;
	char err[256];
	pid_t child;
	int status;

	make_dir();
	config_init(&cfg);
	ck_assert_msg(listener_bind(&l, &cfg, in_dir("own.sock"), 8, err, sizeof err) >= 0, "%s", err);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		copy = l;
		listener_close(&copy); /* not the process that bound it: the file stays */
		_exit(0);
	}
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	ck_assert_int_eq(access(in_dir("own.sock"), F_OK), 0);
	copy = l;
	copy.fd = dup(l.fd);
	listener_forget(&copy);
	ck_assert_int_eq(access(in_dir("own.sock"), F_OK), 0);
	listener_close(&l);
	ck_assert_int_ne(access(in_dir("own.sock"), F_OK), 0);
	config_release(&cfg);
}
END_TEST

START_TEST(test_lookups)
{
	uid_t uid;
	gid_t gid;
	char err[256];

	ck_assert_int_eq(privileges_lookup_user("root", &uid, &gid, err, sizeof err), 0);
	ck_assert(uid == 0 && gid == 0);
	ck_assert_int_eq(privileges_lookup_user("4242424", &uid, &gid, err, sizeof err), 0);
	ck_assert(uid == 4242424 && gid == (gid_t)-1);
	ck_assert_int_eq(privileges_lookup_user("no-such-user-x", &uid, &gid, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "unknown user 'no-such-user-x'"));
	ck_assert_int_eq(privileges_lookup_group("root", &gid, err, sizeof err), 0);
	ck_assert(gid == 0);
	ck_assert_int_eq(privileges_lookup_group("77", &gid, err, sizeof err), 0);
	ck_assert(gid == 77);
	ck_assert_int_eq(privileges_lookup_group("no-such-group-x", &gid, err, sizeof err), -1);
}
END_TEST

START_TEST(test_root_rules)
{
	struct config cfg;
	char err[512];

	config_init(&cfg);
	set(&cfg, "server", "group", "root");
	ck_assert_int_eq(privileges_check(&cfg, err, sizeof err), -1); /* group without user */
	set(&cfg, "server", "group", "");
	set(&cfg, "server", "user", "root");
	ck_assert_int_eq(privileges_check(&cfg, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "must not be root"));
	set(&cfg, "server", "user", "");
	if (geteuid() == 0) {
		ck_assert_int_eq(privileges_check(&cfg, err, sizeof err), -1);
		ck_assert_ptr_nonnull(strstr(err, "refusing to run as root"));
		set(&cfg, "server", "allow_root", "true");
		ck_assert_int_eq(privileges_check(&cfg, err, sizeof err), 0);
	} else {
		ck_assert_int_eq(privileges_check(&cfg, err, sizeof err), 0);
		ck_assert_int_eq(privileges_drop(&cfg, err, sizeof err), 0); /* nothing to do */
	}
	config_release(&cfg);
}
END_TEST

START_TEST(test_drop_to_nobody)
{
	struct config cfg;
	char err[512];
	uid_t uid;
	gid_t gid;

	if (geteuid() != 0 || privileges_lookup_user("nobody", &uid, &gid, err, sizeof err) < 0)
		return; /* needs root and a nobody account */
	config_init(&cfg);
	set(&cfg, "server", "user", "nobody");
	ck_assert_msg(privileges_check(&cfg, err, sizeof err) == 0, "%s", err);
	ck_assert_msg(privileges_drop(&cfg, err, sizeof err) == 0, "%s", err);
	ck_assert(getuid() == uid && geteuid() == uid && getgid() == gid && getegid() == gid);
	ck_assert_int_ne(setuid(0), 0);
	ck_assert_int_ne(seteuid(0), 0);
	config_release(&cfg);
}
END_TEST

Suite *unit_suite(void)
{
	return unit_suite_of("listener", NULL, remove_dir,
			     test_systemd_socket_is_taken_and_consumed,
			     test_systemd_variables_of_another_process_are_ignored,
			     test_systemd_mistakes_are_refused,
			     test_fd0_listener_wins_over_server_listen,
			     test_no_listener_at_all, test_unix_socket_mode_and_removal,
			     test_unix_socket_files_not_ours, test_tcp_address_forms,
			     test_bind_never_takes_a_passed_socket,
			     test_each_listener_removes_its_own_file,
			     test_forget_and_other_process_keep_the_file, test_lookups,
			     test_root_rules, test_drop_to_nobody);
}
