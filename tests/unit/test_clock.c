/*
 * Unit tests for clock.c. Only orderings and lower bounds: the machine is shared,
 * so a sleep may last any time longer than asked, never shorter.
 */
#include <time.h>

#include "clock.h"
#include "unit.h"

#define NS_PER_MS 1000000LL
#define NS_PER_S 1000000000LL

START_TEST(test_monotonic_and_consistent)
{
	long long ms0 = clock_ms(), ns0 = clock_ns();
	long long ms1, ns1;

	clock_sleep_ms(20);
	ms1 = clock_ms();
	ns1 = clock_ns();
	ck_assert_int_ge(ms1 - ms0, 20);
	ck_assert_int_ge(ns1 - ns0, 20 * NS_PER_MS);
	/* the same clock in two units */
	ck_assert_int_le(ns1 / NS_PER_MS - ms1, 1000);
	ck_assert_int_ge(ns1 / NS_PER_MS - ms1, 0);
	clock_sleep_ms(0);
}
END_TEST

START_TEST(test_deadline_is_normalised)
{
	struct timespec ts;
	long long before = clock_ns(), at;

	clock_deadline_after(&ts, 1500);
	ck_assert_int_ge(ts.tv_nsec, 0);
	ck_assert_int_lt(ts.tv_nsec, NS_PER_S);
	at = (long long)ts.tv_sec * NS_PER_S + ts.tv_nsec;
	ck_assert_int_ge(at - before, 1500 * NS_PER_MS);
	ck_assert_int_le(at - clock_ns(), 1500 * NS_PER_MS);
}
END_TEST

Suite *unit_suite(void)
{
	return unit_suite_of("clock", NULL, NULL, test_monotonic_and_consistent,
			     test_deadline_is_normalised);
}
