/*
 * fuzz_fcgi_records: the bytes a FastCGI peer sends, through the record
 * check the intake runs first (fcgi_scan.h) and, when it says COMPLETE,
 * through libfcgi as the intake hands them over (FCGX_InitRequest on a
 * socket that cannot accept, ipcFd set, FCGX_Accept_r).
 *
 * Input: the connection's bytes from its start. Checked beyond "no crash":
 * - at start-up, the CVE-2025-23016 lengths (a name of 0x7ffffffe bytes; a
 *   name and a value of 0x40000000 each) are REJECTed;
 * - REJECT says why; COMPLETE covers request_bytes <= len with the counts
 *   within the limits, and its first request_bytes bytes scan to the same
 *   result; no prefix of them is REJECTed or COMPLETE without the body cap;
 *   a MORE input has no REJECTed prefix (the scan only ever waits for more
 *   or decides);
 * - scanned with tight limits and with loose ones: what the loose ones
 *   REJECT the tight ones REJECT too (or cut the body first), and what the
 *   tight ones find COMPLETE the loose ones find COMPLETE with the same size;
 * - in a COMPLETE request, every name-value pair of the params stream, as
 *   decoded here from the concatenated PARAMS content, lies within the
 *   stream and within max_params_bytes;
 * - libfcgi reads a COMPLETE request from those bytes alone (a
 *   non-blocking socket: needing one byte more is an error here, where the
 *   server would hang), without aborting: FCGX_Accept_r succeeds with one
 *   param per pair (and its FCGI_ROLE), and the body reads to its end with
 *   exactly body_bytes bytes (when cut: its first max_body_bytes + 1 bytes,
 *   all that the pipeline reads before it answers 413).
 */
#include <errno.h>
#include <fcgiapp.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fcgi_scan.h"
#include "fuzz_check.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct fcgi_scan_limits tight = { 512, 256, 16 };
static const struct fcgi_scan_limits loose = { 64 * 1024, 1024 * 1024, 4096 };

/* libfcgi's listen_sock, as in intake.c: a socket that cannot accept. */
static int dummy_fd = -1;

static const char *status_name(enum fcgi_scan_status s)
{
	return s == FCGI_SCAN_MORE ? "MORE" : s == FCGI_SCAN_COMPLETE ? "COMPLETE" : "REJECT";
}

static enum fcgi_scan_status scan(const uint8_t *data, size_t len, const struct fcgi_scan_limits *lim,
				  struct fcgi_scan *out)
{
	enum fcgi_scan_status s = fcgi_scan(data, len, lim, out);

	FUZZ_CHECK(s == FCGI_SCAN_MORE || s == FCGI_SCAN_COMPLETE || s == FCGI_SCAN_REJECT, "status %d", (int)s);
	if (s == FCGI_SCAN_REJECT)
		FUZZ_CHECK(out->reason != NULL && out->reason[0] != '\0', "a REJECT without a reason");
	if (s == FCGI_SCAN_COMPLETE) {
		FUZZ_CHECK(out->request_bytes > 0 && out->request_bytes <= len, "request_bytes %zu of %zu",
			   out->request_bytes, len);
		FUZZ_CHECK(out->params_bytes <= lim->max_params_bytes && out->records <= lim->max_records,
			   "COMPLETE past the caps: %zu params bytes, %u records", out->params_bytes, out->records);
		FUZZ_CHECK(out->flags == 0 || out->flags == FCGI_SCAN_BODY_CAP, "flags %d", out->flags);
		/* Over the cap: the body's bytes, or the CONTENT_LENGTH the params declare (then no body is awaited). */
		FUZZ_CHECK((out->flags == FCGI_SCAN_BODY_CAP) ==
				   (out->body_bytes > lim->max_body_bytes ||
				    out->content_length > (long long)lim->max_body_bytes),
			   "a body of %zu bytes, CONTENT_LENGTH %lld, with flags %d", out->body_bytes,
			   out->content_length, out->flags);
		if (out->flags == FCGI_SCAN_BODY_CAP && out->body_bytes <= lim->max_body_bytes)
			FUZZ_CHECK(out->body_bytes == 0, "a declared oversized body completes at the end of the params");
	}
	return s;
}

/* A few prefixes of data[0..len): never REJECTed when want_no_reject, else never COMPLETE. */
static void check_prefixes(const uint8_t *data, size_t len, const struct fcgi_scan_limits *lim, bool complete)
{
	size_t cuts[] = { 0, 1, 8, 9, 16, 24, len / 2, len > 8 ? len - 8 : 0, len - 1 };

	for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
		struct fcgi_scan out;
		enum fcgi_scan_status s;

		if (cuts[i] >= len)
			continue;
		s = scan(data, cuts[i], lim, &out);
		if (complete)
			FUZZ_CHECK(s == FCGI_SCAN_MORE || (s == FCGI_SCAN_COMPLETE && out.flags == FCGI_SCAN_BODY_CAP),
				   "a prefix of %zu bytes of a COMPLETE request of %zu: %s (%s)", cuts[i], len,
				   status_name(s), s == FCGI_SCAN_REJECT ? out.reason : "");
		else
			FUZZ_CHECK(s == FCGI_SCAN_MORE, "a prefix of %zu bytes of a MORE input of %zu: %s (%s)",
				   cuts[i], len, status_name(s), s == FCGI_SCAN_REJECT ? out.reason : "");
	}
}

/*
 * The PARAMS content of the COMPLETE request in data, concatenated, decoded
 * into pairs: every pair within the stream and the cap. Returns the pairs.
 */
static size_t check_pairs(const uint8_t *data, size_t len, const struct fcgi_scan_limits *lim)
{
	uint8_t *params = malloc(len + 1);
	size_t n = 0, at = 0, pairs = 0;

	FUZZ_CHECK(params != NULL, "out of memory");
	while (at + 8 <= len) {
		size_t content = (size_t)data[at + 4] << 8 | data[at + 5];
		size_t have = len - at - 8 < content ? len - at - 8 : content;

		if (data[at + 1] == 4) {
			memcpy(params + n, data + at + 8, have);
			n += have;
			if (content == 0)
				break; /* the end of the params; the body follows */
		}
		at += 8 + content + data[at + 6];
	}
	for (size_t p = 0; p < n;) {
		uint64_t lens[2];

		for (int k = 0; k < 2; k++) {
			FUZZ_CHECK(p < n, "a pair cut after its name length");
			if (params[p] & 0x80) {
				FUZZ_CHECK(p + 4 <= n, "a length field cut by the end of the params");
				lens[k] = (uint64_t)(params[p] & 0x7f) << 24 | (uint64_t)params[p + 1] << 16 |
					  (uint64_t)params[p + 2] << 8 | params[p + 3];
				p += 4;
			} else {
				lens[k] = params[p++];
			}
		}
		FUZZ_CHECK(lens[0] + lens[1] <= lim->max_params_bytes && p + lens[0] + lens[1] <= n,
			   "a pair of %llu + %llu bytes at %zu of %zu params bytes", (unsigned long long)lens[0],
			   (unsigned long long)lens[1], p, n);
		p += (size_t)(lens[0] + lens[1]);
		pairs++;
	}
	free(params);
	return pairs;
}

/* libfcgi reads the request from exactly these bytes, as the intake lets it. */
static void check_libfcgi(const uint8_t *data, const struct fcgi_scan *out, const struct fcgi_scan_limits *lim,
			  size_t pairs)
{
	FCGX_Request req;
	int sv[2];
	ssize_t sent;
	size_t params = 0, body = 0;
	char chunk[4096];
	int got = 0, rc;

	FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) == 0, "socketpair: %s",
		   strerror(errno));
	sent = send(sv[1], data, out->request_bytes, MSG_NOSIGNAL);
	if (sent != (ssize_t)out->request_bytes) { /* larger than the socket buffer: not this check's case */
		close(sv[0]);
		close(sv[1]);
		return;
	}
	FUZZ_CHECK(FCGX_InitRequest(&req, dummy_fd, 0) == 0, "FCGX_InitRequest");
	req.ipcFd = sv[0];
	req.keepConnection = 1;
	req.detached = 1;
	rc = FCGX_Accept_r(&req);
	FUZZ_CHECK(rc == 0, "libfcgi could not read a COMPLETE request of %zu bytes: %d", out->request_bytes, rc);
	/* Not every entry holds '=': a name with a NUL byte ends there as a C string. */
	for (char **e = req.envp; *e != NULL; e++)
		params++;
	FUZZ_CHECK(params == pairs + 1, "libfcgi read %zu params, the stream holds %zu pairs (and FCGI_ROLE)", params,
		   pairs);
	/*
	 * Over the cap, only max_body_bytes + 1 bytes are read, as
	 * request_read_body does: what follows them was never scanned, and
	 * libfcgi would parse it (management records included).
	 */
	/* A CONTENT_LENGTH over the cap is answered 413 without reading the body, as the pipeline does. */
	bool declared_over = out->flags == FCGI_SCAN_BODY_CAP && out->body_bytes <= lim->max_body_bytes;

	for (; !declared_over;) {
		size_t want = sizeof chunk;

		if (out->flags == FCGI_SCAN_BODY_CAP && lim->max_body_bytes + 1 - body < want)
			want = lim->max_body_bytes + 1 - body;
		if (want == 0 || (got = FCGX_GetStr(chunk, (int)want, req.in)) <= 0)
			break;
		body += (size_t)got;
	}
	if (declared_over) {
		FUZZ_CHECK(out->content_length > (long long)lim->max_body_bytes, "no body read without a reason");
	} else if (out->flags == FCGI_SCAN_BODY_CAP) {
		FUZZ_CHECK(body > lim->max_body_bytes, "%zu body bytes read of a body over the cap of %zu", body,
			   lim->max_body_bytes);
	} else {
		FUZZ_CHECK(got == 0 && FCGX_GetError(req.in) == 0 && body == out->body_bytes,
			   "the body read %zu bytes of %zu (error %d)", body, out->body_bytes, FCGX_GetError(req.in));
	}
	req.keepConnection = 0;
	FCGX_Finish_r(&req); /* writes the end of the request to sv[1], closes sv[0] (detached: at once) */
	close(sv[1]);
}

static void check_complete(const uint8_t *data, size_t len, const struct fcgi_scan_limits *lim,
			   const struct fcgi_scan *out)
{
	struct fcgi_scan again;
	size_t pairs;

	FUZZ_CHECK(scan(data, out->request_bytes, lim, &again) == FCGI_SCAN_COMPLETE &&
			   again.request_bytes == out->request_bytes && again.flags == out->flags &&
			   again.body_bytes == out->body_bytes && again.params_bytes == out->params_bytes,
		   "the request's own %zu bytes scan otherwise", out->request_bytes);
	check_prefixes(data, out->request_bytes, lim, true);
	pairs = check_pairs(data, out->request_bytes, lim);
	check_libfcgi(data, out, lim, pairs);
	(void)len;
}

/* A BEGIN_REQUEST and one PARAMS record whose first pair announces the lengths given. */
static size_t cve_request(uint8_t *b, const uint8_t *lengths, size_t n_lengths)
{
	static const uint8_t begin[16] = { 1, 1, 0, 1, 0, 8, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0 };
	uint8_t head[8] = { 1, 4, 0, 1, 0, (uint8_t)(n_lengths + 8), 0, 0 };

	memcpy(b, begin, sizeof begin);
	memcpy(b + 16, head, sizeof head);
	memcpy(b + 24, lengths, n_lengths);
	memset(b + 24 + n_lengths, 'A', 8);
	return 24 + n_lengths + 8;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const uint8_t cve1[] = { 0xff, 0xff, 0xff, 0xfe, 0x01 };                   /* 0x7ffffffe, 1 */
	static const uint8_t cve2[] = { 0xc0, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x00, 0x00 }; /* 0x40000000 twice */
	uint8_t b[64];
	struct fcgi_scan out;

	(void)argc;
	(void)argv;
	signal(SIGPIPE, SIG_IGN); /* before FCGX_Init, which leaves a set disposition alone */
	FUZZ_CHECK(FCGX_Init() == 0, "FCGX_Init");
	dummy_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	FUZZ_CHECK(dummy_fd >= 0, "socket");
	FUZZ_CHECK(fcgi_scan(b, cve_request(b, cve1, sizeof cve1), &loose, &out) == FCGI_SCAN_REJECT,
		   "a name of 0x7ffffffe bytes is not rejected");
	FUZZ_CHECK(fcgi_scan(b, cve_request(b, cve2, sizeof cve2), &loose, &out) == FCGI_SCAN_REJECT,
		   "a name and a value of 0x40000000 bytes are not rejected");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fcgi_scan t, l;
	enum fcgi_scan_status st = scan(data, size, &tight, &t);
	enum fcgi_scan_status sl = scan(data, size, &loose, &l);

	if (sl == FCGI_SCAN_REJECT)
		FUZZ_CHECK(st == FCGI_SCAN_REJECT || (st == FCGI_SCAN_COMPLETE && t.flags == FCGI_SCAN_BODY_CAP),
			   "loose limits reject (%s), tight ones say %s", l.reason, status_name(st));
	if (st == FCGI_SCAN_COMPLETE && t.flags == 0)
		FUZZ_CHECK(sl == FCGI_SCAN_COMPLETE && l.request_bytes == t.request_bytes && l.flags == 0,
			   "tight limits find a request of %zu bytes, loose ones %s", t.request_bytes, status_name(sl));
	if (st == FCGI_SCAN_MORE)
		check_prefixes(data, size, &tight, false);
	if (sl == FCGI_SCAN_MORE)
		check_prefixes(data, size, &loose, false);
	if (st == FCGI_SCAN_COMPLETE)
		check_complete(data, size, &tight, &t);
	if (sl == FCGI_SCAN_COMPLETE && (st != FCGI_SCAN_COMPLETE || l.request_bytes != t.request_bytes))
		check_complete(data, size, &loose, &l);
	return 0;
}
