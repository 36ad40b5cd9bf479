#ifndef TASKAPI_DOCS_UI_H
#define TASKAPI_DOCS_UI_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/*
 * The browsable API docs, as FastAPI serves them: GET /docs (Swagger UI) and
 * GET /redoc (ReDoc). taskapi answers only the two small HTML pages; the UI
 * files they load are npm's swagger-ui-dist and redoc, installed under
 * $(pkgdatadir)/docs and served by the web server as <root_path>/docs/static/
 * (docs/deployment.md). Both pages point the UI at <root_path>/openapi.json,
 * so "Try it out" calls the same origin and prefix.
 *
 * A build without those files (no npm; configure says "docs UI: no") answers
 * both routes with a page that links openapi.json and says how to add them.
 * [api] docs = false turns both routes into the 404 of an unknown path.
 */
struct handler_ctx;

enum docs_ui_page { DOCS_UI_SWAGGER, DOCS_UI_REDOC };

/*
 * Whether this build installs the UI files (configure --enable-docs-ui), and
 * their versions, which the asset URLs carry (?v=) so that a web server may
 * cache them for a year. NULL versions when not installed.
 */
struct docs_ui_build {
	bool installed;
	const char *swagger_ui_version;
	const char *redoc_version;
};

/* This binary's docs_ui_build (from configure's defines). */
struct docs_ui_build docs_ui_this_build(void);

/*
 * Renders one page for the API served under root_path (root_len bytes, may
 * hold any bytes: it is percent-encoded into every URL, which then holds
 * only [A-Za-z0-9-._~/%] and is inert in HTML and JavaScript alike). Appends
 * the HTML to html and its Content-Security-Policy value to csp. Returns 0,
 * or -1 when the policy's script hash cannot be computed (nothing usable
 * was written then).
 */
int docs_ui_render(enum docs_ui_page page, const struct docs_ui_build *build,
		   const char *root_path, size_t root_len, struct buf *html, struct buf *csp);

/* GET /docs and GET /redoc: 200 text/html with the page, or 404 when [api] docs is off. */
void docs_ui_swagger(struct handler_ctx *ctx);
void docs_ui_redoc(struct handler_ctx *ctx);

#endif
