#ifndef TASKAPI_METRICS_RENDER_H
#define TASKAPI_METRICS_RENDER_H

#include <stdbool.h>

#include "buf.h"
#include "metrics.h"

/*
 * The text of the admin socket's answers, made from a metrics snapshot: /metrics
 * in the Prometheus text format and /status as PHP-FPM-like JSON. Pure functions
 * of their arguments (the clock is snap->taken_ms), so a fixed snapshot always
 * renders the same bytes; both only append to out (owned by the caller).
 */

/* Appends the Prometheus text format (version 0.0.4) of snap to out. */
void metrics_render_prometheus(const struct metrics_snapshot *snap, const struct metrics_listen *listen,
			       struct buf *out);

/*
 * Appends the /status JSON of snap and a newline to out; full adds "processes",
 * one entry per worker. listen_name (borrowed; NULL reads as "") is shown as
 * "listen". Appends nothing when jansson runs out of memory.
 */
void metrics_render_status(const struct metrics_snapshot *snap, const struct metrics_listen *listen,
			   const char *listen_name, bool full, struct buf *out);

#endif
