#ifndef TASKAPI_CLOCK_H
#define TASKAPI_CLOCK_H

#include <time.h>

/*
 * The one clock every module measures with: CLOCK_MONOTONIC, which never
 * jumps with the wall clock (NTP, an operator's date -s), so durations,
 * deadlines and back-offs stay right. Wall time is only for log stamps.
 */

/* Milliseconds on the monotonic clock (an arbitrary origin). */
long long clock_ms(void);

/* Nanoseconds on the monotonic clock. */
long long clock_ns(void);

/* Sleeps ms milliseconds, resuming after signals. */
void clock_sleep_ms(unsigned ms);

/*
 * *ts = now + ms on the monotonic clock, normalised: an absolute deadline
 * for pthread_cond_timedwait on a condition made with CLOCK_MONOTONIC.
 */
void clock_deadline_after(struct timespec *ts, unsigned ms);

#endif
