/*
 * unit_main.c — the main() of every unit test program: runs the suite its test file
 * builds (unit.h) and exits non-zero when a check failed. CK_VERBOSITY chooses how
 * much check prints (Makefile.am sets "normal"; "verbose" names every test).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"

int unit_argc;
char **unit_argv;

TCase *unit_tcase(Suite *s, const char *name)
{
	TCase *tc = tcase_create(name);

	suite_add_tcase(s, tc);
	return tc;
}

void unit_add(TCase *tc, const TTest *const *tests, size_t n)
{
	for (size_t i = 0; i < n; i++)
		tcase_add_test(tc, tests[i]);
}

Suite *unit_core_suite(const char *name, SFun setup, SFun teardown,
		       const TTest *const *tests, size_t n)
{
	Suite *s = suite_create(name);
	TCase *tc = unit_tcase(s, "core");

	/* check would run a NULL pair as a fixture of nothing: leave it out instead. */
	if (setup != NULL || teardown != NULL)
		tcase_add_checked_fixture(tc, setup, teardown);
	unit_add(tc, tests, n);
	return s;
}

void unit_dir_make(char *dir, const char *tag)
{
	snprintf(dir, UNIT_DIR_SIZE, "/tmp/taskapi-%s-XXXXXX", tag);
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

void unit_dir_remove(const char *dir)
{
	char path[512];
	DIR *d;
	struct dirent *e;

	if (dir[0] == '\0' || (d = opendir(dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

int main(int argc, char **argv)
{
	SRunner *sr;
	int failed;

	unit_argc = argc;
	unit_argv = argv;
	sr = srunner_create(unit_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
