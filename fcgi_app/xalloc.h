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

/*
 * a + b and a * b for sizes about to be allocated: a result that does not fit
 * in size_t is an allocation that cannot succeed, so it takes the same
 * out-of-memory exit instead of wrapping round to a small size.
 */
size_t xsize_add(size_t a, size_t b);
size_t xsize_mul(size_t a, size_t b);

/*
 * Puts jansson's allocations under this policy too (json_set_alloc_funcs):
 * call once at start, before any JSON value exists or any thread starts.
 */
void xalloc_init(void);

#endif
