/*
 * unit.h — the contract between the one main() (tests/unit/unit_main.c) and each
 * tests/unit/test_<module>.c. A test file builds its suite; unit_main.c runs it,
 * prints check's summary line and turns the failures into the exit status, so a
 * new test program is one file plus one name in Makefile.am's UNIT_TESTS.
 */
#ifndef TASKAPI_UNIT_H
#define TASKAPI_UNIT_H

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
 * A scratch folder for one test. unit_dir_make creates /tmp/taskapi-<tag>-XXXXXX
 * and writes its path into dir (UNIT_DIR_SIZE bytes), failing the test when it
 * cannot. unit_dir_remove removes the folder and the files in it, whatever the
 * test left (for a checked fixture's teardown); with dir empty it does nothing.
 */
#define UNIT_DIR_SIZE 64
void unit_dir_make(char *dir, const char *tag);
void unit_dir_remove(const char *dir);

#endif
