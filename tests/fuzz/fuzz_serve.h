#ifndef TASKAPI_FUZZ_SERVE_H
#define TASKAPI_FUZZ_SERVE_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "log.h"

/*
 * One request through pipeline_serve for the harnesses that answer whole
 * requests (fuzz_app, fuzz_query): an in-memory front end like
 * tests/unit/test_pipeline.c's, the app with the in-memory store
 * (fake_store.h), the access log in a file of its own that is read back
 * after every request and checked (one line; JSON that parses in the JSON
 * format, printable ASCII in the text one).
 */

/* Once per process: configuration, log files. max_body_bytes caps request bodies. */
void fuzz_serve_init(long max_body_bytes);

struct fuzz_answer {
	const char *out; /* the serialized answer; valid until the next fuzz_serve */
	size_t len;
	int flags;       /* pipeline_serve's PIPELINE_* flags */
	int status;      /* the pipeline's response status */
	bool head;       /* the request was a HEAD */
};

/*
 * Serves the request whose params are envp ("NAME=value", NULL-terminated)
 * and whose body is body[0..body_len), through the envp or the per-name
 * param path, with the access log in format. Checks the access line.
 */
void fuzz_serve(char *const *envp, const char *body, size_t body_len, bool use_envp,
		enum log_format format, struct fuzz_answer *answer);

#endif
