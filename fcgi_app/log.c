#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "xalloc.h"

static enum log_level current_level = LOG_LEVEL_INFO;
static enum log_format access_format = LOG_FORMAT_TEXT;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

/*
 * The streams' descriptors. The error stream is always fd 2 (a file is
 * dup2'ed onto it); the others are their own descriptor, or -1 for "the
 * error stream". Paths are kept for log_reopen; NULL means no file.
 */
enum { STREAM_ERROR = 0, STREAM_ACCESS, STREAM_SLOW, N_STREAMS };
static int stream_fd[N_STREAMS] = { STDERR_FILENO, -1, -1 };
static char *stream_path[N_STREAMS];
static int saved_stderr = -1; /* the stderr we started with, once a file took fd 2 */

/*
 * getpid() is a system call (glibc stopped caching it) and every access line
 * carries the pid: it is cached, and forgotten in the child of a fork.
 */
static pid_t cached_pid;
static pthread_once_t pid_once = PTHREAD_ONCE_INIT;

static void forget_pid(void)
{
	__atomic_store_n(&cached_pid, 0, __ATOMIC_RELAXED);
}

static void watch_forks(void)
{
	pthread_atfork(NULL, NULL, forget_pid);
}

static pid_t current_pid(void)
{
	pid_t pid;

	pthread_once(&pid_once, watch_forks);
	pid = __atomic_load_n(&cached_pid, __ATOMIC_RELAXED);
	if (pid == 0) {
		pid = getpid();
		__atomic_store_n(&cached_pid, pid, __ATOMIC_RELAXED);
	}
	return pid;
}

void log_set_level(enum log_level level)
{
	current_level = level;
}

enum log_level log_get_level(void)
{
	return current_level;
}

int log_level_parse(const char *name, enum log_level *out)
{
	for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++) {
		if (strcasecmp(name, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

const char *log_level_name(enum log_level level)
{
	return level_names[level];
}

int log_format_parse(const char *name, enum log_format *out)
{
	if (strcasecmp(name, "text") == 0)
		*out = LOG_FORMAT_TEXT;
	else if (strcasecmp(name, "json") == 0)
		*out = LOG_FORMAT_JSON;
	else
		return -1;
	return 0;
}

void log_set_access_format(enum log_format format)
{
	access_format = format;
}

static void write_to(int stream, const char *line, size_t len)
{
	int fd = stream_fd[stream];

	/* A failed write to a log has nowhere better to be reported. */
	if (write(fd >= 0 ? fd : STDERR_FILENO, line, len) < 0)
		return;
}

void log_write_line(const char *line, unsigned long len)
{
	write_to(STREAM_ERROR, line, len);
}

/* ---- files ------------------------------------------------------------------ */

/*
 * Opens a log file for appending, created with LOG_FILE_MODE (the umask can
 * only take bits away). A log holds request URIs and ids: a file of ours
 * that others may read (made by a shell redirect, an old logrotate "create
 * 0644") loses the others' bits; the owner and group keep theirs.
 */
static int open_log(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, LOG_FILE_MODE);
	struct stat st;

	if (fd < 0) {
		snprintf(err, errlen, "cannot open log file '%s': %s", path, strerror(errno));
		return -1;
	}
	/* Best effort: a file that cannot be tightened is still a usable log. */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
	    (st.st_mode & S_IRWXO) != 0)
		(void)fchmod(fd, st.st_mode & 07770);
	return fd;
}

/* Puts fd in place of the stream's descriptor (dup2: no moment without one). */
static int install(int stream, int fd)
{
	int target = stream_fd[stream];

	if (stream == STREAM_ERROR) {
		target = STDERR_FILENO;
		if (saved_stderr < 0)
			saved_stderr = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	} else if (target < 0) {
		stream_fd[stream] = fd; /* first time: the new descriptor is the stream */
		return 0;
	}
	if (dup2(fd, target) < 0)
		return -1;
	close(fd);
	return 0;
}

int log_open_files(const struct log_files *files, char *err, size_t errlen)
{
	const char *paths[N_STREAMS] = { files->error_log, files->access_log, files->slow_log };
	int fds[N_STREAMS] = { -1, -1, -1 };

	for (int i = 0; i < N_STREAMS; i++) {
		if (paths[i] == NULL || paths[i][0] == '\0')
			continue;
		fds[i] = open_log(paths[i], err, errlen);
		if (fds[i] < 0)
			goto fail;
	}
	for (int i = 0; i < N_STREAMS; i++) {
		free(stream_path[i]);
		stream_path[i] = NULL;
		if (fds[i] < 0) {
			/* No file (any more): back to the error stream, or to the first stderr. */
			if (i != STREAM_ERROR && stream_fd[i] >= 0) {
				close(stream_fd[i]);
				stream_fd[i] = -1;
			} else if (i == STREAM_ERROR && saved_stderr >= 0) {
				dup2(saved_stderr, STDERR_FILENO);
			}
			continue;
		}
		stream_path[i] = xstrdup(paths[i]);
		if (install(i, fds[i]) < 0) {
			snprintf(err, errlen, "cannot use log file '%s': %s", paths[i], strerror(errno));
			close(fds[i]);
			return -1;
		}
	}
	return 0;
fail:
	for (int i = 0; i < N_STREAMS; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return -1;
}

int log_reopen(char *err, size_t errlen)
{
	int rc = 0;

	for (int i = 0; i < N_STREAMS; i++) {
		int fd;

		if (stream_path[i] == NULL)
			continue;
		fd = open_log(stream_path[i], err, errlen);
		if (fd < 0 || install(i, fd) < 0) {
			if (fd >= 0) {
				snprintf(err, errlen, "cannot reopen log file '%s': %s", stream_path[i],
					 strerror(errno));
				close(fd);
			}
			rc = -1;
		}
	}
	return rc;
}

void log_reopen_on_signal(const char *note)
{
	char err[256];

	if (log_reopen(err, sizeof err) < 0)
		log_error("SIGUSR1: %s", err);
	else
		log_info("SIGUSR1: log files reopened%s", note);
}

/* ---- lines ------------------------------------------------------------------ */

/*
 * "2026-11-25T14:28:48.478Z" into out (at least 25 bytes); returns its length.
 * The part up to the second is formatted once per second per thread: a busy
 * thread writes many lines a second and strftime is most of a line's cost.
 */
static size_t format_stamp(char *out, size_t len)
{
	static __thread time_t cached_sec = (time_t)-1;
	static __thread char cached[24];
	static __thread size_t cached_len;
	struct timeval tv;
	unsigned ms;

	gettimeofday(&tv, NULL);
	if (tv.tv_sec != cached_sec) {
		struct tm tm;

		gmtime_r(&tv.tv_sec, &tm);
		cached_len = strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S", &tm);
		cached_sec = tv.tv_sec;
	}
	if (len < cached_len + 6)
		return 0;
	memcpy(out, cached, cached_len);
	ms = (unsigned)(tv.tv_usec / 1000);
	out[cached_len] = '.';
	out[cached_len + 1] = (char)('0' + ms / 100);
	out[cached_len + 2] = (char)('0' + ms / 10 % 10);
	out[cached_len + 3] = (char)('0' + ms % 10);
	out[cached_len + 4] = 'Z';
	out[cached_len + 5] = '\0';
	return cached_len + 5;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[2048];
	size_t n;
	int rc;
	va_list ap;

	if (level > current_level)
		return;
	n = format_stamp(line, sizeof line);
	rc = snprintf(line + n, sizeof line - n, " [%d] %s: ", (int)current_pid(), level_names[level]);
	if (rc > 0)
		n += (size_t)rc;
	va_start(ap, fmt);
	rc = vsnprintf(line + n, sizeof line - n, fmt, ap);
	va_end(ap);
	if (rc > 0)
		n += (size_t)rc;
	if (n > sizeof line - 2)
		n = sizeof line - 2;
	line[n++] = '\n';
	log_write_line(line, n);
}

void log_escape(struct buf *out, const char *s, size_t len, enum log_escape_mode mode)
{
	static const char hex[] = "0123456789abcdef";
	bool text = mode == LOG_ESCAPE_TEXT;
	size_t run = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\' && !(text && c == ' '))
			continue;
		/* Copy the plain run before this byte in one go. */
		buf_append(out, s + run, i - run);
		run = i + 1;
		if (c == ' ') {
			buf_putc(out, '+');
		} else if (c == '"' || c == '\\') {
			char esc[2] = { '\\', (char)c };

			buf_append(out, esc, sizeof esc);
		} else if (c >= 0x80 && text) {
			char esc[4] = { '\\', 'x', hex[c >> 4], hex[c & 15] };

			buf_append(out, esc, sizeof esc);
		} else {
			char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

			buf_append(out, esc, sizeof esc);
		}
	}
	buf_append(out, s + run, len - run);
}

/* A text field: escaped, no spaces, "-" for none. */
static void put_field(struct buf *out, const char *s)
{
	s = s ? s : "-";
	log_escape(out, s, strlen(s), LOG_ESCAPE_TEXT);
}

static void put_json_str(struct buf *out, const char *key, const char *s)
{
	buf_putc(out, ',');
	buf_putc(out, '"');
	buf_puts(out, key);
	buf_puts(out, "\":");
	if (s == NULL) {
		buf_puts(out, "null");
		return;
	}
	buf_putc(out, '"');
	log_escape(out, s, strlen(s), LOG_ESCAPE_JSON);
	buf_putc(out, '"');
}

/* Decimal digits of v, without printf. */
static void put_uint(struct buf *out, unsigned long long v)
{
	char digits[24];
	size_t n = sizeof digits;

	do {
		digits[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	buf_append(out, digits + n, sizeof digits - n);
}

/* Nanoseconds as milliseconds with three decimals ("1.016"). */
static void put_ms(struct buf *out, long long ns)
{
	unsigned long long us = ns > 0 ? (unsigned long long)ns / 1000 : 0;
	char frac[4] = { '.', (char)('0' + us / 100 % 10), (char)('0' + us / 10 % 10), (char)('0' + us % 10) };

	put_uint(out, us / 1000);
	buf_append(out, frac, sizeof frac);
}

/* "<time> [<pid>] <tag>: " */
static void put_prefix(struct buf *out, const char *tag)
{
	char stamp[40];
	size_t n = format_stamp(stamp, sizeof stamp);

	buf_append(out, stamp, n);
	buf_puts(out, " [");
	put_uint(out, (unsigned long long)current_pid());
	buf_puts(out, "] ");
	buf_puts(out, tag);
	buf_puts(out, ": ");
}

/*
 * What access and slow text lines start with:
 * "<time> [<pid>] <tag>: ID METHOD URI STATUS [BYTES ]1.016ms wait=0.012ms "
 */
static void put_text_head(struct buf *out, const char *tag, const struct log_access_entry *e, bool bytes)
{
	const char *const fields[] = { e->request_id, e->method, e->uri };

	put_prefix(out, tag);
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
		put_field(out, fields[i]);
		buf_putc(out, ' ');
	}
	put_uint(out, (unsigned long long)(e->status > 0 ? e->status : 0));
	buf_putc(out, ' ');
	if (bytes) {
		put_uint(out, e->bytes);
		buf_putc(out, ' ');
	}
	put_ms(out, e->duration_ns);
	buf_puts(out, "ms wait=");
	put_ms(out, e->pool_wait_ns);
	buf_puts(out, "ms ");
}

void log_access(const struct log_access_entry *e, struct buf *line)
{
	buf_reset(line);
	if (access_format == LOG_FORMAT_JSON) {
		char stamp[40];
		size_t n = format_stamp(stamp, sizeof stamp);

		buf_puts(line, "{\"time\":\"");
		buf_append(line, stamp, n);
		buf_puts(line, "\",\"pid\":");
		put_uint(line, (unsigned long long)current_pid());
		put_json_str(line, "request_id", e->request_id);
		put_json_str(line, "method", e->method);
		put_json_str(line, "uri", e->uri);
		buf_puts(line, ",\"status\":");
		put_uint(line, (unsigned long long)(e->status > 0 ? e->status : 0));
		buf_puts(line, ",\"bytes\":");
		put_uint(line, e->bytes);
		buf_puts(line, ",\"duration_ms\":");
		put_ms(line, e->duration_ns);
		buf_puts(line, ",\"pool_wait_ms\":");
		put_ms(line, e->pool_wait_ns);
		put_json_str(line, "route", e->route);
		put_json_str(line, "owner", e->owner);
		put_json_str(line, "credential", e->credential);
		buf_puts(line, "}\n");
	} else {
		put_text_head(line, "access", e, true);
		put_field(line, e->route);
		buf_puts(line, " owner=");
		put_field(line, e->owner);
		buf_puts(line, " cred=");
		put_field(line, e->credential);
		buf_putc(line, '\n');
	}
	write_to(STREAM_ACCESS, line->data, line->len);
}

void log_slow(const struct log_access_entry *e, struct buf *line)
{
	buf_reset(line);
	put_text_head(line, "slow", e, false);
	buf_puts(line, "route=");
	put_field(line, e->route);
	buf_puts(line, " sql=");
	if (e->n_statements == 0)
		buf_putc(line, '-');
	for (unsigned i = 0; i < e->n_listed; i++) {
		if (i > 0)
			buf_putc(line, ',');
		put_field(line, e->statements[i]);
	}
	if (e->n_statements > e->n_listed) {
		buf_puts(line, ",+");
		put_uint(line, e->n_statements - e->n_listed);
	}
	buf_puts(line, " rows=");
	put_uint(line, e->rows);
	buf_putc(line, '\n');
	write_to(STREAM_SLOW, line->data, line->len);
}
