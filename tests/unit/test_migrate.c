/*
 * Unit tests for migrate.c's folder scan: an empty folder (no qsort on a NULL
 * list: UBSan's nonnull check catches it under --enable-asan), ordering by
 * version, names that are not migrations, duplicate versions, a missing folder.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "migrate.h"
#include "task_store.h"
#include "unit.h"

static char dir[UNIT_DIR_SIZE];

static void make_dir(void)
{
	unit_dir_make(dir, "migrate");
}

static void touch(const char *name)
{
	char path[256];

	snprintf(path, sizeof path, "%s/%s", dir, name);
	close(open(path, O_CREAT | O_WRONLY, 0600));
}

/* Checked fixture: the test's folder goes, whatever it holds. */
static void remove_dir(void)
{
	unit_dir_remove(dir);
}

START_TEST(test_empty_folder)
{
	struct migration *list = (struct migration *)1;
	size_t n = 99;
	char err[256];

	make_dir();
	ck_assert_int_eq(migrate_scan(dir, &list, &n, err, sizeof err), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(list);
	touch("README");
	touch("notes.sql");
	ck_assert_int_eq(migrate_scan(dir, &list, &n, err, sizeof err), 0);
	ck_assert_uint_eq(n, 0);
	free(list);
}
END_TEST

START_TEST(test_sorted_by_version)
{
	struct migration *list = NULL;
	size_t n = 0;
	char err[256];

	make_dir();
	touch("010_ten.sql");
	touch("002_two.sql");
	touch("001_one.sql");
	touch("000_zero.sql"); /* version 0 is not a migration */
	touch("003_three.txt");
	ck_assert_int_eq(migrate_scan(dir, &list, &n, err, sizeof err), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(list[0].version, 1);
	ck_assert_str_eq(list[0].name, "001_one.sql");
	ck_assert_uint_eq(list[1].version, 2);
	ck_assert_uint_eq(list[2].version, 10);
	free(list);
}
END_TEST

START_TEST(test_one_migration)
{
	struct migration *list = NULL;
	size_t n = 0;
	char err[256];

	make_dir();
	touch("001_only.sql");
	ck_assert_int_eq(migrate_scan(dir, &list, &n, err, sizeof err), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(list[0].name, "001_only.sql");
	free(list);
}
END_TEST

START_TEST(test_duplicate_version_and_missing_folder)
{
	struct migration *list = NULL;
	size_t n = 0;
	char err[256];

	make_dir();
	touch("001_a.sql");
	touch("1_b.sql");
	ck_assert_int_eq(migrate_scan(dir, &list, &n, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "share version 1"));
	ck_assert_ptr_null(list);
	ck_assert_int_eq(migrate_scan("/nonexistent/sql", &list, &n, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "cannot open migrations folder"));
}
END_TEST

/*
 * The version the server refuses to run below (task_store.h) is the newest file in
 * sql/: a new migration without the constant raised, or the other way round, fails
 * here. TASKAPI_SRCDIR (Makefile.am) names the source tree; the build may be apart.
 */
START_TEST(test_schema_version_is_the_last_migration)
{
	const char *top = getenv("TASKAPI_SRCDIR");
	struct migration *list = NULL;
	size_t n = 0;
	char err[256];
	char sql[4096];

	snprintf(sql, sizeof sql, "%s/sql", top != NULL ? top : ".");
	ck_assert_msg(migrate_scan(sql, &list, &n, err, sizeof err) == 0, "%s", err);
	ck_assert_uint_gt(n, 0);
	ck_assert_msg(list[n - 1].version == TASK_STORE_SCHEMA_VERSION,
		      "TASK_STORE_SCHEMA_VERSION is %u, the last file in %s is %s",
		      (unsigned)TASK_STORE_SCHEMA_VERSION, sql, list[n - 1].name);
	free(list);
}
END_TEST

Suite *unit_suite(void)
{
	return unit_suite_of("migrate", NULL, remove_dir, test_empty_folder,
			     test_sorted_by_version, test_one_migration,
			     test_duplicate_version_and_missing_folder,
			     test_schema_version_is_the_last_migration);
}
