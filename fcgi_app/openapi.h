#ifndef TASKAPI_OPENAPI_H
#define TASKAPI_OPENAPI_H

#include <stddef.h>

struct handler_ctx;

/*
 * docs/openapi.yaml as compact JSON, generated at build time into
 * openapi_doc.c (NUL-terminated; openapi_json_len excludes the NUL).
 */
extern const unsigned char openapi_json[];
extern const size_t openapi_json_len;

/*
 * GET /openapi.json. Under a prefix (the request's root_path) it carries
 * "servers": [{"url": "<prefix>"}]; at the root, no servers.
 */
void openapi_serve(struct handler_ctx *ctx);

#endif
