#ifndef TASKAPI_FCGI_SCAN_H
#define TASKAPI_FCGI_SCAN_H

#include <stddef.h>

/*
 * Checks the FastCGI records at the start of a connection's input before
 * libfcgi reads any of them: the intake peeks at the bytes waiting in the
 * socket and asks whether they hold one whole request that is safe to hand
 * to libfcgi. A pure function of the bytes and the limits: no I/O, no
 * allocation, no state between calls (the intake scans the whole waiting
 * prefix again when more arrives).
 *
 * A request, as nginx and Apache send it: BEGIN_REQUEST (role RESPONDER),
 * PARAMS records up to an empty one, STDIN records up to an empty one, every
 * record of version 1 and the same non-zero request id. Anything else
 * (management records, ABORT_REQUEST, DATA, another role, another id, a
 * second BEGIN_REQUEST, padding on BEGIN_REQUEST or on the empty record
 * that ends PARAMS) is rejected: libfcgi would answer some of them, silently
 * drop the connection on others, read that padding as a record header, and
 * no web server sends them.
 * Each name-value pair of the PARAMS stream is decoded: a pair whose
 * announced lengths run past the end of the stream, or past the limits, is
 * rejected before libfcgi allocates for it (its allocator aborts the process
 * on lengths near 2^31).
 */

struct fcgi_scan_limits {
	size_t max_params_bytes; /* content of all PARAMS records together */
	size_t max_body_bytes;   /* content of all STDIN records that must arrive (see FCGI_SCAN_BODY_CAP) */
	unsigned max_records;    /* records of one request, the empty ones included */
};

enum fcgi_scan_status {
	FCGI_SCAN_MORE = 0,  /* a valid beginning: wait for more bytes */
	FCGI_SCAN_COMPLETE,  /* one whole request, in the first request_bytes bytes */
	FCGI_SCAN_REJECT,    /* not a request taskapi serves: close the connection, say why */
};

/* In a COMPLETE result: the body is larger than max_body_bytes. */
#define FCGI_SCAN_BODY_CAP 1
/* In a MORE result: the params are whole and valid; only body records are awaited. */
#define FCGI_SCAN_PARAMS_DONE 2

struct fcgi_scan {
	size_t request_bytes; /* COMPLETE: how many bytes the request takes */
	size_t params_bytes;  /* PARAMS content seen so far */
	size_t body_bytes;    /* STDIN content seen so far */
	unsigned records;     /* records seen so far */
	long long content_length; /* CONTENT_LENGTH once the params ended; -1 when absent or not a number */
	int flags;            /* FCGI_SCAN_BODY_CAP (COMPLETE), FCGI_SCAN_PARAMS_DONE (MORE), or 0 */
	const char *reason;   /* REJECT: a static phrase for the log ("record version 2", ...) */
};

/*
 * Scans the len bytes at data (the connection's input from its start).
 * COMPLETE also when the body is larger than max_body_bytes: as soon as
 * the params end with a CONTENT_LENGTH over it, or max_body_bytes + 1 bytes
 * of the body are there, with FCGI_SCAN_BODY_CAP set and request_bytes
 * covering the records read so far, so that the request is answered 413
 * (and its connection closed) without waiting for the rest.
 */
enum fcgi_scan_status fcgi_scan(const unsigned char *data, size_t len,
				const struct fcgi_scan_limits *limits, struct fcgi_scan *out);

#endif
