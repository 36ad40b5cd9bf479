#ifndef TASKAPI_BUF_H
#define TASKAPI_BUF_H

#include <stdarg.h>
#include <stddef.h>

/*
 * A growable byte buffer, always NUL-terminated after len bytes so it can be
 * read as a C string. Meant to be reused: buf_reset keeps the storage, so a
 * thread that answers many requests stops allocating once it is warm.
 */
struct buf {
	char *data;
	size_t len;
	size_t cap;
};

#define BUF_INIT { NULL, 0, 0 }

void buf_init(struct buf *b);
/* Frees the storage; the buffer is empty and usable again afterwards. */
void buf_release(struct buf *b);
/* Empties the buffer but keeps its storage. */
void buf_reset(struct buf *b);
/*
 * Makes room for at least extra more bytes (plus the terminating NUL). A size
 * that does not fit in size_t takes xalloc's out-of-memory exit.
 */
void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *data, size_t len);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

#endif
