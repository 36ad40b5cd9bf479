#ifndef TASKAPI_PROCTITLE_H
#define TASKAPI_PROCTITLE_H

#include <stddef.h>

/*
 * Process titles, as ps shows them (/proc/PID/cmdline), the way nginx and
 * PHP-FPM tell their processes apart:
 *
 *   taskapi: master process /usr/local/bin/taskapi -c /etc/taskapi/taskapi.ini
 *   taskapi: worker process (generation 1)
 *   taskapi: admin process
 *
 * Linux has no setproctitle(3): the title is written over the memory that
 * holds argv and, right after it, the environment strings (nginx's
 * ngx_setproctitle, tmux's and OpenSSH's compat setproctitle). The
 * environment is copied elsewhere first, and main() goes on with a copy of
 * argv, so nothing still points into the overwritten memory. The process
 * name (comm: what top, pidof, killall and `ps -C` match) is left as it is:
 * every process stays "taskapi", as nginx's and PHP-FPM's do.
 *
 * This is process-wide state by nature (there is one argv area per
 * process): it lives here, set once at start and then only by the process
 * whose title changes.
 */

/*
 * Call first thing in main(), before anything reads argv or the environment
 * through saved pointers. Returns a copy of argv (argc entries and a NULL),
 * owned by this module for the life of the process: main() must use it
 * instead of argv. environ is replaced by a copy too; getenv/setenv keep
 * working. Never fails (out of memory aborts, as everywhere).
 */
char **proctitle_init(int argc, char **argv);

/* The original command line, its arguments joined by spaces; "" before init. Borrowed. */
const char *proctitle_command_line(void);

/* How many bytes a title may have (its NUL excluded); 0 before init. */
size_t proctitle_room(void);

/*
 * Sets the title from a printf format, cut to proctitle_room() bytes. Does
 * nothing before proctitle_init.
 */
void proctitle_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Sets "PREFIX <original command line>" when it fits whole, so that scripts
 * matching a process by its arguments (config file, socket path) still find
 * it; otherwise the title is left unchanged. Returns 0 when set, -1 when not.
 */
int proctitle_set_with_command(const char *prefix);

#endif
