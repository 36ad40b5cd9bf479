#include "proctitle.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "xalloc.h"

extern char **environ;

static struct {
	char *area;          /* argv[0]: where the title is written */
	size_t size;         /* bytes from area to the end of the last contiguous string */
	char *command_line;  /* the original arguments, joined by spaces */
	char **argv;         /* the copy main() uses from then on */
	char **env;          /* the array environ points to (setenv may replace it) */
	char *env_text;      /*
			      * every environment string, in one block: unsetenv drops
			      * pointers from the array, the strings stay owned here
			      */
} title;

/* The end (one past the NUL) of s when s starts exactly at end, else end itself. */
static char *extend(char *end, char *s)
{
	return s == end ? s + strlen(s) + 1 : end;
}

char **proctitle_init(int argc, char **argv)
{
	size_t len = 0, n_env = 0;
	char *end, *p;

	title.argv = xcalloc((size_t)argc + 1, sizeof *title.argv);
	for (int i = 0; i < argc; i++) {
		title.argv[i] = xstrdup(argv[i]);
		len += strlen(argv[i]) + 1;
	}
	title.command_line = xcalloc(1, len + 1);
	p = title.command_line;
	for (int i = 0; i < argc; i++) {
		size_t n = strlen(argv[i]);

		if (i > 0)
			*p++ = ' ';
		memcpy(p, argv[i], n);
		p += n;
	}
	if (argc == 0 || argv[0] == NULL)
		return title.argv;
	/*
	 * The kernel lays argv and then the environment strings out end to end;
	 * the title may use as much of that as is contiguous.
	 */
	end = argv[0];
	for (int i = 0; i < argc; i++)
		end = extend(end, argv[i]);
	for (char **e = environ; e != NULL && *e != NULL; e++, n_env++)
		end = extend(end, *e);
	/* Those environment strings are about to be overwritten: copy them all. */
	title.env = xcalloc(n_env + 1, sizeof *title.env);
	len = 0;
	for (size_t i = 0; i < n_env; i++)
		len += strlen(environ[i]) + 1;
	title.env_text = xmalloc(len + 1);
	p = title.env_text;
	for (size_t i = 0; i < n_env; i++) {
		title.env[i] = p;
		p = stpcpy(p, environ[i]) + 1;
	}
	environ = title.env;
	title.area = argv[0];
	title.size = (size_t)(end - argv[0]);
	return title.argv;
}

const char *proctitle_command_line(void)
{
	return title.command_line != NULL ? title.command_line : "";
}

size_t proctitle_room(void)
{
	return title.size > 0 ? title.size - 1 : 0;
}

/* Pads the rest of the area with NULs, so that nothing of the old text shows. */
static void clear_after(size_t used)
{
	if (used < title.size)
		memset(title.area + used, '\0', title.size - used);
}

void proctitle_set(const char *fmt, ...)
{
	va_list ap;
	int n;

	if (title.area == NULL || title.size < 2)
		return;
	va_start(ap, fmt);
	n = vsnprintf(title.area, title.size, fmt, ap);
	va_end(ap);
	if (n < 0) {
		title.area[0] = '\0';
		n = 0;
	}
	clear_after((size_t)n < title.size ? (size_t)n + 1 : title.size);
}

int proctitle_set_with_command(const char *prefix)
{
	if (title.area == NULL || strlen(prefix) + 1 + strlen(title.command_line) > proctitle_room())
		return -1;
	proctitle_set("%s %s", prefix, title.command_line);
	return 0;
}
