#include "openapi.h"

#include "app.h"
#include "buf.h"
#include "jsonw.h"
#include "request.h"
#include "response.h"

void openapi_serve(struct handler_ctx *ctx)
{
	const struct buf *prefix = &ctx->req->root_path;
	struct buf *out;

	if (prefix->len == 0) {
		response_raw_json(ctx->resp, 200, (const char *)openapi_json, openapi_json_len);
		return;
	}
	/*
	 * Under a prefix the document says where its paths are, as FastAPI's
	 * root_path does: a relative server URL, right for any host and port.
	 * The compiled-in document has no servers of its own: the key goes
	 * first, into its outer object.
	 */
	out = response_body(ctx->resp, 200);
	buf_puts(out, "{\"servers\":[{\"url\":");
	jsonw_string(out, prefix->data, prefix->len);
	buf_puts(out, "}],");
	buf_append(out, openapi_json + 1, openapi_json_len - 1);
}
