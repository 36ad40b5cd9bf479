/* admin_fcgi: when the bytes so far hold a whole FastCGI request, and what is answered. */
#include <string.h>

#include "admin_fcgi.h"
#include "unit.h"

static void record(struct buf *b, int type, unsigned id, const void *content, size_t len)
{
	unsigned char h[8] = { 1, (unsigned char)type, (unsigned char)(id >> 8), (unsigned char)id,
			       (unsigned char)(len >> 8), (unsigned char)len, 0, 0 };

	buf_append(b, h, sizeof h);
	buf_append(b, content, len);
}

static void pair(struct buf *b, const char *name, const char *value)
{
	buf_putc(b, (char)strlen(name));
	buf_putc(b, (char)strlen(value));
	buf_puts(b, name);
	buf_puts(b, value);
}

static void begin(struct buf *b, unsigned id, int role)
{
	unsigned char body[8] = { 0, (unsigned char)role, 0, 0, 0, 0, 0, 0 };

	record(b, 1, id, body, sizeof body);
}

/* A GET /status?full as nginx sends it: begin, params, the empty params, the empty stdin. */
static void status_request(struct buf *b)
{
	struct buf params = BUF_INIT;

	begin(b, 1, 1);
	pair(&params, "REQUEST_METHOD", "GET");
	pair(&params, "REQUEST_URI", "/status?full");
	record(b, 4, 1, params.data, params.len);
	record(b, 4, 1, "", 0);
	record(b, 5, 1, "", 0);
	buf_release(&params);
}

START_TEST(test_whole_only_at_the_end_of_params)
{
	struct buf in = BUF_INIT, reply = BUF_INIT;
	struct admin_fcgi f;
	size_t end_of_params;

	status_request(&in);
	end_of_params = in.len - 8; /* the empty FCGI_STDIN is not waited for */
	admin_fcgi_init(&f);
	/* Byte by byte, as a trickling peer sends it: nothing is whole before the empty params. */
	for (size_t n = 0; n < end_of_params; n++)
		ck_assert_int_eq(admin_fcgi_scan(&f, (const unsigned char *)in.data, n, &reply), ADMIN_FCGI_MORE);
	ck_assert_int_eq(admin_fcgi_scan(&f, (const unsigned char *)in.data, end_of_params, &reply),
			 ADMIN_FCGI_REQUEST);
	ck_assert_str_eq(admin_fcgi_param(&f, "REQUEST_METHOD"), "GET");
	ck_assert_str_eq(admin_fcgi_param(&f, "REQUEST_URI"), "/status?full");
	ck_assert_ptr_null(admin_fcgi_param(&f, "QUERY_STRING"));
	ck_assert_uint_eq(reply.len, 0);
	admin_fcgi_release(&f);
	buf_release(&in);
	buf_release(&reply);
}
END_TEST

START_TEST(test_announced_lengths_are_checked_not_allocated)
{
	/* A name length of 0x7ffffffe (what aborts libfcgi) with a few bytes behind it. */
	static const unsigned char huge[] = { 0xff, 0xff, 0xff, 0xfe, 0x01, 'a', 'b' };
	struct buf in = BUF_INIT, reply = BUF_INIT;
	struct admin_fcgi f;

	begin(&in, 1, 1);
	record(&in, 4, 1, huge, sizeof huge);
	record(&in, 4, 1, "", 0);
	admin_fcgi_init(&f);
	ck_assert_int_eq(admin_fcgi_scan(&f, (const unsigned char *)in.data, in.len, &reply), ADMIN_FCGI_BAD);
	admin_fcgi_release(&f);
	buf_release(&in);
	buf_release(&reply);
}
END_TEST

START_TEST(test_protocol_errors)
{
	struct buf in = BUF_INIT, reply = BUF_INIT;
	struct admin_fcgi f;

	/* Not version 1. */
	buf_append(&in, "GET / HTTP/1.1\r\n\r\n", 18);
	admin_fcgi_init(&f);
	ck_assert_int_eq(admin_fcgi_scan(&f, (const unsigned char *)in.data, in.len, &reply), ADMIN_FCGI_BAD);
	admin_fcgi_release(&f);
	/* Params before a begin; a second request id on the connection. */
	buf_reset(&in);
	record(&in, 4, 1, "", 0);
	admin_fcgi_init(&f);
	ck_assert_int_eq(admin_fcgi_scan(&f, (const unsigned char *)in.data, in.len, &reply), ADMIN_FCGI_BAD);
	admin_fcgi_release(&f);
	buf_reset(&in);
	begin(&in, 1, 1);
	record(&in, 4, 2, "", 0);
	admin_fcgi_init(&f);
	ck_assert_int_eq(admin_fcgi_scan(&f, (const unsigned char *)in.data, in.len, &reply), ADMIN_FCGI_BAD);
	admin_fcgi_release(&f);
	buf_release(&in);
	buf_release(&reply);
}
END_TEST

START_TEST(test_management_and_roles)
{
	struct buf in = BUF_INIT, reply = BUF_INIT, names = BUF_INIT;
	struct admin_fcgi f;

	pair(&names, "FCGI_MPXS_CONNS", "");
	record(&in, 9, 0, names.data, names.len); /* FCGI_GET_VALUES */
	admin_fcgi_init(&f);
	ck_assert_int_eq(admin_fcgi_scan(&f, (const unsigned char *)in.data, in.len, &reply), ADMIN_FCGI_REPLY);
	/* FCGI_GET_VALUES_RESULT with FCGI_MPXS_CONNS = 0, as libfcgi answers. */
	ck_assert_uint_eq(reply.len, 8 + 2 + 15 + 1);
	ck_assert_int_eq((unsigned char)reply.data[1], 10);
	ck_assert_int_eq(memcmp(reply.data + 10, "FCGI_MPXS_CONNS0", 16), 0);
	admin_fcgi_release(&f);
	/* An authorizer: FCGI_END_REQUEST with FCGI_UNKNOWN_ROLE. */
	buf_reset(&in);
	buf_reset(&reply);
	begin(&in, 7, 2);
	admin_fcgi_init(&f);
	ck_assert_int_eq(admin_fcgi_scan(&f, (const unsigned char *)in.data, in.len, &reply), ADMIN_FCGI_REPLY);
	ck_assert_uint_eq(reply.len, 16);
	ck_assert_int_eq((unsigned char)reply.data[1], 3);
	ck_assert_int_eq((unsigned char)reply.data[3], 7);
	ck_assert_int_eq((unsigned char)reply.data[12], 3);
	admin_fcgi_release(&f);
	buf_release(&in);
	buf_release(&reply);
	buf_release(&names);
}
END_TEST

START_TEST(test_answer_records)
{
	struct buf in = BUF_INIT, out = BUF_INIT;
	struct admin_fcgi f;
	static char big[70000];
	size_t pos = 0, stdout_bytes = 0;
	int last_type = 0, empty_stdout = 0;

	status_request(&in);
	admin_fcgi_init(&f);
	ck_assert_int_eq(admin_fcgi_scan(&f, (const unsigned char *)in.data, in.len, &out), ADMIN_FCGI_REQUEST);
	memset(big, 'x', sizeof big);
	admin_fcgi_respond(&f, big, sizeof big, &out);
	/* More than one record's worth: split into FCGI_STDOUT records, then the empty one, then the end. */
	while (pos + 8 <= out.len) {
		const unsigned char *h = (const unsigned char *)out.data + pos;
		size_t len = ((size_t)h[4] << 8) | h[5];

		ck_assert_int_eq(h[0], 1);
		ck_assert_int_eq(((unsigned)h[2] << 8) | h[3], 1);
		if (h[1] == 6) {
			stdout_bytes += len;
			empty_stdout += len == 0;
		}
		last_type = h[1];
		pos += 8 + len + h[6];
	}
	ck_assert_uint_eq(pos, out.len);
	ck_assert_uint_eq(stdout_bytes, sizeof big);
	ck_assert_int_eq(empty_stdout, 1);
	ck_assert_int_eq(last_type, 3);
	admin_fcgi_release(&f);
	buf_release(&in);
	buf_release(&out);
}
END_TEST

Suite *unit_suite(void)
{
	return unit_suite_of("admin_fcgi", NULL, NULL, test_whole_only_at_the_end_of_params,
			     test_announced_lengths_are_checked_not_allocated, test_protocol_errors,
			     test_management_and_roles, test_answer_records);
}
