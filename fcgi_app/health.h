#ifndef TASKAPI_HEALTH_H
#define TASKAPI_HEALTH_H

#include "app.h"

/* GET /healthz: the process answers; touches no database. */
void health_live(struct handler_ctx *ctx);
/* GET /readyz: the database answers and its schema is the one this build needs; else 503. */
void health_ready(struct handler_ctx *ctx);

#endif
