#ifndef TASKAPI_CORS_H
#define TASKAPI_CORS_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "request.h"
#include "response.h"

/*
 * Cross-origin requests (CORS), as Starlette's CORSMiddleware answers them:
 * the [cors] keys parsed once into a read-only policy, the preflight's
 * answer, and the headers every other answer to an allowed origin carries.
 * Pure functions of the policy and the request: no I/O, no clock.
 *
 * Origins are compared after normalisation (cors_origin_canon): the scheme
 * and the host without regard to case, the scheme's default port (http 80,
 * https 443) the same as none. An origin is scheme://host[:port] and
 * nothing else: a path (even "/"), a query, user information or a bad
 * port make it malformed: refused in the configuration, never allowed in a
 * request. With allow_origins = "*" any Origin is allowed.
 *
 * Methods are compared exactly (they are case-sensitive; the configured
 * ones are upper-cased), header names without regard to case. The
 * CORS-safelisted request headers (Accept, Accept-Language,
 * Content-Language, Content-Type) are always allowed, as in Starlette.
 */

#define CORS_MAX_ORIGINS 32
#define CORS_ORIGIN_MAX 256  /* bytes of one canonical origin, NUL included */
#define CORS_MAX_METHODS 16
#define CORS_MAX_HEADERS 40  /* the safelisted four included */
#define CORS_NAME_MAX 64     /* bytes of one method or header name, NUL included */

/* The headers an allowed origin's scripts may read on an actual answer. */
#define CORS_EXPOSE_HEADERS "ETag, Location, Link, Idempotent-Replayed"

/* The policy: built once per serving process, then shared read-only by every thread. */
struct cors_policy;

/*
 * Checks the [cors] keys of cfg and records every problem in problems
 * (config_finish calls it): a malformed origin, "*" among other origins,
 * a method or header name that is not an HTTP token (or is "*"), too many.
 * Nothing is checked while allow_origins is empty (CORS off).
 */
void cors_check(const struct config *cfg, struct config_problems *problems);

/*
 * Builds the policy of cfg's [cors] keys into *out, owned by the caller
 * (cors_policy_free). *out is NULL when CORS is off (allow_origins empty).
 * Returns 0, or -1 with the first problem in err (a configuration that
 * cors_check accepted never fails).
 */
int cors_policy_new(const struct config *cfg, struct cors_policy **out, char *err, size_t errlen);
/* Safe with NULL. */
void cors_policy_free(struct cors_policy *p);

/*
 * The canonical form of the origin s[0..len) into out (CORS_ORIGIN_MAX
 * bytes): lower-case scheme and host, the default port dropped, the port
 * without leading zeros. Returns 0, or -1 with *why saying what is wrong
 * (a static phrase: "has a path", ...).
 */
int cors_origin_canon(const char *s, size_t len, char out[CORS_ORIGIN_MAX], const char **why);

/* Whether an Origin header value is allowed by p (false when p is NULL). */
bool cors_origin_allowed(const struct cors_policy *p, const char *origin);
/* Whether a preflight may ask for this method. */
bool cors_method_allowed(const struct cors_policy *p, const char *method);
/*
 * Whether every name of an Access-Control-Request-Headers list is allowed
 * (empty elements are skipped; NULL or an empty list is allowed).
 */
bool cors_headers_allowed(const struct cors_policy *p, const char *list);

/*
 * Whether req is a CORS preflight that taskapi answers itself: CORS on,
 * OPTIONS, with Origin and Access-Control-Request-Method.
 */
bool cors_is_preflight(const struct cors_policy *p, const struct request *req);

/*
 * The answer to a preflight (cors_is_preflight): 204 with
 * Access-Control-Allow-Origin, -Allow-Methods, -Allow-Headers, -Max-Age,
 * -Allow-Credentials (when configured) and Vary: Origin; or, for a refused
 * origin, method or header, 400 {"detail": "Disallowed CORS origin, method,
 * headers"} (those refused, Starlette's words) with Vary: Origin only.
 */
void cors_preflight(const struct cors_policy *p, const struct request *req, struct response *resp);

/*
 * Adds the CORS headers of an actual (not preflight) answer: with CORS on,
 * Vary: Origin always (the answer depends on the Origin); for an allowed
 * origin also Access-Control-Allow-Origin, -Expose-Headers and
 * -Allow-Credentials (when configured). Nothing when p is NULL.
 */
void cors_decorate(const struct cors_policy *p, const struct request *req, struct response *resp);

/*
 * The route name of a preflight's answer (access log, metrics). A pointer
 * the pipeline compares with app_handle's result: that answer is complete
 * and gets no cors_decorate.
 */
extern const char cors_preflight_route[];

#endif
