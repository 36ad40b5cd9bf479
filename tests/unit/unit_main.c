/*
 * unit_main.c — the main() of every unit test program: runs the suite its test file
 * builds (unit.h) and exits non-zero when a check failed. CK_VERBOSITY chooses how
 * much check prints (Makefile.am sets "normal"; "verbose" names every test).
 */
#include <stdlib.h>

#include "unit.h"

int unit_argc;
char **unit_argv;

TCase *unit_tcase(Suite *s, const char *name)
{
	TCase *tc = tcase_create(name);

	suite_add_tcase(s, tc);
	return tc;
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
