/*
 * Unit tests for fcgi_scan.c: whole requests as nginx sends them, every
 * prefix of one, the caps, the lengths that make libfcgi abort, and the
 * records no web server sends.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "fcgi_scan.h"
#include "unit.h"

/* A request under construction: raw records appended one by one. */
struct wire {
	unsigned char b[300000];
	size_t n;
};

static void record(struct wire *w, unsigned type, unsigned id, const void *content, size_t len,
		   unsigned padding)
{
	unsigned char h[8] = { 1, (unsigned char)type, (unsigned char)(id >> 8), (unsigned char)id,
			       (unsigned char)(len >> 8), (unsigned char)len, (unsigned char)padding, 0 };

	ck_assert_uint_le(w->n + 8 + len + padding, sizeof w->b);
	memcpy(w->b + w->n, h, 8);
	if (len)
		memcpy(w->b + w->n + 8, content, len);
	memset(w->b + w->n + 8 + len, 0, padding);
	w->n += 8 + len + padding;
}

static void begin(struct wire *w, unsigned id, unsigned role)
{
	unsigned char body[8] = { (unsigned char)(role >> 8), (unsigned char)role, 1 /* keep conn */ };

	record(w, 1, id, body, sizeof body, 0);
}

/* One name-value pair, lengths in their short or long form as they need. */
static size_t pair(unsigned char *to, const char *name, const char *value)
{
	size_t nl = strlen(name), vl = strlen(value), at = 0;

	if (nl < 128) {
		to[at++] = (unsigned char)nl;
	} else {
		to[at++] = (unsigned char)(0x80 | (nl >> 24));
		to[at++] = (unsigned char)(nl >> 16);
		to[at++] = (unsigned char)(nl >> 8);
		to[at++] = (unsigned char)nl;
	}
	to[at++] = (unsigned char)vl; /* values here stay short */
	memcpy(to + at, name, nl);
	memcpy(to + at + nl, value, vl);
	return at + nl + vl;
}

/* nginx's shape: BEGIN, one PARAMS record, empty PARAMS, the body in one STDIN, empty STDIN. */
static void nginx_request(struct wire *w, const char *body)
{
	unsigned char params[512];
	size_t n = 0;

	begin(w, 1, 1);
	n += pair(params + n, "REQUEST_METHOD", body ? "POST" : "GET");
	n += pair(params + n, "REQUEST_URI", "/tasks/");
	record(w, 4, 1, params, n, (8 - n % 8) % 8);
	record(w, 4, 1, NULL, 0, 0);
	if (body)
		record(w, 5, 1, body, strlen(body), 3);
	record(w, 5, 1, NULL, 0, 0);
}

static const struct fcgi_scan_limits limits = { 65536, 65536, 64 };

START_TEST(test_whole_request_and_every_prefix)
{
	static struct wire w;
	struct fcgi_scan s;

	w.n = 0;
	nginx_request(&w, "{\"title\":\"x\"}");
	ck_assert_int_eq(fcgi_scan(w.b, w.n, &limits, &s), FCGI_SCAN_COMPLETE);
	ck_assert_uint_eq(s.request_bytes, w.n);
	ck_assert_uint_eq(s.body_bytes, 13);
	ck_assert_int_eq(s.flags, 0);
	ck_assert_uint_eq(s.records, 5);
	for (size_t cut = 0; cut < w.n; cut++)
		ck_assert_int_eq(fcgi_scan(w.b, cut, &limits, &s), FCGI_SCAN_MORE);
}
END_TEST

START_TEST(test_next_request_after_this_one_is_left)
{
	static struct wire w;
	struct fcgi_scan s;
	size_t first;

	w.n = 0;
	nginx_request(&w, NULL);
	first = w.n;
	nginx_request(&w, NULL); /* a second request already behind it */
	ck_assert_int_eq(fcgi_scan(w.b, w.n, &limits, &s), FCGI_SCAN_COMPLETE);
	ck_assert_uint_eq(s.request_bytes, first);
}
END_TEST

START_TEST(test_pair_length_split_across_records)
{
	static struct wire w;
	unsigned char params[300];
	struct fcgi_scan s;
	char name[200];
	size_t n;

	memset(name, 'N', sizeof name - 1);
	name[sizeof name - 1] = '\0';
	n = pair(params, name, "v"); /* a 4-byte name length */
	w.n = 0;
	begin(&w, 7, 1);
	record(&w, 4, 7, params, 2, 0); /* the length field cut in two */
	record(&w, 4, 7, params + 2, n - 2, 0);
	record(&w, 4, 7, NULL, 0, 0);
	record(&w, 5, 7, NULL, 0, 0);
	ck_assert_int_eq(fcgi_scan(w.b, w.n, &limits, &s), FCGI_SCAN_COMPLETE);
	ck_assert_uint_eq(s.params_bytes, n);
}
END_TEST

/* A pair announcing lengths it does not carry: the libfcgi abort of issue 11 (and CVE-2025-23016). */
static void huge_pair(uint32_t name_len, uint32_t value_len, struct fcgi_scan *s)
{
	static struct wire w;
	unsigned char p[8] = {
		(unsigned char)(0x80 | name_len >> 24), (unsigned char)(name_len >> 16),
		(unsigned char)(name_len >> 8), (unsigned char)name_len,
		(unsigned char)(0x80 | value_len >> 24), (unsigned char)(value_len >> 16),
		(unsigned char)(value_len >> 8), (unsigned char)value_len,
	};

	w.n = 0;
	begin(&w, 1, 1);
	record(&w, 4, 1, p, sizeof p, 0);
	ck_assert_int_eq(fcgi_scan(w.b, w.n, &limits, s), FCGI_SCAN_REJECT);
}

START_TEST(test_huge_pair_lengths_rejected_at_once)
{
	struct fcgi_scan s;

	huge_pair(0x7ffffffe, 0, &s);
	ck_assert_str_eq(s.reason, "a param longer than server.max_params_bytes");
	huge_pair(0x40000000, 0x40000000, &s);
	ck_assert_str_eq(s.reason, "a param longer than server.max_params_bytes");
	huge_pair(0x7fffffff, 0x7fffffff, &s);
	huge_pair(40000, 30000, &s); /* together over the cap */
}
END_TEST

START_TEST(test_pair_running_past_the_params_end)
{
	static struct wire w;
	unsigned char p[4] = { 10, 10, 'a', 'b' }; /* announces 20 bytes, carries 2 */
	struct fcgi_scan s;

	w.n = 0;
	begin(&w, 1, 1);
	record(&w, 4, 1, p, sizeof p, 0);
	record(&w, 4, 1, NULL, 0, 0);
	ck_assert_int_eq(fcgi_scan(w.b, w.n, &limits, &s), FCGI_SCAN_REJECT);
	ck_assert_str_eq(s.reason, "a param that runs past the end of the params");
}
END_TEST

START_TEST(test_params_cap)
{
	static struct wire w;
	static unsigned char chunk[65535];
	struct fcgi_scan_limits small = { 1000, 65536, 64 };
	struct fcgi_scan s;

	memset(chunk, 'x', sizeof chunk);
	w.n = 0;
	begin(&w, 1, 1);
	record(&w, 4, 1, chunk, 1001, 0);
	/* Rejected on the header alone: the peer need not send the content first. */
	ck_assert_int_eq(fcgi_scan(w.b, 16 + 8, &small, &s), FCGI_SCAN_REJECT);
	ck_assert_str_eq(s.reason, "params larger than server.max_params_bytes");
	/* Many records adding up past the cap. */
	w.n = 0;
	begin(&w, 1, 1);
	for (int i = 0; i < 4; i++)
		record(&w, 4, 1, chunk, 65535, 0);
	ck_assert_int_eq(fcgi_scan(w.b, w.n, &limits, &s), FCGI_SCAN_REJECT);
}
END_TEST

START_TEST(test_record_cap)
{
	static struct wire w;
	struct fcgi_scan s;

	w.n = 0;
	begin(&w, 1, 1);
	record(&w, 4, 1, NULL, 0, 0);
	for (int i = 0; i < 70; i++)
		record(&w, 5, 1, "x", 1, 0); /* a body one byte a record */
	ck_assert_int_eq(fcgi_scan(w.b, w.n, &limits, &s), FCGI_SCAN_REJECT);
	ck_assert_str_eq(s.reason, "more records than server.max_records");
}
END_TEST

START_TEST(test_body_over_cap_completes_early)
{
	static struct wire w;
	static char body[2001];
	struct fcgi_scan_limits small = { 65536, 1000, 64 };
	struct fcgi_scan s;

	memset(body, 'b', sizeof body - 1);
	w.n = 0;
	nginx_request(&w, body);
	/* The body's record is cut after 1001 of its 2000 bytes: enough to answer 413. */
	size_t head = w.n - 8 - 3 - 2000 - 8;

	ck_assert_int_eq(fcgi_scan(w.b, head + 8 + 1000, &small, &s), FCGI_SCAN_MORE);
	ck_assert_int_eq(fcgi_scan(w.b, head + 8 + 1001, &small, &s), FCGI_SCAN_COMPLETE);
	ck_assert_int_eq(s.flags, FCGI_SCAN_BODY_CAP);
	ck_assert_uint_eq(s.request_bytes, head + 8 + 1001);
}
END_TEST

/* BEGIN and params ending with CONTENT_LENGTH = length, then the start of a body. */
static size_t declared_body(struct wire *w, const char *length)
{
	unsigned char params[128];
	size_t n = pair(params, "CONTENT_LENGTH", length), head;

	n += pair(params + n, "REQUEST_METHOD", "POST");
	w->n = 0;
	begin(w, 1, 1);
	record(w, 4, 1, params, n, 0);
	record(w, 4, 1, NULL, 0, 0);
	head = w->n;
	record(w, 5, 1, "{\"title\":", 9, 0);
	return head;
}

START_TEST(test_content_length_over_cap_completes_after_the_params)
{
	static struct wire w;
	struct fcgi_scan_limits small = { 65536, 1000, 64 };
	struct fcgi_scan s;
	size_t head = declared_body(&w, "70000");

	/* The answer is 413 whatever the body: it is not waited for (a sender may wait for us to read). */
	ck_assert_int_eq(fcgi_scan(w.b, head, &small, &s), FCGI_SCAN_COMPLETE);
	ck_assert_int_eq(s.flags, FCGI_SCAN_BODY_CAP);
	ck_assert_uint_eq(s.request_bytes, head);
	ck_assert_int_eq(fcgi_scan(w.b, head - 1, &small, &s), FCGI_SCAN_MORE);
	/* Within the cap, or not a number: the body is awaited as usual. */
	head = declared_body(&w, "1000");
	ck_assert_int_eq(fcgi_scan(w.b, w.n, &small, &s), FCGI_SCAN_MORE);
	ck_assert_int_eq(s.flags, FCGI_SCAN_PARAMS_DONE); /* only body records are awaited */
	ck_assert_int_eq(s.content_length, 1000);
	ck_assert_int_eq(fcgi_scan(w.b, head - 1, &small, &s), FCGI_SCAN_MORE);
	ck_assert_int_eq(s.flags, 0);
	head = declared_body(&w, "70000x");
	ck_assert_int_eq(fcgi_scan(w.b, w.n, &small, &s), FCGI_SCAN_MORE);
	head = declared_body(&w, "99999999999999999999");
	ck_assert_int_eq(fcgi_scan(w.b, w.n, &small, &s), FCGI_SCAN_MORE);
	ck_assert_uint_gt(head, 0);
}
END_TEST

static enum fcgi_scan_status scan_one(void (*build)(struct wire *), struct fcgi_scan *s)
{
	static struct wire w;

	w.n = 0;
	build(&w);
	return fcgi_scan(w.b, w.n, &limits, s);
}

static void bad_version(struct wire *w)
{
	nginx_request(w, NULL);
	w->b[0] = 2;
}

static void management_record(struct wire *w)
{
	record(w, 9, 0, "\x0e\x00" "FCGI_MAX_CONNS", 16, 0); /* GET_VALUES */
}

static void filter_role(struct wire *w)
{
	begin(w, 1, 3);
}

static void second_request_id(struct wire *w)
{
	begin(w, 1, 1);
	record(w, 4, 2, NULL, 0, 0);
}

static void abort_record(struct wire *w)
{
	begin(w, 1, 1);
	record(w, 2, 1, NULL, 0, 0);
}

static void short_begin(struct wire *w)
{
	record(w, 1, 1, "\0\1", 2, 0);
}

static void stdin_before_params_end(struct wire *w)
{
	begin(w, 1, 1);
	record(w, 5, 1, "x", 1, 0);
}

static void params_after_params_end(struct wire *w)
{
	begin(w, 1, 1);
	record(w, 4, 1, NULL, 0, 0);
	record(w, 4, 1, NULL, 0, 0);
}

START_TEST(test_records_no_web_server_sends)
{
	struct fcgi_scan s;

	ck_assert_int_eq(scan_one(bad_version, &s), FCGI_SCAN_REJECT);
	ck_assert_int_eq(scan_one(management_record, &s), FCGI_SCAN_REJECT);
	ck_assert_int_eq(scan_one(filter_role, &s), FCGI_SCAN_REJECT);
	ck_assert_int_eq(scan_one(second_request_id, &s), FCGI_SCAN_REJECT);
	ck_assert_int_eq(scan_one(abort_record, &s), FCGI_SCAN_REJECT);
	ck_assert_int_eq(scan_one(short_begin, &s), FCGI_SCAN_REJECT);
	ck_assert_int_eq(scan_one(stdin_before_params_end, &s), FCGI_SCAN_REJECT);
	ck_assert_int_eq(scan_one(params_after_params_end, &s), FCGI_SCAN_REJECT);
	ck_assert_ptr_nonnull(s.reason);
}
END_TEST

START_TEST(test_padding_of_the_last_record_awaited)
{
	static struct wire w;
	struct fcgi_scan s;

	w.n = 0;
	begin(&w, 1, 1);
	record(&w, 4, 1, NULL, 0, 0);
	record(&w, 5, 1, NULL, 0, 5);
	ck_assert_int_eq(fcgi_scan(w.b, w.n - 1, &limits, &s), FCGI_SCAN_MORE);
	ck_assert_int_eq(fcgi_scan(w.b, w.n, &limits, &s), FCGI_SCAN_COMPLETE);
	ck_assert_uint_eq(s.request_bytes, w.n);
}
END_TEST

/*
 * libfcgi reads the padding of BEGIN_REQUEST and of the empty PARAMS record
 * as a record header (found by tests/fuzz/fuzz_fcgi_records): here a STDIN
 * header announcing 65535 bytes, so libfcgi took the real empty STDIN for
 * body bytes and blocked for the rest of a request the scan had called
 * COMPLETE. at_begin: the padding is BEGIN_REQUEST's, else the params end's.
 */
static enum fcgi_scan_status scan_header_in_padding(bool at_begin, struct fcgi_scan *s)
{
	static struct wire w;
	static const unsigned char stdin_header[8] = { 1, 5, 0, 1, 0xff, 0xff, 0, 0 };

	w.n = 0;
	begin(&w, 1, 1);
	if (!at_begin)
		record(&w, 4, 1, NULL, 0, 0);
	w.b[w.n - (at_begin ? 10 : 2)] = sizeof stdin_header; /* the last record's padding length */
	memcpy(w.b + w.n, stdin_header, sizeof stdin_header);
	w.n += sizeof stdin_header;
	if (at_begin)
		record(&w, 4, 1, NULL, 0, 0);
	record(&w, 5, 1, NULL, 0, 0);
	return fcgi_scan(w.b, w.n, &limits, s);
}

START_TEST(test_padding_libfcgi_reads_as_a_header_rejected)
{
	struct fcgi_scan s;

	ck_assert_int_eq(scan_header_in_padding(true, &s), FCGI_SCAN_REJECT);
	ck_assert_ptr_nonnull(s.reason);
	ck_assert_int_eq(scan_header_in_padding(false, &s), FCGI_SCAN_REJECT);
	ck_assert_ptr_nonnull(s.reason);
}
END_TEST

Suite *unit_suite(void)
{
	return unit_suite_of("fcgi_scan", NULL, NULL,
			     test_whole_request_and_every_prefix, test_next_request_after_this_one_is_left,
			     test_pair_length_split_across_records, test_huge_pair_lengths_rejected_at_once,
			     test_pair_running_past_the_params_end, test_params_cap, test_record_cap,
			     test_body_over_cap_completes_early,
			     test_content_length_over_cap_completes_after_the_params, test_records_no_web_server_sends,
			     test_padding_of_the_last_record_awaited, test_padding_libfcgi_reads_as_a_header_rejected);
}
