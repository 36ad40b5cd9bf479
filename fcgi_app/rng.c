#include "rng.h"

#include <stdint.h>
#include <sys/random.h>
#include <sys/types.h>
#include <unistd.h>

#include "clock.h"

static __thread uint64_t state;

/* Without entropy (early boot), the clock, the pid and the thread's own address differ enough. */
static void seed(void)
{
	if (getrandom(&state, sizeof state, GRND_NONBLOCK) != (ssize_t)sizeof state)
		state = (uint64_t)clock_ns() ^ ((uint64_t)getpid() << 40) ^ (uint64_t)(uintptr_t)&state;
	state |= 1;
}

uint64_t rng_u64(void)
{
	uint64_t z;

	if (state == 0)
		seed();
	z = (state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

double rng_unit(void)
{
	return (double)(rng_u64() >> 11) / 9007199254740992.0; /* 2^53 */
}
