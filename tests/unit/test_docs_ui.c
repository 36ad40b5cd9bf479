/*
 * Unit tests for docs_ui.c: the /docs (Swagger UI) and /redoc (ReDoc) pages
 * with and without the UI files, under a root_path, with a root_path that
 * tries to break out of its HTML and JavaScript context, their
 * Content-Security-Policy, and the routes through app_handle ([api] docs on
 * and off).
 */
#include <check.h>
#include <openssl/evp.h>
#include <string.h>

#include "app.h"
#include "db_env.h"
#include "docs_ui.h"
#include "unit.h"

static const struct docs_ui_build with_ui = { true, "5.0.1", "2.9.9" };
static const struct docs_ui_build without_ui = { false, NULL, NULL };

static struct buf html, csp;

static void setup(void)
{
	buf_init(&html);
	buf_init(&csp);
}

static void teardown(void)
{
	buf_release(&html);
	buf_release(&csp);
}

static void render(enum docs_ui_page page, const struct docs_ui_build *b, const char *root)
{
	buf_reset(&html);
	buf_reset(&csp);
	ck_assert_int_eq(docs_ui_render(page, b, root, strlen(root), &html, &csp), 0);
}

#define has(b, s) (strstr((b).data, (s)) != NULL)

START_TEST(test_swagger_page)
{
	render(DOCS_UI_SWAGGER, &with_ui, "");
	ck_assert_msg(has(html, "<link rel=\"stylesheet\" href=\"/docs/static/swagger-ui/swagger-ui.css?v=5.0.1\">"), "%s", html.data);
	ck_assert(has(html, "<script src=\"/docs/static/swagger-ui/swagger-ui-bundle.js?v=5.0.1\"></script>"));
	ck_assert(has(html, "SwaggerUIBundle({url: \"/openapi.json\", dom_id: \"#swagger-ui\""));
	ck_assert(has(html, "validatorUrl: null"));
	ck_assert(has(html, "<div id=\"swagger-ui\"></div>"));
	ck_assert(has(csp, "default-src 'none'; script-src 'self' 'sha256-"));
	ck_assert(has(csp, "connect-src 'self'"));
	ck_assert(!has(csp, "unsafe-eval"));
	ck_assert(has(csp, "frame-ancestors 'none'"));
}
END_TEST

/* The policy's hash is the hash of the one inline script, computed here on its own. */
START_TEST(test_swagger_script_hash)
{
	const char *start, *end;
	unsigned char md[EVP_MAX_MD_SIZE], b64[128];
	unsigned int md_len = 0;
	char want[160];

	render(DOCS_UI_SWAGGER, &with_ui, "/api");
	start = strstr(html.data, "<script>");
	ck_assert_ptr_nonnull(start);
	start += strlen("<script>");
	end = strstr(start, "</script>");
	ck_assert_ptr_nonnull(end);
	ck_assert_int_eq(EVP_Digest(start, (size_t)(end - start), md, &md_len, EVP_sha256(), NULL), 1);
	EVP_EncodeBlock(b64, md, (int)md_len);
	snprintf(want, sizeof want, "script-src 'self' 'sha256-%s';", (const char *)b64);
	ck_assert_msg(has(csp, want), "%s not in %s", want, csp.data);
	/* One inline script only: another would run unhashed, i.e. not at all. */
	ck_assert_ptr_null(strstr(end, "<script>"));
}
END_TEST

START_TEST(test_redoc_page_under_root_path)
{
	render(DOCS_UI_REDOC, &with_ui, "/api/v1");
	ck_assert_msg(has(html, "<redoc spec-url=\"/api/v1/openapi.json\"></redoc>"), "%s", html.data);
	ck_assert(has(html, "<script src=\"/api/v1/docs/static/redoc/redoc.standalone.js?v=2.9.9\"></script>"));
	/* No inline script at all: script-src 'self' is enough. */
	ck_assert(!has(html, "<script>"));
	ck_assert(has(csp, "script-src 'self';"));
	ck_assert(has(csp, "worker-src 'self' blob:"));

	render(DOCS_UI_SWAGGER, &with_ui, "/api/v1");
	ck_assert(has(html, "href=\"/api/v1/docs/static/swagger-ui/swagger-ui.css?v=5.0.1\""));
	ck_assert(has(html, "src=\"/api/v1/docs/static/swagger-ui/swagger-ui-bundle.js?v=5.0.1\""));
	ck_assert(has(html, "url: \"/api/v1/openapi.json\""));
}
END_TEST

START_TEST(test_without_ui)
{
	enum docs_ui_page pages[] = { DOCS_UI_SWAGGER, DOCS_UI_REDOC };

	for (size_t i = 0; i < 2; i++) {
		render(pages[i], &without_ui, "/api");
		ck_assert_msg(has(html, "<a href=\"/api/openapi.json\">/api/openapi.json</a>"), "%s", html.data);
		ck_assert(has(html, "script/bootstrap"));
		ck_assert(has(html, "npm ci --ignore-scripts"));
		ck_assert(has(html, "./configure"));
		ck_assert(!has(html, "<script"));
		ck_assert(!has(html, "/docs/static/swagger-ui"));
		ck_assert(has(csp, "default-src 'none'"));
		ck_assert(!has(csp, "script-src"));
	}
	render(DOCS_UI_SWAGGER, &without_ui, "");
	ck_assert(has(html, "<a href=\"/openapi.json\">/openapi.json</a>"));
}
END_TEST

/* How many of the characters that end a string or an attribute, or open a tag, text holds. */
static size_t specials(const char *text)
{
	size_t n = 0;

	for (; *text; text++)
		n += strchr("\"'<>\\&\n", *text) != NULL;
	return n;
}

/* A root_path (from SCRIPT_NAME, say) cannot end an attribute or a string, or open a tag. */
START_TEST(test_hostile_root_path)
{
	const char *root = "/a\"><script>alert(1)</script>'\\\n\xc3\xa9%";
	enum docs_ui_page pages[] = { DOCS_UI_SWAGGER, DOCS_UI_REDOC };

	for (size_t i = 0; i < 2; i++) {
		const struct docs_ui_build *b = i == 0 ? &with_ui : &without_ui;

		for (size_t p = 0; p < 2; p++) {
			size_t plain;

			render(pages[p], b, "/a");
			plain = specials(html.data);
			render(pages[p], b, root);
			ck_assert(!has(html, "alert(1)"));
			ck_assert_uint_eq(specials(html.data), plain);
			ck_assert_msg(has(html, "/a%22%3E%3Cscript%3Ealert%281%29%3C/script%3E%27%5C%0A%C3%A9%25/openapi.json"),
				      "%s", html.data);
		}
	}
}
END_TEST

static const char *handle(struct app_fixture *f, const char *path, const char *root)
{
	request_reset(&f->req);
	f->req.method = HTTP_GET;
	buf_append(&f->req.path, path, strlen(path));
	buf_append(&f->req.root_path, root, strlen(root));
	return app_handle(&f->app, &f->req, &f->resp, &f->who);
}

static bool has_header(const struct response *resp, const char *line)
{
	return resp->headers.len > 0 && memmem(resp->headers.data, resp->headers.len, line, strlen(line)) != NULL;
}

START_TEST(test_routes)
{
	struct app_fixture f;
	struct docs_ui_build b = docs_ui_this_build();
	char err[256];
	struct buf not_found = BUF_INIT;

	app_fixture_init(&f, &db_env_nowhere, 1);
	ck_assert_str_eq(handle(&f, "/docs", "/api"), "docs");
	ck_assert_int_eq(f.resp.status, 200);
	ck_assert_str_eq(f.resp.content_type, "text/html; charset=utf-8");
	ck_assert(has_header(&f.resp, "Content-Security-Policy: default-src 'none'"));
	ck_assert(memmem(f.resp.body.data, f.resp.body.len, "/api/openapi.json", 17) != NULL);
	/* This build's page: the UI's when configure found it, else the one saying how to add it. */
	ck_assert(b.installed == (memmem(f.resp.body.data, f.resp.body.len, "swagger-ui-bundle.js", 20) != NULL));
	ck_assert_str_eq(handle(&f, "/redoc/", ""), "redoc");
	ck_assert_int_eq(f.resp.status, 200);
	ck_assert(b.installed == (memmem(f.resp.body.data, f.resp.body.len, "redoc.standalone.js", 19) != NULL));

	/* [api] docs = false: the same 404 as a path that never existed. */
	handle(&f, "/no/such/page", "");
	ck_assert_int_eq(f.resp.status, 404);
	buf_append(&not_found, f.resp.body.data, f.resp.body.len);
	ck_assert_int_eq(config_set(&f.cfg, "api", "docs", "false", err, sizeof err), 0);
	for (int i = 0; i < 2; i++) {
		handle(&f, i == 0 ? "/docs" : "/redoc", "");
		ck_assert_int_eq(f.resp.status, 404);
		ck_assert_ptr_null(f.resp.content_type);
		ck_assert(!has_header(&f.resp, "Content-Security-Policy"));
		ck_assert_uint_eq(f.resp.body.len, not_found.len);
		ck_assert(memcmp(f.resp.body.data, not_found.data, not_found.len) == 0);
	}
	buf_release(&not_found);
	app_fixture_release(&f);
}
END_TEST

Suite *unit_suite(void)
{
	return unit_suite_of("docs_ui", setup, teardown, test_swagger_page, test_swagger_script_hash,
			     test_redoc_page_under_root_path, test_without_ui, test_hostile_root_path,
			     test_routes);
}
