#ifndef TASKAPI_LOG_H
#define TASKAPI_LOG_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG
};

/*
 * Logging: one line per event, written with a single write(2) so lines from
 * concurrent threads and processes never interleave (files are opened with
 * O_APPEND). Three streams:
 *
 *   error   leveled events (log_msg); stderr, or log.error_log, which then
 *           also takes stderr itself (fd 2), so library and sanitizer
 *           messages land there too;
 *   access  one line per request; log.access_log_file, else the error stream;
 *   slow    requests over log.slow_request_ms; log.slow_log_file, else the
 *           error stream.
 *
 * The level and the files are set at start-up, before threads exist.
 * log_reopen (SIGUSR1) may run while other threads write: each file is
 * reopened at its path and put in place of the old descriptor with dup2(2),
 * which is atomic, so a writer never sees a closed descriptor.
 */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parses "error", "warn", "info" or "debug"; returns -1 for anything else. */
int log_level_parse(const char *name, enum log_level *out);
const char *log_level_name(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

/* Appends a finished line (with its newline) to the error stream as is. */
void log_write_line(const char *line, unsigned long len);

/* Log files; an empty or NULL path means the default stream (see above). */
struct log_files {
	const char *error_log;
	const char *access_log;
	const char *slow_log;
};

/* Mode of a log file taskapi creates; an existing file of ours loses what others may do. */
#define LOG_FILE_MODE 0640

/*
 * Opens the files (append mode, created LOG_FILE_MODE; a file of ours that
 * others may read or write loses those bits) and makes them the streams.
 * All are opened before any is put in place: on failure nothing changes and
 * err says which file. Paths are copied, for log_reopen. Not thread-safe.
 */
int log_open_files(const struct log_files *files, char *err, size_t errlen);
/*
 * Reopens every file at its path (after logrotate moved it away). A file
 * that cannot be opened keeps its old descriptor and is reported in err;
 * returns -1 then, 0 when all were reopened (or there are none).
 */
int log_reopen(char *err, size_t errlen);
/*
 * SIGUSR1's work in every process: log_reopen, then an error line saying
 * which file failed, or an info line "SIGUSR1: log files reopened" + note
 * (note borrowed, "" for none).
 */
void log_reopen_on_signal(const char *note);

/* Access line format. */
enum log_format { LOG_FORMAT_TEXT = 0, LOG_FORMAT_JSON };
/* Parses "text" or "json"; -1 for anything else. */
int log_format_parse(const char *name, enum log_format *out);
void log_set_access_format(enum log_format format);

/* What an access (and slow) line says about one request. Strings are borrowed. */
struct log_access_entry {
	const char *request_id; /* never NULL */
	const char *method;     /* NULL: "-" */
	const char *uri;        /* NULL: "-" */
	int status;
	size_t bytes;           /* response body bytes */
	long long duration_ns;
	long long pool_wait_ns; /* time spent waiting in db_pool_acquire */
	const char *route;
	const char *owner;      /* the caller's owner (auth.h); NULL: "-" */
	const char *credential; /* the id of the credential that proved it, never a secret; NULL: "-" */
	/* slow lines only: the SQL statements run (names), and rows fetched */
	const char *const *statements;
	unsigned n_statements;     /* how many ran; more than listed when over the cap */
	unsigned n_listed;         /* how many names statements holds */
	unsigned long long rows;
};

/*
 * Formats the entry as one access line into line (reset first) and writes
 * it to the access stream. text:
 *   2026-11-25T14:29:09.462Z [pid] access: ID METHOD URI STATUS BYTES 0.383ms wait=0.012ms ROUTE owner=OWNER cred=ID
 * json: {"time":...,"pid":...,"request_id":...,"method":...,"uri":...,"status":...,
 *        "bytes":...,"duration_ms":...,"pool_wait_ms":...,"route":...,"owner":...,"credential":...}
 * Strings are escaped (log_escape): control characters, quotes,
 * backslashes and every byte >= 0x80.
 */
void log_access(const struct log_access_entry *e, struct buf *line);
/*
 * The slow-request line on the slow stream, always text:
 *   TIME [pid] slow: ID METHOD URI STATUS 812.004ms wait=0.010ms route=tasks.patch sql=update,get rows=1
 */
void log_slow(const struct log_access_entry *e, struct buf *line);

/*
 * How log_escape writes a byte that is not printable ASCII. Both forms
 * escape control characters (\u00XX), '"' and '\\', and every byte >= 0x80,
 * so a line never holds raw client bytes and a JSON line is always valid
 * JSON, whatever the URI:
 *   LOG_ESCAPE_TEXT  a byte >= 0x80 as \xHH (nginx's habit), a space as '+'
 *                    (text fields are separated by spaces);
 *   LOG_ESCAPE_JSON  a byte >= 0x80 as \u00HH: the decoded string read as
 *                    Latin-1 gives back the exact bytes (Python:
 *                    s.encode("latin-1")).
 */
enum log_escape_mode { LOG_ESCAPE_TEXT, LOG_ESCAPE_JSON };

/* Appends s (len bytes) escaped as mode says. */
void log_escape(struct buf *out, const char *s, size_t len, enum log_escape_mode mode);

#endif
