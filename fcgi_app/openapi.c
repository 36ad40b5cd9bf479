#include "openapi.h"

#include "app.h"

void openapi_serve(struct handler_ctx *ctx)
{
	response_raw_json(ctx->resp, 200, (const char *)openapi_json, openapi_json_len);
}
