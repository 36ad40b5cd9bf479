#include "xalloc.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void oom(size_t size) __attribute__((noreturn));

static void oom(size_t size)
{
	char msg[96];
	int n = snprintf(msg, sizeof msg, "taskapi: fatal: out of memory allocating %zu bytes\n", size);

	/* write(2), not stdio: the heap is what just failed */
	if (n > 0 && write(STDERR_FILENO, msg, (size_t)n) < 0)
		abort();
	abort();
}

void *xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (p == NULL)
		oom(size);
	return p;
}

void *xcalloc(size_t count, size_t size)
{
	void *p = calloc(count ? count : 1, size ? size : 1);

	if (p == NULL)
		oom(count * size);
	return p;
}

void *xrealloc(void *ptr, size_t size)
{
	void *p = realloc(ptr, size ? size : 1);

	if (p == NULL)
		oom(size);
	return p;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t len)
{
	char *p = xmalloc(len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

size_t xsize_add(size_t a, size_t b)
{
	size_t sum;

	if (__builtin_add_overflow(a, b, &sum))
		oom(SIZE_MAX);
	return sum;
}

size_t xsize_mul(size_t a, size_t b)
{
	size_t product;

	if (__builtin_mul_overflow(a, b, &product))
		oom(SIZE_MAX);
	return product;
}

void xalloc_init(void)
{
	/* jansson frees with the function it is given: free() matches xmalloc's malloc. */
	json_set_alloc_funcs(xmalloc, free);
}
