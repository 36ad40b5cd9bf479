#include "docs_ui.h"

#include <openssl/evp.h>
#include <string.h>

#include "app.h"

struct docs_ui_build docs_ui_this_build(void)
{
#ifdef TASKAPI_DOCS_UI
	struct docs_ui_build b = { true, TASKAPI_SWAGGER_UI_VERSION, TASKAPI_REDOC_VERSION };
#else
	struct docs_ui_build b = { false, NULL, NULL };
#endif
	return b;
}

/*
 * Appends root_path percent-encoded: every byte but [A-Za-z0-9-._~/] becomes
 * %XX. The prefix may come from SCRIPT_NAME, so it is not trusted; what is
 * left can break out of neither an HTML attribute nor a JavaScript string.
 */
static void put_root(struct buf *out, const char *root, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)root[i];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
			buf_putc(out, (char)c);
		} else {
			buf_putc(out, '%');
			buf_putc(out, hex[c >> 4]);
			buf_putc(out, hex[c & 15]);
		}
	}
}

/* 'sha256-<base64>' of an inline script, for script-src (CSP level 2). */
static int put_script_hash(struct buf *csp, const char *script, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	unsigned char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];

	if (EVP_Digest(script, len, md, &md_len, EVP_sha256(), NULL) != 1)
		return -1;
	EVP_EncodeBlock(b64, md, (int)md_len);
	buf_printf(csp, " 'sha256-%s'", (const char *)b64);
	return 0;
}

/* Directives every page shares: nothing from elsewhere, no framing, no <base>. */
#define CSP_TAIL "; base-uri 'none'; frame-ancestors 'none'"

static void put_head(struct buf *html, const char *title)
{
	buf_printf(html,
		   "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
		   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
		   "<title>%s</title>\n"
		   /* No icon: the browser would ask taskapi for /favicon.ico, a 404. */
		   "<link rel=\"icon\" href=\"data:,\">\n", title);
}

/* Without the UI files: where the document is and how to add the UI. */
static void render_missing(enum docs_ui_page page, const char *root, size_t root_len,
			   struct buf *html, struct buf *csp)
{
	put_head(html, page == DOCS_UI_SWAGGER ? "taskapi - API docs (Swagger UI not installed)"
					       : "taskapi - API docs (ReDoc not installed)");
	buf_puts(html, "</head>\n<body>\n<h1>taskapi API documentation</h1>\n"
		 "<p>The OpenAPI document of this API: <a href=\"");
	put_root(html, root, root_len);
	buf_puts(html, "/openapi.json\">");
	put_root(html, root, root_len);
	buf_puts(html, "/openapi.json</a>.</p>\n"
		 "<p>This taskapi was built without the Swagger UI and ReDoc files, so /docs and "
		 "/redoc show only this page. To add them, in the source tree: run script/bootstrap "
		 "(or <code>npm ci --ignore-scripts</code> in ui/), then ./configure (it finds them; "
		 "--enable-docs-ui insists), make and make install, and let the web server serve "
		 "them as /docs/static/ (docs/deployment.md).</p>\n</body>\n</html>\n");
	buf_puts(csp, "default-src 'none'; img-src data:; form-action 'none'" CSP_TAIL);
}

static int render_swagger(const struct docs_ui_build *build, const char *root, size_t root_len,
			  struct buf *html, struct buf *csp)
{
	struct buf script = BUF_INIT;
	int rc = -1;

	/* FastAPI's settings; no validator badge (it would call validator.swagger.io). */
	buf_puts(&script, "\nSwaggerUIBundle({url: \"");
	put_root(&script, root, root_len);
	buf_puts(&script, "/openapi.json\", dom_id: \"#swagger-ui\", deepLinking: true, "
		 "validatorUrl: null, showExtensions: true, showCommonExtensions: true, "
		 "presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset], "
		 "layout: \"BaseLayout\"});\n");

	put_head(html, "taskapi - Swagger UI");
	buf_puts(html, "<link rel=\"stylesheet\" href=\"");
	put_root(html, root, root_len);
	buf_printf(html, "/docs/static/swagger-ui/swagger-ui.css?v=%s\">\n</head>\n<body>\n"
		   "<div id=\"swagger-ui\"></div>\n<script src=\"", build->swagger_ui_version);
	put_root(html, root, root_len);
	buf_printf(html, "/docs/static/swagger-ui/swagger-ui-bundle.js?v=%s\"></script>\n<script>",
		   build->swagger_ui_version);
	buf_append(html, script.data, script.len);
	buf_puts(html, "</script>\n</body>\n</html>\n");

	/* Swagger UI sets style attributes and shows data: images; "Try it out" fetches 'self'. */
	buf_puts(csp, "default-src 'none'; script-src 'self'");
	if (put_script_hash(csp, script.data, script.len) != 0)
		goto out;
	buf_puts(csp, "; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
		 "connect-src 'self'; form-action 'self'" CSP_TAIL);
	rc = 0;
out:
	buf_release(&script);
	return rc;
}

static void render_redoc(const struct docs_ui_build *build, const char *root, size_t root_len,
			 struct buf *html, struct buf *csp)
{
	/* The standalone bundle starts itself on the <redoc> element: no inline script. */
	put_head(html, "taskapi - ReDoc");
	buf_puts(html, "<style>body { margin: 0; padding: 0; }</style>\n</head>\n<body>\n<redoc spec-url=\"");
	put_root(html, root, root_len);
	buf_puts(html, "/openapi.json\"></redoc>\n<script src=\"");
	put_root(html, root, root_len);
	buf_printf(html, "/docs/static/redoc/redoc.standalone.js?v=%s\"></script>\n</body>\n</html>\n",
		   build->redoc_version);
	/* ReDoc injects <style> elements (styled-components) and runs its search in a blob: worker. */
	buf_puts(csp, "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
		 "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
		 "form-action 'none'" CSP_TAIL);
}

int docs_ui_render(enum docs_ui_page page, const struct docs_ui_build *build,
		   const char *root_path, size_t root_len, struct buf *html, struct buf *csp)
{
	if (!build->installed) {
		render_missing(page, root_path, root_len, html, csp);
		return 0;
	}
	if (page == DOCS_UI_SWAGGER)
		return render_swagger(build, root_path, root_len, html, csp);
	render_redoc(build, root_path, root_len, html, csp);
	return 0;
}

static void serve(struct handler_ctx *ctx, enum docs_ui_page page)
{
	struct docs_ui_build build = docs_ui_this_build();
	struct buf html = BUF_INIT, csp = BUF_INIT;
	const struct buf *root = &ctx->req->root_path;

	if (!ctx->app->cfg->api.docs) {
		/* Switched off: the same answer as a path that never existed. */
		response_error(ctx->resp, 404, "Not Found");
		return;
	}
	if (docs_ui_render(page, &build, root->data ? root->data : "", root->len, &html, &csp) != 0) {
		response_error(ctx->resp, 500, "Internal Server Error");
		goto out;
	}
	response_text(ctx->resp, 200, "text/html; charset=utf-8", html.data, html.len);
	response_header(ctx->resp, "Content-Security-Policy", csp.data);
out:
	buf_release(&html);
	buf_release(&csp);
}

void docs_ui_swagger(struct handler_ctx *ctx)
{
	serve(ctx, DOCS_UI_SWAGGER);
}

void docs_ui_redoc(struct handler_ctx *ctx)
{
	serve(ctx, DOCS_UI_REDOC);
}
