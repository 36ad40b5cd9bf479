#include "trace.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "rng.h"
#include "utf8.h"

/* trace_format_params shows this many bytes of a string parameter. */
#define TRACE_PARAM_SHOWN 100
/* Bytes of a request id an SQL echo line shows (ours are 32). */
#define TRACE_ID_SHOWN 64
/* The rendered parameters of one echoed statement: longer ones are cut. */
#define TRACE_ECHO_PARAMS_MAX 1400
/* Hex digits in 64 random bits: a request id is two of them. */
#define HEX_PER_U64 16

static bool sql_echo;
static __thread struct trace current;
static __thread char generated_id[TRACE_REQUEST_ID_SIZE];

void trace_set_sql_echo(bool on)
{
	sql_echo = on;
}

bool trace_sql_echo(void)
{
	return sql_echo;
}

void trace_begin(const char *request_id)
{
	if (request_id == NULL || *request_id == '\0') {
		trace_new_request_id(generated_id);
		request_id = generated_id;
	}
	current.request_id = request_id;
	current.pool_wait_ns = 0;
	current.acquires = 0;
	current.n_stmts = 0;
	current.rows = 0;
}

const struct trace *trace_current(void)
{
	return &current;
}

void trace_pool_wait(long long ns)
{
	current.pool_wait_ns += ns > 0 ? ns : 0;
	current.acquires++;
}

void trace_rows(unsigned long long n)
{
	current.rows += n;
}

/* Appends to out at *pos, never past outlen - 1; keeps out NUL-terminated. */
static void put(char *out, size_t outlen, size_t *pos, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void put(char *out, size_t outlen, size_t *pos, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*pos >= outlen - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(out + *pos, outlen - *pos, fmt, ap);
	va_end(ap);
	if (n > 0)
		*pos += (size_t)n < outlen - *pos ? (size_t)n : outlen - 1 - *pos;
}

static void put_string(char *out, size_t outlen, size_t *pos, const char *s, unsigned long len)
{
	/* A bound value is client input (a title): the cut never splits a character. */
	unsigned long shown = utf8_cut(s, len, TRACE_PARAM_SHOWN);

	put(out, outlen, pos, "'");
	for (unsigned long i = 0; i < shown; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\'' || c == '\\')
			put(out, outlen, pos, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			put(out, outlen, pos, "\\x%02x", c);
		else
			put(out, outlen, pos, "%c", c);
	}
	put(out, outlen, pos, len > shown ? "'..." : "'");
}

void trace_format_params(const MYSQL_BIND *params, unsigned n, char *out, size_t outlen)
{
	size_t pos = 0;

	if (outlen == 0)
		return;
	out[0] = '\0';
	put(out, outlen, &pos, "(");
	for (unsigned i = 0; params != NULL && i < n; i++) {
		const MYSQL_BIND *b = &params[i];

		if (i > 0)
			put(out, outlen, &pos, ", ");
		if ((b->is_null != NULL && *b->is_null) || b->buffer_type == MYSQL_TYPE_NULL ||
		    b->buffer == NULL) {
			put(out, outlen, &pos, "NULL");
			continue;
		}
		switch (b->buffer_type) {
		case MYSQL_TYPE_TINY:
			if (b->is_unsigned)
				put(out, outlen, &pos, "%u", *(const unsigned char *)b->buffer);
			else
				put(out, outlen, &pos, "%d", *(const signed char *)b->buffer);
			break;
		case MYSQL_TYPE_SHORT:
			if (b->is_unsigned)
				put(out, outlen, &pos, "%u", *(const unsigned short *)b->buffer);
			else
				put(out, outlen, &pos, "%d", *(const short *)b->buffer);
			break;
		case MYSQL_TYPE_LONG:
			if (b->is_unsigned)
				put(out, outlen, &pos, "%u", *(const unsigned *)b->buffer);
			else
				put(out, outlen, &pos, "%d", *(const int *)b->buffer);
			break;
		case MYSQL_TYPE_LONGLONG:
			if (b->is_unsigned)
				put(out, outlen, &pos, "%llu", *(const unsigned long long *)b->buffer);
			else
				put(out, outlen, &pos, "%lld", *(const long long *)b->buffer);
			break;
		case MYSQL_TYPE_DOUBLE:
			put(out, outlen, &pos, "%g", *(const double *)b->buffer);
			break;
		case MYSQL_TYPE_STRING:
		case MYSQL_TYPE_VAR_STRING:
		case MYSQL_TYPE_BLOB:
			put_string(out, outlen, &pos, b->buffer,
				   b->length ? *b->length : b->buffer_length);
			break;
		case MYSQL_TYPE_DATETIME:
		case MYSQL_TYPE_TIMESTAMP:
		case MYSQL_TYPE_DATE: {
			const MYSQL_TIME *t = b->buffer;

			put(out, outlen, &pos, "%04u-%02u-%02u %02u:%02u:%02u", t->year, t->month, t->day,
			    t->hour, t->minute, t->second);
			break;
		}
		default:
			put(out, outlen, &pos, "?");
			break;
		}
	}
	put(out, outlen, &pos, ")");
}

void trace_sql(const char *name, const char *sql, const MYSQL_BIND *params, unsigned n)
{
	char rendered[TRACE_ECHO_PARAMS_MAX];
	const char *rid = current.request_id ? current.request_id : "-";
	struct buf id = BUF_INIT;

	if (current.n_stmts < TRACE_MAX_STMTS)
		current.stmts[current.n_stmts] = name;
	current.n_stmts++;
	if (!sql_echo)
		return;
	trace_format_params(params, n, rendered, sizeof rendered);
	/* The id may be the peer's (REQUEST_ID): escaped as in the access line, so it cannot forge a line. */
	log_escape(&id, rid, utf8_cut(rid, strlen(rid), TRACE_ID_SHOWN), LOG_ESCAPE_TEXT);
	log_info("sql: %s %s: %s %s", id.data ? id.data : "-", name ? name : "?", sql ? sql : "?", rendered);
	buf_release(&id);
}

void trace_new_request_id(char out[TRACE_REQUEST_ID_SIZE])
{
	static const char hex[] = "0123456789abcdef";

	for (int half = 0; half < 2; half++) {
		uint64_t r = rng_u64();

		for (int i = 0; i < HEX_PER_U64; i++, r >>= 4)
			out[half * HEX_PER_U64 + i] = hex[r & 15];
	}
	out[32] = '\0';
}
