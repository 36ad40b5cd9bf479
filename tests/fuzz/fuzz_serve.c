#include "fuzz_serve.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "auth.h"
#include "buf.h"
#include "clock.h"
#include "fuzz_check.h"
#include "pipeline.h"

/* The harness process serves one request at a time: one front end, one pipeline. */
static struct {
	struct config cfg;
	struct app app;
	struct pipeline pl;
	char access_path[64];
	int access_fd; /* reads back what log.c appended, then empties it */
	/* the request in flight */
	char *const *envp;
	const char *body;
	size_t body_len, body_pos;
	struct buf written;
} s;

static const char *mem_param(void *ctx, const char *name)
{
	size_t n = strlen(name);

	(void)ctx;
	for (char *const *p = s.envp; *p != NULL; p++) /* FCGX_GetParam's rule: the first one */
		if (strncmp(*p, name, n) == 0 && (*p)[n] == '=')
			return *p + n + 1;
	return NULL;
}

static long mem_read(void *ctx, char *data, size_t n)
{
	size_t left = s.body_len - s.body_pos;

	(void)ctx;
	if (n > left)
		n = left;
	if (n > 0)
		memcpy(data, s.body + s.body_pos, n);
	s.body_pos += n;
	return (long)n;
}

static int mem_write(void *ctx, const char *data, size_t len)
{
	(void)ctx;
	buf_append(&s.written, data, len);
	return 0;
}

void fuzz_serve_init(long max_body_bytes)
{
	/* The error log stays stderr, where libFuzzer reports: only errors, not the injected failures' warnings. */
	struct log_files files = { NULL, NULL, "/dev/null" };
	char err[256];
	int fd;

	strcpy(s.access_path, "/tmp/taskapi-fuzz-access.XXXXXX");
	fd = mkstemp(s.access_path);
	FUZZ_CHECK(fd >= 0, "mkstemp");
	close(fd);
	files.access_log = s.access_path;
	FUZZ_CHECK(log_open_files(&files, err, sizeof err) == 0, "log_open_files: %s", err);
	log_set_level(LOG_LEVEL_ERROR);
	s.access_fd = open(s.access_path, O_RDWR | O_CLOEXEC);
	FUZZ_CHECK(s.access_fd >= 0, "open %s", s.access_path);
	unlink(s.access_path); /* log.c keeps writing to it; nothing is left behind */
	config_init(&s.cfg);
	s.cfg.server.max_body_bytes = max_body_bytes;
	s.cfg.log.access_log = 1;
	s.app.cfg = &s.cfg;
	s.app.db = NULL; /* fake_store.c's db_cluster_acquire needs none */
	FUZZ_CHECK(config_set(&s.cfg, "auth", "mode", "none", err, sizeof err) == 0, "auth.mode: %s", err);
	FUZZ_CHECK(auth_new(&s.cfg, NULL, &s.app.auth, err, sizeof err) == 0, "auth_new: %s", err);
	pipeline_init(&s.pl);
	buf_init(&s.written);
}

/* The access line the request left: exactly one, well-formed in its format. */
static void check_access_line(enum log_format format)
{
	/* As long as the file: a URI of a few KiB escaped byte by byte makes a line of 4 times that. */
	off_t size = lseek(s.access_fd, 0, SEEK_END);
	char *line;
	ssize_t n;

	FUZZ_CHECK(size > 0, "no access line");
	line = malloc((size_t)size + 1);
	FUZZ_CHECK(line != NULL, "out of memory");
	n = pread(s.access_fd, line, (size_t)size, 0);
	FUZZ_CHECK(n == size && line[n - 1] == '\n', "an access line not ended by a line break (%zd bytes)", n);
	FUZZ_CHECK(ftruncate(s.access_fd, 0) == 0, "cannot empty the access log");
	line[n] = '\0';
	FUZZ_CHECK(memchr(line, '\n', (size_t)n - 1) == NULL, "a line break inside the access line: %s", line);
	if (format == LOG_FORMAT_JSON) {
		json_error_t err;
		json_t *j = json_loadb(line, (size_t)n, 0, &err);

		FUZZ_CHECK(json_is_object(j), "an access line that is not a JSON object (%s): %s", err.text, line);
		json_decref(j);
	} else {
		for (ssize_t i = 0; i < n - 1; i++)
			FUZZ_CHECK(line[i] >= 0x20 && line[i] < 0x7f, "byte 0x%02x in the access line: %s",
				   (unsigned char)line[i], line);
	}
	free(line);
}

void fuzz_serve(char *const *envp, const char *body, size_t body_len, bool use_envp,
		enum log_format format, struct fuzz_answer *answer)
{
	struct pipeline_frontend fe;

	memset(&fe, 0, sizeof fe);
	fe.param = mem_param;
	fe.envp = use_envp ? envp : NULL;
	fe.read = mem_read;
	fe.write = mem_write;
	fe.traced = true;
	s.envp = envp;
	s.body = body;
	s.body_len = body_len;
	s.body_pos = 0;
	buf_reset(&s.written);
	log_set_access_format(format);
	answer->flags = pipeline_serve(&s.pl, &s.app, &fe, clock_ns());
	answer->out = s.written.data ? s.written.data : "";
	answer->len = s.written.len;
	answer->status = s.pl.resp.status;
	answer->head = s.pl.req.method == HTTP_HEAD;
	check_access_line(format);
}
