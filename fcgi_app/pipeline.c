#include "pipeline.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "cors.h"
#include "log.h"
#include "metrics.h"
#include "trace.h"

void pipeline_init(struct pipeline *p)
{
	request_init(&p->req);
	response_init(&p->resp);
	buf_init(&p->out);
	buf_init(&p->line);
}

void pipeline_release(struct pipeline *p)
{
	request_release(&p->req);
	response_release(&p->resp);
	buf_release(&p->out);
	buf_release(&p->line);
}

/* Parses the params and reads the body; on REQUEST_BAD err says why, fit for the client. */
static enum request_status read_request(struct pipeline *p, const struct app *app,
					const struct pipeline_frontend *fe, char *err, size_t errlen)
{
	enum request_status status;

	if (fe->envp != NULL)
		status = request_parse_envp(&p->req, fe->envp, err, errlen);
	else
		status = request_parse(&p->req, fe->param, fe->ctx, err, errlen);
	if (fe->traced)
		trace_begin(p->req.request_id); /* even for a bad request: its lines need an id */
	if (status != REQUEST_OK)
		return status;
	if (fe->begin_body != NULL)
		fe->begin_body(fe->ctx, &p->req);
	status = request_read_body(&p->req, app->cfg->server.max_body_bytes, fe->read, fe->ctx);
	if (status == REQUEST_BAD)
		snprintf(err, errlen, "request body is shorter than its Content-Length");
	return status;
}

/* After the answer is written: the request's metrics, access line and slow line (log.c). */
static void request_done(struct pipeline *p, const struct app *app, const struct pipeline_frontend *fe,
			 const char *route, long long start_ns)
{
	const struct config *cfg = app->cfg;
	const struct trace *tr = trace_current();
	long long ns = clock_ns() - start_ns;
	bool slow = fe->traced && cfg->log.slow_request_ms > 0 && ns >= cfg->log.slow_request_ms * 1000000LL;
	bool access = config_access_log(cfg, fe->cgi);
	struct log_access_entry e;

	metrics_request(route, p->resp.status, ns, fe->traced ? tr->acquires : 0,
			fe->traced ? tr->pool_wait_ns : 0, slow);
	if (!access && !slow)
		return;
	memset(&e, 0, sizeof e);
	e.request_id = fe->traced ? tr->request_id : p->req.request_id ? p->req.request_id : "-";
	e.method = p->req.method_name && *p->req.method_name ? p->req.method_name : NULL;
	e.uri = fe->param(fe->ctx, "REQUEST_URI");
	e.status = p->resp.status;
	e.bytes = p->resp.has_body ? p->resp.body.len : 0;
	e.duration_ns = ns;
	e.route = route;
	e.owner = p->who.owner_len > 0 ? p->who.owner : NULL;
	e.credential = p->who.credential_id[0] ? p->who.credential_id : NULL;
	if (fe->traced) {
		e.pool_wait_ns = tr->pool_wait_ns;
		e.statements = tr->stmts;
		e.n_statements = tr->n_stmts;
		e.n_listed = tr->n_stmts < TRACE_MAX_STMTS ? tr->n_stmts : TRACE_MAX_STMTS;
		e.rows = tr->rows;
	}
	if (access)
		log_access(&e, &p->line);
	if (slow)
		log_slow(&e, &p->line);
}

int pipeline_serve(struct pipeline *p, const struct app *app, const struct pipeline_frontend *fe,
		   long long start_ns)
{
	const char *route = "bad_request";
	char err[160];
	int result = 0;

	response_reset(&p->resp);
	memset(&p->who, 0, sizeof p->who);
	switch (read_request(p, app, fe, err, sizeof err)) {
	case REQUEST_OK:
		route = app_handle(app, &p->req, &p->resp, &p->who);
		break;
	case REQUEST_BAD:
		response_error(&p->resp, 400, err);
		break;
	case REQUEST_TOO_LARGE:
		snprintf(err, sizeof err, "request body is larger than %ld bytes",
			 app->cfg->server.max_body_bytes);
		response_error(&p->resp, 413, err);
		/* The rest of the body is still on the connection: it cannot carry another request. */
		result |= PIPELINE_CLOSE;
		route = "too_large";
		break;
	case REQUEST_IO_ERROR:
		result |= PIPELINE_CLOSE;
		if (!fe->answer_read_error)
			return result;
		response_error(&p->resp, 400, "cannot read the request body");
		break;
	}
	/* The one place every answer passes, replays and refusals included; a preflight's is complete. */
	if (route != cors_preflight_route)
		cors_decorate(app->cors, &p->req, &p->resp);
	response_serialize(&p->resp, p->req.method == HTTP_HEAD, &p->out);
	if (fe->write(fe->ctx, p->out.data, p->out.len) < 0)
		result |= PIPELINE_WRITE_FAILED;
	request_done(p, app, fe, route, start_ns);
	return result;
}
