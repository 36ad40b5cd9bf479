#ifndef TASKAPI_IDEM_KEY_H
#define TASKAPI_IDEM_KEY_H

#include <jansson.h>
#include <stddef.h>

/*
 * The Idempotency-Key header and the fingerprint of the request it names:
 * pure functions, no database, no HTTP state (idem.c runs the flow,
 * idem_store.c the SQL).
 */

/* The longest key taken, in bytes (the column is VARBINARY(255)). */
#define IDEM_KEY_MAX 255
/* SHA-256 */
#define IDEM_FINGERPRINT_SIZE 32

/*
 * Checks a key: 1 to IDEM_KEY_MAX visible ASCII characters (0x21-0x7E, the
 * VCHARs of RFC 9110 without spaces). Returns 0, or -1 with *why set to a
 * static message fit for a client.
 */
int idem_key_check(const char *key, const char **why);

/* What a request is, for its fingerprint. Every string is borrowed; NULL means absent. */
struct idem_request {
	const char *method;        /* "POST", "PATCH", "DELETE" */
	const char *target;        /* the route with its id and the query that matters: "/tasks/7?completed=true" */
	const json_t *body;        /* the parsed body, NULL when there was none */
	const char *if_match;
	const char *if_none_match;
};

/*
 * SHA-256 over every field of r, each with its presence and its length, so
 * that no two different requests share an input. The body counts in its
 * canonical form (keys sorted, compact), so the same JSON written with
 * other spaces or key order is the same request. Returns 0, or -1 when the
 * body cannot be serialised or hashing fails (out of memory).
 */
int idem_fingerprint(const struct idem_request *r, unsigned char out[IDEM_FINGERPRINT_SIZE]);

#endif
