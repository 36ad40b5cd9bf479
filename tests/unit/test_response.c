/* Unit tests for response.c: each way to set a body, and the CGI-style text it serialises to. */
#include <jansson.h>
#include <string.h>

#include "response.h"
#include "unit.h"

START_TEST(test_starts_as_500_without_body)
{
	struct response r;
	struct buf out = BUF_INIT;

	response_init(&r);
	ck_assert_int_eq(r.status, 500);
	ck_assert(!r.has_body);
	response_serialize(&r, false, &out);
	ck_assert_str_eq(out.data, "Status: 500 Internal Server Error\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\r\n");
	response_release(&r);
	buf_release(&out);
}
END_TEST

START_TEST(test_json_body_and_headers)
{
	struct response r;
	struct buf out = BUF_INIT;

	response_init(&r);
	response_header(&r, "ETag", "\"3\"");
	response_headerf(&r, "Location", "%s/tasks/%d", "/api", 7);
	response_json(&r, 201, json_pack("{s:i,s:s}", "id", 7, "t", "caf\xc3\xa9"));
	response_serialize(&r, false, &out);
	ck_assert_str_eq(out.data,
			 "Status: 201 Created\r\n"
			 "Content-Type: application/json; charset=utf-8\r\n"
			 "Content-Length: 20\r\n"
			 "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
			 "ETag: \"3\"\r\n"
			 "Location: /api/tasks/7\r\n"
			 "\r\n"
			 "{\"id\":7,\"t\":\"caf\xc3\xa9\"}");
	/* HEAD: the same length, no body */
	response_serialize(&r, true, &out);
	ck_assert_ptr_nonnull(strstr(out.data, "Content-Length: 20\r\n"));
	ck_assert_str_eq(out.data + out.len - 4, "\r\n\r\n");
	response_release(&r);
	buf_release(&out);
}
END_TEST

START_TEST(test_json_null_is_a_500)
{
	struct response r;

	response_init(&r);
	response_json(&r, 200, NULL); /* what a failed json_pack hands over */
	ck_assert_int_eq(r.status, 500);
	ck_assert_str_eq(r.body.data, "{\"detail\":\"Internal Server Error\"}");
	response_release(&r);
}
END_TEST

START_TEST(test_error_raw_body_and_empty)
{
	struct response r;
	struct buf *body;
	struct buf out = BUF_INIT;

	response_init(&r);
	response_error(&r, 404, "Not Found");
	ck_assert_int_eq(r.status, 404);
	ck_assert_str_eq(r.body.data, "{\"detail\":\"Not Found\"}");
	response_raw_json(&r, 200, "[1,2]", 5);
	ck_assert_str_eq(r.body.data, "[1,2]");
	body = response_body(&r, 200);
	ck_assert_uint_eq(body->len, 0);
	buf_puts(body, "{}");
	ck_assert_str_eq(r.body.data, "{}");
	ck_assert(r.has_body);
	response_empty(&r, 204);
	ck_assert(!r.has_body);
	response_serialize(&r, false, &out);
	ck_assert_str_eq(out.data, "Status: 204 No Content\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\r\n");
	response_reset(&r);
	ck_assert_int_eq(r.status, 500);
	ck_assert_uint_eq(r.headers.len, 0);
	response_release(&r);
	buf_release(&out);
}
END_TEST

START_TEST(test_dump_json)
{
	struct buf out = BUF_INIT;
	json_t *j = json_pack("[s,n,b]", "a\"b", 1);

	response_dump_json(j, &out);
	ck_assert_str_eq(out.data, "[\"a\\\"b\",null,true]");
	json_decref(j);
	buf_release(&out);
}
END_TEST

START_TEST(test_text_body_and_back_to_json)
{
	struct response r;
	struct buf out = BUF_INIT;

	response_init(&r);
	response_text(&r, 200, "text/html; charset=utf-8", "<p>x</p>", 8);
	response_serialize(&r, false, &out);
	ck_assert_str_eq(out.data,
			 "Status: 200 OK\r\n"
			 "Content-Type: text/html; charset=utf-8\r\n"
			 "Content-Length: 8\r\n"
			 "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
			 "\r\n"
			 "<p>x</p>");
	/* A JSON answer after it (an error path) is JSON again, also after a reset. */
	response_error(&r, 404, "Not Found");
	response_serialize(&r, false, &out);
	ck_assert_ptr_nonnull(strstr(out.data, "Content-Type: application/json; charset=utf-8\r\n"));
	response_text(&r, 200, "text/html; charset=utf-8", "<p>x</p>", 8);
	response_reset(&r);
	response_raw_json(&r, 200, "{}", 2);
	response_serialize(&r, false, &out);
	ck_assert_ptr_nonnull(strstr(out.data, "Content-Type: application/json; charset=utf-8\r\n"));
	response_release(&r);
	buf_release(&out);
}
END_TEST

START_TEST(test_reasons)
{
	ck_assert_str_eq(response_reason(200), "OK");
	ck_assert_str_eq(response_reason(413), "Content Too Large");
	ck_assert_str_eq(response_reason(422), "Unprocessable Content");
	ck_assert_str_eq(response_reason(504), "Gateway Timeout");
	ck_assert_str_eq(response_reason(299), "Unknown");
}
END_TEST

Suite *unit_suite(void)
{
	return unit_suite_of("response", NULL, NULL, test_starts_as_500_without_body,
			     test_json_body_and_headers, test_json_null_is_a_500,
			     test_error_raw_body_and_empty, test_dump_json, test_reasons,
			     test_text_body_and_back_to_json);
}
