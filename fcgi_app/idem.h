#ifndef TASKAPI_IDEM_H
#define TASKAPI_IDEM_H

#include <stdbool.h>

#include "app.h"
#include "idem_key.h"
#include "idem_store.h"
#include "request.h"
#include "validate.h"

/*
 * Idempotency-Key on a write (docs/ARCHITECTURE.md, "Retrying safely"): the
 * key is claimed in the same transaction as the write, and the answer the
 * write got is stored with it before the commit, so that a retry with the
 * key replays that answer instead of writing again. A handler with a
 * borrowed connection calls
 *
 *	if (idem_begin(&w, ctx, conn, &what)) {
 *		... the write, then the response ...
 *		idem_end(&w, ctx);
 *	}
 *
 * and releases the connection after. Without a key both do nothing: the
 * write runs as its own autocommit statements, as it always did.
 */

struct idem_write {
	struct task_owner owner;
	struct idem_slot slot;
	struct db_conn *conn; /* while the claiming transaction is open, else NULL */
};

/*
 * Records a problem in v (a 422 under ["header", "Idempotency-Key"]) when the
 * request carries a key that is not 1 to 255 visible ASCII characters.
 * Returns 0 when there is no key or it is valid, else -1.
 */
int idem_check_key(const struct request *req, struct validation *v);

/*
 * For a write that passed validation (idem_check_key included), conn
 * borrowed. Without a key: returns true, nothing else. With one, claims it
 * for the request r describes, in a transaction on conn, and returns true
 * when the handler must now write (then call idem_end); or false with the
 * response filled and the transaction over: the stored answer replayed
 * (with Idempotent-Replayed: true), 422 for a key used with another
 * request, 409 with Retry-After when the key's first request still runs
 * after the lock wait bound, 503 or 500 when the database failed. r is
 * borrowed for the call.
 */
bool idem_begin(struct idem_write *w, struct handler_ctx *ctx, struct db_conn *conn,
		const struct idem_request *r);

/*
 * Ends what idem_begin opened (nothing when it opened nothing): an answer
 * below 500 is stored under the key and committed with the write; a 5xx
 * rolls both back. When storing or committing fails, the response becomes
 * the failure's (503: a commit lost on the way says the write may have
 * been applied, and that a retry with the same key is safe).
 */
void idem_end(struct idem_write *w, struct handler_ctx *ctx);

#endif
