#ifndef TASKAPI_TRACE_H
#define TASKAPI_TRACE_H

#include <mysql.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * What one request did on its way through, for its log lines: the time it
 * waited for a database connection, the SQL statements it ran and the rows
 * they fetched. One trace per thread (a thread serves one request at a
 * time), reset by trace_begin; the pool and the store add to it without
 * knowing about requests. Nothing here locks or allocates.
 *
 * With SQL echo on (log.sql_echo, SQLAlchemy's echo=True), every statement
 * is also logged at info level with its bound parameters.
 */

#define TRACE_MAX_STMTS 16

struct trace {
	const char *request_id;            /* borrowed or generated; for the log lines */
	long long pool_wait_ns;            /* total time in db_pool_acquire */
	unsigned acquires;                 /* db_pool_acquire calls */
	unsigned n_stmts;                  /* statements run (may exceed TRACE_MAX_STMTS) */
	const char *stmts[TRACE_MAX_STMTS];/* their names, borrowed (static strings) */
	unsigned long long rows;           /* rows fetched */
};

/* Turns SQL echo on or off; set before threads start. */
void trace_set_sql_echo(bool on);
bool trace_sql_echo(void);

/*
 * Starts the calling thread's trace for a new request. request_id is
 * borrowed; when it is NULL or empty a fresh one is made (trace_new_request_id),
 * so trace_current()->request_id is never NULL afterwards.
 */
void trace_begin(const char *request_id);
/* The calling thread's trace. */
const struct trace *trace_current(void);


/* Adds one acquire that waited ns nanoseconds. */
void trace_pool_wait(long long ns);

/*
 * Records that statement name (a static string) is about to run, and echoes
 * sql with the n bound params when SQL echo is on. params may be NULL.
 */
void trace_sql(const char *name, const char *sql, const MYSQL_BIND *params, unsigned n);

/* Adds rows fetched by the last statement. */
void trace_rows(unsigned long long n);

/*
 * Appends a readable rendering of the bound parameters to out (at most
 * outlen bytes, NUL-terminated): (42, 'title', NULL, 2026-11-25 12:00:00).
 * Strings longer than 100 bytes are cut, with "..." after the quote.
 */
void trace_format_params(const MYSQL_BIND *params, unsigned n, char *out, size_t outlen);

/* A request id: 32 hex digits (like nginx's $request_id) and the NUL. */
#define TRACE_REQUEST_ID_SIZE 33

/* A fresh random request id into out. */
void trace_new_request_id(char out[TRACE_REQUEST_ID_SIZE]);

#endif
