#ifndef TASKAPI_RNG_H
#define TASKAPI_RNG_H

#include <stdint.h>

/*
 * Fast non-cryptographic random numbers for jitter, back-off and request
 * ids: splitmix64 with one state per thread (no lock, no shared state),
 * seeded from getrandom(2) on a thread's first call. Never for secrets.
 */

/* 64 random bits. */
uint64_t rng_u64(void);

/* A number in [0, 1), with 53 random bits. */
double rng_unit(void);

#endif
