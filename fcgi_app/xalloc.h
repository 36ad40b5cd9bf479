#ifndef TASKAPI_XALLOC_H
#define TASKAPI_XALLOC_H

#include <stddef.h>

/*
 * Out-of-memory policy, decided once (Redis's zmalloc habit): these never
 * return NULL. On allocation failure they log and abort the process; the
 * supervisor (or the web server) starts a fresh one. Callers own what they get
 * and release it with free().
 */
void *xmalloc(size_t size);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t len);

#endif
