/* Unit tests for rng.c: ranges, and that two threads and two calls differ. */
#include <pthread.h>
#include <stdint.h>

#include "rng.h"
#include "unit.h"

#define DRAWS 10000

START_TEST(test_unit_interval)
{
	double lo = 1, hi = 0;

	for (int i = 0; i < DRAWS; i++) {
		double u = rng_unit();

		ck_assert(u >= 0.0 && u < 1.0);
		lo = u < lo ? u : lo;
		hi = u > hi ? u : hi;
	}
	/* 10000 draws all in one half would be a broken generator, not bad luck */
	ck_assert(lo < 0.5 && hi >= 0.5);
}
END_TEST

START_TEST(test_bits_vary)
{
	uint64_t a = rng_u64(), b = rng_u64(), ors = 0, ands = UINT64_MAX;

	ck_assert(a != b);
	for (int i = 0; i < DRAWS; i++) {
		uint64_t v = rng_u64();

		ors |= v;
		ands &= v;
	}
	ck_assert(ors == UINT64_MAX); /* every bit seen set ... */
	ck_assert(ands == 0);          /* ... and clear */
}
END_TEST

static void *draw(void *out)
{
	*(uint64_t *)out = rng_u64();
	return NULL;
}

START_TEST(test_threads_seeded_apart)
{
	pthread_t t1, t2;
	uint64_t v1 = 0, v2 = 0;

	ck_assert_int_eq(pthread_create(&t1, NULL, draw, &v1), 0);
	ck_assert_int_eq(pthread_create(&t2, NULL, draw, &v2), 0);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	ck_assert(v1 != v2);
}
END_TEST

Suite *unit_suite(void)
{
	return unit_suite_of("rng", NULL, NULL, test_unit_interval, test_bits_vary,
			     test_threads_seeded_apart);
}
