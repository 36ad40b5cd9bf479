/*
 * Unit tests for proctitle.c: the title goes over a fake argv + environment
 * area laid out as the kernel does (strings end to end), the environment
 * keeps working from its copy, and main() keeps an intact copy of argv. The
 * real /proc/self/cmdline is checked once, with this program's own argv.
 * Each test runs in its own process (CK_FORK): the module's state is
 * per process.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proctitle.h"
#include "unit.h"

extern char **environ;

/* One block holding "taskapi\0-c\0/etc/t.ini\0" then "A=1\0PATH=/bin\0", like a process's stack. */
static char area[64];
static char *fake_argv[4];
static char *fake_env[3];

static void lay_out(void)
{
	static const char *const args[] = { "taskapi", "-c", "/etc/t.ini" };
	static const char *const env[] = { "A=1", "PATH=/bin" };
	char *p = area;

	memset(area, 'x', sizeof area); /* what follows the area must never be written */
	for (int i = 0; i < 3; i++) {
		fake_argv[i] = p;
		p = stpcpy(p, args[i]) + 1;
	}
	fake_argv[3] = NULL;
	for (int i = 0; i < 2; i++) {
		fake_env[i] = p;
		p = stpcpy(p, env[i]) + 1;
	}
	fake_env[2] = NULL;
	environ = fake_env;
}

/* Bytes of the area in use: argv (8 + 3 + 11) and the environment (4 + 10). */
#define AREA_USED 36

START_TEST(test_copies_argv_and_environment)
{
	char **argv;

	lay_out();
	argv = proctitle_init(3, fake_argv);
	ck_assert_ptr_ne(argv, fake_argv);
	ck_assert_str_eq(argv[0], "taskapi");
	ck_assert_str_eq(argv[2], "/etc/t.ini");
	ck_assert_ptr_null(argv[3]);
	ck_assert_str_eq(proctitle_command_line(), "taskapi -c /etc/t.ini");
	ck_assert_uint_eq(proctitle_room(), AREA_USED - 1);
	proctitle_set("taskapi: worker process (generation %u)", 7u);
	/* main()'s copy and the environment are intact... */
	ck_assert_str_eq(argv[2], "/etc/t.ini");
	ck_assert_ptr_ne(environ, fake_env);
	ck_assert_str_eq(getenv("PATH"), "/bin");
	ck_assert_str_eq(getenv("A"), "1");
	/* listener.c unsets LISTEN_*: the copied string must stay owned (LSan would say) */
	ck_assert_int_eq(unsetenv("A"), 0);
	ck_assert_ptr_null(getenv("A"));
	ck_assert_int_eq(setenv("B", "2", 1), 0);
	ck_assert_str_eq(getenv("B"), "2");
	/* ...while the old memory holds the title, padded with NULs. */
	/* Cut to the room there is: 35 of its 38 bytes. */
	ck_assert_int_eq(strncmp(area, "taskapi: worker process (generation 7)", AREA_USED - 1), 0);
	ck_assert_int_eq(area[AREA_USED - 1], '\0');
	ck_assert_int_eq(area[AREA_USED], 'x');
}
END_TEST

START_TEST(test_short_title_clears_the_rest)
{
	lay_out();
	proctitle_init(3, fake_argv);
	proctitle_set("taskapi: admin process");
	ck_assert_str_eq(area, "taskapi: admin process");
	for (size_t i = strlen("taskapi: admin process"); i < AREA_USED; i++)
		ck_assert_msg(area[i] == '\0', "byte %zu is '%c', not NUL", i, area[i]);
	ck_assert_int_eq(area[AREA_USED], 'x');
}
END_TEST

START_TEST(test_title_with_command_only_when_whole)
{
	lay_out();
	proctitle_init(3, fake_argv);
	/* "taskapi: m " + 21 bytes of command line fit in 35... */
	ck_assert_int_eq(proctitle_set_with_command("taskapi: m"), 0);
	ck_assert_str_eq(area, "taskapi: m taskapi -c /etc/t.ini");
	/* ...a longer prefix does not: the title stays as it was. */
	ck_assert_int_eq(proctitle_set_with_command("taskapi: master process"), -1);
	ck_assert_str_eq(area, "taskapi: m taskapi -c /etc/t.ini");
}
END_TEST

START_TEST(test_environment_not_contiguous)
{
	static char env_elsewhere[] = "C=3";
	char *env[] = { env_elsewhere, NULL };

	lay_out();
	environ = env;
	proctitle_init(3, fake_argv);
	/* Only argv's own bytes are used; the environment is not overwritten. */
	ck_assert_uint_eq(proctitle_room(), 8 + 3 + 11 - 1);
	proctitle_set("a title longer than the argv area alone");
	ck_assert_int_eq(area[8 + 3 + 11 - 1], '\0');
	ck_assert_str_eq(env_elsewhere, "C=3");
	ck_assert_str_eq(getenv("C"), "3");
}
END_TEST

START_TEST(test_nothing_before_init)
{
	proctitle_set("ignored %d", 1);
	ck_assert_str_eq(proctitle_command_line(), "");
	ck_assert_uint_eq(proctitle_room(), 0);
	ck_assert_int_eq(proctitle_set_with_command("taskapi: master process"), -1);
}
END_TEST

/* What ps reads: /proc/self/cmdline, with this program's real argv. */
static size_t read_cmdline(char *buf, size_t size)
{
	int fd = open("/proc/self/cmdline", O_RDONLY);
	ssize_t n;

	ck_assert_int_ge(fd, 0);
	n = read(fd, buf, size - 1);
	close(fd);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	return (size_t)n;
}

START_TEST(test_proc_self_cmdline)
{
	char buf[4096], expect[4096];
	char **argv = proctitle_init(unit_argc, unit_argv);

	ck_assert_str_eq(argv[0], unit_argv[0] != NULL ? argv[0] : "");
	snprintf(expect, sizeof expect, "taskapi: master process %s", proctitle_command_line());
	if (proctitle_set_with_command("taskapi: master process") == 0) {
		read_cmdline(buf, sizeof buf);
		ck_assert_str_eq(buf, expect);
	}
	proctitle_set("taskapi: worker process (generation %u)", 2u);
	read_cmdline(buf, sizeof buf);
	ck_assert_str_eq(buf, "taskapi: worker process (generation 2)");
}
END_TEST

Suite *unit_suite(void)
{
	return unit_suite_of("proctitle", NULL, NULL, test_copies_argv_and_environment,
			     test_short_title_clears_the_rest,
			     test_title_with_command_only_when_whole,
			     test_environment_not_contiguous, test_nothing_before_init,
			     test_proc_self_cmdline);
}
