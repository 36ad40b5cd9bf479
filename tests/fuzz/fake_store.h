#ifndef TASKAPI_FAKE_STORE_H
#define TASKAPI_FAKE_STORE_H

#include <stdint.h>

/*
 * An in-memory task store for the fuzz harnesses: fake_store.c defines every
 * function of task_store.h, db_pool.h and db_cluster.h (and the two error
 * getters of db_conn.h that app.c calls), so a harness linked with it before
 * libtaskapi.a never pulls task_store.o, db_pool.o or db_cluster.o from the
 * archive and needs no database. It behaves as MariaDB would for what taskapi sends
 * (ids from 1, versions bumped by every update, a too-long or invalid string
 * refused as an error, which answers 500), and fails on demand the way a
 * database that is down or busy does, which answers 503.
 */

enum fake_fail {
	FAKE_FAIL_NONE = 0,
	FAKE_FAIL_ACQUIRE_TIMEOUT, /* db_pool_acquire: DB_POOL_TIMEOUT */
	FAKE_FAIL_CONNECT,         /* db_pool_acquire: DB_CONNECT_FAILED */
	FAKE_FAIL_UNAVAILABLE,     /* every store call after a successful acquire: STORE_UNAVAILABLE */
	FAKE_FAIL_SCHEMA_OLD,      /* task_store_schema_version answers 1 (/readyz: 503) */
	FAKE_FAIL_MODES
};

/* Empties the store, then adds n tasks (ids 1..n, versions 1..n); fails as told from now on. */
void fake_store_reset(unsigned n, enum fake_fail fail);

/* Connections borrowed and not given back. */
unsigned fake_store_in_use(void);

#endif
