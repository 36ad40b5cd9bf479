/*
 * fuzz_app: a whole request through pipeline_serve and app_handle (params,
 * body, routing, handlers, serialization, access log) with the task store
 * stubbed in memory (fake_store.h).
 *
 * Input: byte 0 chooses how the store fails (mostly not at all), byte 1 how
 * many tasks it starts with (bits 0-3), whether the params are read in one
 * pass (bit 4) and the access log format (bit 5); then the params as
 * "NAME=value" lines up to an empty line, then the body. Checked beyond
 * "no crash":
 * - the answer is well-formed (fuzz_check_answer): Status line, headers
 *   without CR/LF, Content-Length, a JSON body with a detail on errors;
 * - no 5xx, except a 503 while the store was told to fail;
 * - every borrowed connection is given back;
 * - only a 413 (body left unread) closes the connection;
 * - the access line is one line, JSON that parses in the JSON format.
 */
#include <stdint.h>
#include <string.h>

#include "fake_store.h"
#include "fuzz_check.h"
#include "fuzz_serve.h"
#include "pipeline.h"

#define MAX_PARAMS 64
#define MAX_BODY_BYTES 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	enum fake_fail fail;
	const uint8_t *rest, *sep;
	size_t rest_len, params_len;
	struct fuzz_lines params;
	struct fuzz_answer a;
	int status;

	if (!ready) {
		fuzz_serve_init(MAX_BODY_BYTES);
		ready = true;
	}
	if (size < 2)
		return 0;
	fail = data[0] < 0xe0 ? FAKE_FAIL_NONE : (enum fake_fail)(1 + data[0] % (FAKE_FAIL_MODES - 1));
	fake_store_reset(data[1] & 15, fail);
	rest = data + 2;
	rest_len = size - 2;
	sep = memmem(rest, rest_len, "\n\n", 2);
	params_len = sep ? (size_t)(sep - rest) : rest_len;
	fuzz_lines_split(&params, rest, params_len, '\n', MAX_PARAMS);
	fuzz_serve(params.vec, sep ? (const char *)sep + 2 : "", sep ? rest_len - params_len - 2 : 0,
		   data[1] & 16, data[1] & 32 ? LOG_FORMAT_JSON : LOG_FORMAT_TEXT, &a);

	status = fuzz_check_answer(a.out, a.len, a.head, fail != FAKE_FAIL_NONE);
	FUZZ_CHECK(status == a.status, "Status %d written for a response of %d", status, a.status);
	FUZZ_CHECK(fake_store_in_use() == 0, "%u connections not given back (status %d)", fake_store_in_use(),
		   status);
	FUZZ_CHECK((a.flags & PIPELINE_WRITE_FAILED) == 0, "the in-memory write failed");
	FUZZ_CHECK(((a.flags & PIPELINE_CLOSE) != 0) == (status == 413), "PIPELINE_CLOSE with a %d", status);
	fuzz_lines_release(&params);
	return 0;
}
