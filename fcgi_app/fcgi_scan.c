#include "fcgi_scan.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* The FastCGI 1.0 wire format: record header, types, role. */
#define HEADER_LEN 8
#define VERSION_1 1
#define TYPE_BEGIN_REQUEST 1
#define TYPE_PARAMS 4
#define TYPE_STDIN 5
#define BEGIN_BODY_LEN 8
#define ROLE_RESPONDER 1

/*
 * Walks the name-value pairs of the PARAMS stream as its records arrive, a
 * pair's length fields possibly split across two records. Only lengths are
 * decoded and the bytes of names and values skipped, except CONTENT_LENGTH's
 * value (when the pair lies within one record, as web servers send it).
 */
struct pair_walk {
	long long content_length; /* -1: not seen, or not a plain decimal number */
	unsigned char len_bytes[4];
	unsigned len_have;  /* bytes of the current length field read */
	unsigned len_need;  /* 1 or 4, known from the field's first byte; 0 before it */
	int field;          /* 0: the name length is being read, 1: the value length */
	uint32_t name_len;
	uint64_t skip;      /* name and value bytes still to pass over */
};

/* Remembers CONTENT_LENGTH's value when this pair (name and value at p) is it. */
static void note_content_length(struct pair_walk *w, const unsigned char *p, uint32_t name_len, uint32_t value_len)
{
	static const char name[] = "CONTENT_LENGTH";
	long long v = 0;

	if (name_len != sizeof name - 1 || memcmp(p, name, name_len) != 0)
		return;
	w->content_length = -1;
	if (value_len == 0 || value_len > 18)
		return;
	for (uint32_t i = 0; i < value_len; i++) {
		unsigned char c = p[name_len + i];

		if (c < '0' || c > '9')
			return;
		v = v * 10 + (c - '0');
	}
	w->content_length = v;
}

static const char *walk_params(struct pair_walk *w, const unsigned char *p, size_t n, size_t max_params)
{
	while (n > 0) {
		if (w->skip > 0) {
			size_t step = w->skip < n ? (size_t)w->skip : n;

			w->skip -= step;
			p += step;
			n -= step;
			continue;
		}
		if (w->len_have == 0)
			w->len_need = (*p & 0x80) ? 4 : 1;
		w->len_bytes[w->len_have++] = *p++;
		n--;
		if (w->len_have < w->len_need)
			continue;
		uint32_t len = w->len_need == 1 ? w->len_bytes[0]
			: ((uint32_t)(w->len_bytes[0] & 0x7f) << 24) | ((uint32_t)w->len_bytes[1] << 16) |
			  ((uint32_t)w->len_bytes[2] << 8) | w->len_bytes[3];

		w->len_have = 0;
		w->len_need = 0;
		if (w->field == 0) {
			w->name_len = len;
			w->field = 1;
			continue;
		}
		w->field = 0;
		/* Checked before libfcgi sees the pair: it allocates name + value + 2 bytes at once. */
		w->skip = (uint64_t)w->name_len + len;
		if (w->skip > max_params)
			return "a param longer than server.max_params_bytes";
		if (w->skip <= n)
			note_content_length(w, p, w->name_len, len);
	}
	return NULL;
}

/* True when the walk stands between two pairs: the PARAMS stream may end here. */
static bool walk_at_pair_boundary(const struct pair_walk *w)
{
	return w->skip == 0 && w->len_have == 0 && w->field == 0;
}

enum scan_stage { EXPECT_BEGIN, IN_PARAMS, IN_STDIN };

static enum fcgi_scan_status reject(struct fcgi_scan *out, const char *reason)
{
	out->reason = reason;
	return FCGI_SCAN_REJECT;
}

enum fcgi_scan_status fcgi_scan(const unsigned char *data, size_t len,
				const struct fcgi_scan_limits *limits, struct fcgi_scan *out)
{
	struct pair_walk walk = { .content_length = -1 };
	enum scan_stage stage = EXPECT_BEGIN;
	unsigned request_id = 0;
	size_t at = 0;

	*out = (struct fcgi_scan){ .content_length = -1 };
	while (len - at >= HEADER_LEN) {
		const unsigned char *h = data + at;
		unsigned type = h[1];
		unsigned id = ((unsigned)h[2] << 8) | h[3];
		size_t content = ((size_t)h[4] << 8) | h[5];
		size_t record = HEADER_LEN + content + h[6];
		size_t present = len - at - HEADER_LEN; /* content bytes (and padding) already here */
		const unsigned char *body = h + HEADER_LEN;

		if (present > content)
			present = content;
		if (h[0] != VERSION_1)
			return reject(out, "a record of a FastCGI version other than 1");
		if (++out->records > limits->max_records)
			return reject(out, "more records than server.max_records");
		if (stage == EXPECT_BEGIN) {
			if (type != TYPE_BEGIN_REQUEST)
				return reject(out, "a first record other than BEGIN_REQUEST");
			if (id == 0)
				return reject(out, "request id 0 (management records are not served)");
			if (content != BEGIN_BODY_LEN)
				return reject(out, "a BEGIN_REQUEST body that is not 8 bytes");
			/* libfcgi reads its padding as the next record's header (see the end of the params). */
			if (h[6] != 0)
				return reject(out, "padding after BEGIN_REQUEST");
			if (present < BEGIN_BODY_LEN)
				return FCGI_SCAN_MORE;
			if ((((unsigned)body[0] << 8) | body[1]) != ROLE_RESPONDER)
				return reject(out, "a role other than RESPONDER");
			request_id = id;
			stage = IN_PARAMS;
		} else if (id != request_id) {
			return reject(out, "a record of another request id (no multiplexing)");
		} else if (stage == IN_PARAMS) {
			const char *why;

			if (type != TYPE_PARAMS)
				return reject(out, "a record other than PARAMS before the params ended");
			out->params_bytes += content;
			if (out->params_bytes > limits->max_params_bytes)
				return reject(out, "params larger than server.max_params_bytes");
			why = walk_params(&walk, body, present, limits->max_params_bytes);
			if (why)
				return reject(out, why);
			if (present < content)
				return FCGI_SCAN_MORE;
			if (content == 0) {
				if (!walk_at_pair_boundary(&walk))
					return reject(out, "a param that runs past the end of the params");
				/*
				 * libfcgi does not skip the padding of the record that ends the
				 * params (nor of BEGIN_REQUEST): it reads those bytes as the next
				 * record's header, which can announce a body that never comes (a
				 * thread held) or records this scan never saw. Web servers send
				 * none.
				 */
				if (h[6] != 0)
					return reject(out, "padding after the end of the params");
				/*
				 * A CONTENT_LENGTH over the cap is answered 413 without reading
				 * the body: no need to wait for it. That matters for web
				 * servers that send the body only as fast as the socket drains
				 * (Apache's mod_proxy_fcgi waits for POLLOUT before each record;
				 * a unix socket signals it only once three quarters of the
				 * sender's buffer are free, and the intake consumes nothing
				 * until the request is whole): such a request never would be.
				 */
				out->content_length = walk.content_length;
				if (walk.content_length > (long long)limits->max_body_bytes) {
					out->flags = FCGI_SCAN_BODY_CAP;
					out->request_bytes = at + record;
					return FCGI_SCAN_COMPLETE;
				}
				stage = IN_STDIN;
				out->flags = FCGI_SCAN_PARAMS_DONE;
			}
		} else {
			if (type != TYPE_STDIN)
				return reject(out, "a record other than STDIN before the body ended");
			/* Bytes of the body that are here, a record's first part included. */
			if (out->body_bytes + present > limits->max_body_bytes) {
				out->body_bytes += present;
				out->flags = FCGI_SCAN_BODY_CAP;
				out->request_bytes = len;
				return FCGI_SCAN_COMPLETE;
			}
			if (present < content)
				return FCGI_SCAN_MORE;
			out->body_bytes += content;
			if (content == 0) {
				if (len - at < record)
					return FCGI_SCAN_MORE; /* its padding is still on the way */
				out->request_bytes = at + record;
				out->flags = 0;
				return FCGI_SCAN_COMPLETE;
			}
		}
		if (len - at < record)
			return FCGI_SCAN_MORE; /* padding still on the way */
		at += record;
	}
	return FCGI_SCAN_MORE;
}
