/*
 * Unit tests for xalloc.c: the allocators never return NULL, sizes that wrap and
 * failed allocations take the out-of-memory exit (abort), and jansson allocates
 * through xmalloc after xalloc_init().
 */
#include <jansson.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"
#include "unit.h"

/*
 * Under ASan, malloc(SIZE_MAX) is a report and an exit of its own unless the
 * allocator may return NULL: this lets xalloc's own exit run there too. (ASan reads
 * this hook; other builds never call it.)
 */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "allocator_may_return_null=1";
}

START_TEST(test_allocations)
{
	char *p = xmalloc(0); /* a size of 0 still gives a pointer to free */
	int *z = xcalloc(4, sizeof *z);
	char *s = xstrdup("taskapi");
	char *n = xstrndup("taskapi", 4);

	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(z[0] | z[1] | z[2] | z[3], 0);
	ck_assert_str_eq(s, "taskapi");
	ck_assert_str_eq(n, "task");
	p = xrealloc(p, 100);
	memset(p, 1, 100);
	free(p);
	free(z);
	free(s);
	free(n);
	p = xcalloc(0, 0);
	ck_assert_ptr_nonnull(p);
	free(p);
}
END_TEST

START_TEST(test_sizes)
{
	ck_assert_uint_eq(xsize_add(2, 3), 5);
	ck_assert_uint_eq(xsize_add(SIZE_MAX - 1, 1), SIZE_MAX);
	ck_assert_uint_eq(xsize_mul(6, 7), 42);
	ck_assert_uint_eq(xsize_mul(SIZE_MAX, 0), 0);
}
END_TEST

START_TEST(test_add_that_wraps_aborts)
{
	xsize_add(SIZE_MAX, 1);
}
END_TEST

START_TEST(test_mul_that_wraps_aborts)
{
	xsize_mul(SIZE_MAX / 2 + 1, 2);
}
END_TEST

START_TEST(test_out_of_memory_aborts)
{
	free(xmalloc(SIZE_MAX));
}
END_TEST

START_TEST(test_jansson_uses_the_policy)
{
	json_malloc_t m = NULL;
	json_free_t f = NULL;
	json_t *j;

	xalloc_init();
	json_get_alloc_funcs(&m, &f);
	ck_assert_ptr_eq((void *)m, (void *)xmalloc);
	ck_assert_ptr_eq((void *)f, (void *)free);
	j = json_pack("{s:i}", "a", 1);
	ck_assert_ptr_nonnull(j);
	json_decref(j);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("xalloc");
	TCase *tc = unit_tcase(s, "core");

	unit_add_tests(tc, test_allocations, test_sizes);
	tcase_add_test_raise_signal(tc, test_add_that_wraps_aborts, SIGABRT);
	tcase_add_test_raise_signal(tc, test_mul_that_wraps_aborts, SIGABRT);
	tcase_add_test_raise_signal(tc, test_out_of_memory_aborts, SIGABRT);
	tcase_add_test(tc, test_jansson_uses_the_policy);
	return s;
}
