/*
 * unit.h — the contract between the one main() (tests/unit/unit_main.c) and each
 * tests/unit/test_<module>.c. A test file builds its suite; unit_main.c runs it,
 * prints check's summary line and turns the failures into the exit status, so a
 * new test program is one file plus one name in Makefile.am's UNIT_TESTS.
 */
#ifndef TASKAPI_UNIT_H
#define TASKAPI_UNIT_H

#include <stddef.h>

#include <check.h>

/*
 * Defined once per test program: returns a new suite, which the runner owns (it
 * is freed with the runner). May do the process-wide set-up the suite needs, and
 * register its undoing with atexit().
 */
Suite *unit_suite(void);

/* main()'s arguments, for tests that need the process's real argv (proctitle). */
extern int unit_argc;
extern char **unit_argv;

/* A new test case called name, already added to s: s owns it. */
TCase *unit_tcase(Suite *s, const char *name);

/*
 * Adds the n tests to tc in their order, each as tcase_add_test() would, so that a
 * suite lists its tests once rather than one call a test. Tests that expect a
 * signal or an exit status still go through tcase_add_test_raise_signal() & co.
 */
void unit_add(TCase *tc, const TTest *const *tests, size_t n);

/* The tests as an array and its length, for unit_add and unit_core_suite. */
#define UNIT_TESTS(...)                                                           \
	(const TTest *const[]){ __VA_ARGS__ },                                    \
		sizeof((const TTest *const[]){ __VA_ARGS__ }) / sizeof(const TTest *)

/* unit_add_tests(tc, test_a, test_b, ...): START_TEST names are const TTest *. */
#define unit_add_tests(tc, ...) unit_add((tc), UNIT_TESTS(__VA_ARGS__))

/*
 * A new suite called name with one test case, "core", holding the n tests; setup
 * and teardown (either may be NULL) are the case's checked fixture, run in the
 * test's process around each test. The caller (the runner) owns the suite.
 */
Suite *unit_core_suite(const char *name, SFun setup, SFun teardown,
		       const TTest *const *tests, size_t n);

/* unit_suite_of("name", setup, teardown, test_a, test_b, ...) */
#define unit_suite_of(name, setup, teardown, ...)                                 \
	unit_core_suite((name), (setup), (teardown), UNIT_TESTS(__VA_ARGS__))

/*
 * A scratch folder for one test. unit_dir_make creates /tmp/taskapi-<tag>-XXXXXX
 * and writes its path into dir (UNIT_DIR_SIZE bytes), failing the test when it
 * cannot. unit_dir_remove removes the folder and the files in it, whatever the
 * test left (for a checked fixture's teardown); with dir empty it does nothing.
 */
#define UNIT_DIR_SIZE 64
void unit_dir_make(char *dir, const char *tag);
void unit_dir_remove(const char *dir);

#endif
