#include "admin_fcgi.h"

#include <string.h>

/* FastCGI 1.0 (fastcgi.h names, kept local: libfcgi's header is not needed here). */
#define FCGI_VERSION_1 1
#define FCGI_HEADER_LEN 8
#define FCGI_BEGIN_REQUEST 1
#define FCGI_ABORT_REQUEST 2
#define FCGI_END_REQUEST 3
#define FCGI_PARAMS 4
#define FCGI_STDIN 5
#define FCGI_STDOUT 6
#define FCGI_GET_VALUES 9
#define FCGI_GET_VALUES_RESULT 10
#define FCGI_UNKNOWN_TYPE 11
#define FCGI_RESPONDER 1
#define FCGI_REQUEST_COMPLETE 0
#define FCGI_UNKNOWN_ROLE 3
#define STDOUT_CHUNK 32768 /* content per FCGI_STDOUT record (at most 65535) */

void admin_fcgi_init(struct admin_fcgi *f)
{
	memset(f, 0, sizeof *f);
	buf_init(&f->params);
}

void admin_fcgi_release(struct admin_fcgi *f)
{
	buf_release(&f->params);
	f->pos = 0;
	f->id = 0;
	f->n_params = 0;
}

static void put_record(struct buf *out, int type, unsigned id, const void *content, size_t len)
{
	unsigned char h[FCGI_HEADER_LEN] = {
		FCGI_VERSION_1, (unsigned char)type, (unsigned char)(id >> 8), (unsigned char)id,
		(unsigned char)(len >> 8), (unsigned char)len, 0, 0,
	};

	buf_append(out, h, sizeof h);
	if (len > 0)
		buf_append(out, content, len);
}

/* A name-value pair's length (1 or 4 bytes); false when it runs past end. */
static bool nv_length(const unsigned char **p, const unsigned char *end, size_t *len)
{
	if (*p >= end)
		return false;
	if (**p < 0x80) {
		*len = *(*p)++;
		return true;
	}
	if (end - *p < 4)
		return false;
	*len = ((size_t)((*p)[0] & 0x7f) << 24) | ((size_t)(*p)[1] << 16) | ((size_t)(*p)[2] << 8) | (*p)[3];
	*p += 4;
	return true;
}

/* Walks the pairs of [p, end); with out, appends "name\0value\0" and counts them. */
static bool each_pair(const unsigned char *p, const unsigned char *end, struct buf *out, size_t *n,
		      void (*on_pair)(void *ctx, const unsigned char *name, size_t nl,
				      const unsigned char *value, size_t vl),
		      void *ctx)
{
	while (p < end) {
		size_t nl, vl;

		/* The lengths are checked against what is there: a huge one is an error, never an allocation. */
		if (!nv_length(&p, end, &nl) || !nv_length(&p, end, &vl) || nl > (size_t)(end - p) ||
		    vl > (size_t)(end - p) - nl)
			return false;
		if (out != NULL) {
			/* A NUL inside would make the laid-out pairs ambiguous. */
			if (memchr(p, '\0', nl + vl) != NULL)
				return false;
			buf_append(out, p, nl);
			buf_putc(out, '\0');
			buf_append(out, p + nl, vl);
			buf_putc(out, '\0');
			(*n)++;
		}
		if (on_pair != NULL)
			on_pair(ctx, p, nl, p + nl, vl);
		p += nl + vl;
	}
	return true;
}

/* FCGI_GET_VALUES: the values libfcgi gives for the three names it knows. */
static void get_value(void *ctx, const unsigned char *name, size_t nl, const unsigned char *value, size_t vl)
{
	static const char *const known[][2] = {
		{ "FCGI_MAX_CONNS", "1" }, { "FCGI_MAX_REQS", "1" }, { "FCGI_MPXS_CONNS", "0" },
	};
	struct buf *res = ctx;

	(void)value;
	(void)vl;
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
		size_t kl = strlen(known[i][0]);

		if (nl == kl && memcmp(name, known[i][0], kl) == 0) {
			buf_putc(res, (char)kl);
			buf_putc(res, 1);
			buf_append(res, known[i][0], kl);
			buf_append(res, known[i][1], 1);
		}
	}
}

static enum admin_fcgi_status management(int type, const unsigned char *c, size_t len, struct buf *reply)
{
	if (type == FCGI_GET_VALUES) {
		struct buf res = BUF_INIT;

		if (!each_pair(c, c + len, NULL, NULL, get_value, &res)) {
			buf_release(&res);
			return ADMIN_FCGI_BAD;
		}
		put_record(reply, FCGI_GET_VALUES_RESULT, 0, res.data, res.len);
		buf_release(&res);
	} else {
		unsigned char body[8] = { (unsigned char)type, 0, 0, 0, 0, 0, 0, 0 };

		put_record(reply, FCGI_UNKNOWN_TYPE, 0, body, sizeof body);
	}
	return ADMIN_FCGI_REPLY;
}

static void end_request(struct buf *out, unsigned id, int protocol_status)
{
	unsigned char body[8] = { 0, 0, 0, 0, (unsigned char)protocol_status, 0, 0, 0 };

	put_record(out, FCGI_END_REQUEST, id, body, sizeof body);
}

enum admin_fcgi_status admin_fcgi_scan(struct admin_fcgi *f, const unsigned char *in, size_t len,
				       struct buf *reply)
{
	while (len - f->pos >= FCGI_HEADER_LEN) {
		const unsigned char *h = in + f->pos;
		unsigned id = ((unsigned)h[2] << 8) | h[3];
		size_t clen = ((size_t)h[4] << 8) | h[5];
		size_t whole = FCGI_HEADER_LEN + clen + h[6];
		const unsigned char *c = h + FCGI_HEADER_LEN;
		int type = h[1];

		if (h[0] != FCGI_VERSION_1)
			return ADMIN_FCGI_BAD;
		if (len - f->pos < whole)
			return ADMIN_FCGI_MORE;
		f->pos += whole;
		if (id == 0)
			return management(type, c, clen, reply);
		if (f->id == 0) {
			if (type != FCGI_BEGIN_REQUEST || clen != 8)
				return ADMIN_FCGI_BAD;
			f->id = id;
			if ((((unsigned)c[0] << 8) | c[1]) != FCGI_RESPONDER) {
				end_request(reply, id, FCGI_UNKNOWN_ROLE);
				return ADMIN_FCGI_REPLY;
			}
			continue;
		}
		/* One request per connection: another id, an abort or a second begin ends it. */
		if (id != f->id || type != FCGI_PARAMS)
			return ADMIN_FCGI_BAD;
		if (clen > 0) {
			buf_append(&f->params, c, clen);
			continue;
		}
		{
			/* The empty FCGI_PARAMS: the params are whole; lay them out as NUL-terminated pairs. */
			struct buf pairs = BUF_INIT;
			bool ok = each_pair((const unsigned char *)f->params.data,
					    (const unsigned char *)f->params.data + f->params.len, &pairs,
					    &f->n_params, NULL, NULL);

			buf_release(&f->params);
			f->params = pairs;
			return ok ? ADMIN_FCGI_REQUEST : ADMIN_FCGI_BAD;
		}
	}
	return ADMIN_FCGI_MORE;
}

const char *admin_fcgi_param(const struct admin_fcgi *f, const char *name)
{
	const char *p = f->params.data;

	for (size_t i = 0; p != NULL && i < f->n_params; i++) {
		const char *value = p + strlen(p) + 1;

		if (strcmp(p, name) == 0)
			return value;
		p = value + strlen(value) + 1;
	}
	return NULL;
}

void admin_fcgi_respond(const struct admin_fcgi *f, const char *cgi, size_t len, struct buf *out)
{
	for (size_t off = 0; off < len; off += STDOUT_CHUNK) {
		size_t n = len - off < STDOUT_CHUNK ? len - off : STDOUT_CHUNK;

		put_record(out, FCGI_STDOUT, f->id, cgi + off, n);
	}
	put_record(out, FCGI_STDOUT, f->id, NULL, 0);
	end_request(out, f->id, FCGI_REQUEST_COMPLETE);
}
