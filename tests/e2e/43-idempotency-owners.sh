#!/usr/bin/env bash
# 43-idempotency-owners: an Idempotency-Key belongs to its owner. An instance in
# auth.mode = remote_user (REMOTE_USER sent straight over FastCGI) serves alice and bob:
# the same key used by both creates two tasks and two key rows, each retry replays its
# own owner's answer (never the other's task), the same key with another body is a 422
# for its owner only, and one owner's key on the other's task is that owner's 404, kept
# as its answer. Also: a request refused by authentication (401) stores nothing. Its
# owners' tasks and keys go when it ends.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/deploy-lib.sh
. "$(dirname "$0")/deploy-lib.sh"
export MYSQL

at_exit "sql \"DELETE FROM tasks WHERE owner LIKE '%-$$'; DELETE FROM idempotency_keys WHERE owner LIKE '%-$$'\""
ini=$(instance_config idem-owners)
root_args
sock=$E2E_TMP/idem-owners.sock
# The test writes REMOTE_USER itself, so the socket check is waived for this socket.
ta_start idem-owners "$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}" --set server.listen="$sock" \
  --set server.workers=1 --set server.threads=2 --set auth.mode=remote_user \
  --set auth.remote_user_any_socket=true
wait_for 20 fcgi_ok "$sock" || diag "idem-owners did not answer: $(tail -n 5 "$E2E_TMP/idem-owners.log")"

SOCK=$sock RUN=$$ PYTHONPATH="$E2E_DIR" python3 - <<'PY'
import json, os
import fcgi_peer as fp
from e2e_client import Resp, check, expect, sql

SOCK, RUN = os.environ["SOCK"], os.environ["RUN"]
ALICE, BOB = "alice-" + RUN, "bob-" + RUN
KEY = "shared-key-" + RUN


def freq(user, method, uri, body=None, key=KEY):
    """One request over FastCGI as user (None: no REMOTE_USER) with the Idempotency-Key key."""
    raw = json.dumps(body).encode() if body is not None else b""
    extra = [(b"HTTP_IDEMPOTENCY_KEY", key.encode())]
    if user is not None:
        extra.append((b"REMOTE_USER", user.encode()))
    s = fp.connect(SOCK, 10)
    try:
        s.sendall(fp.request(method.encode(), uri.encode(), raw, extra))
        answer = fp.read_answer(s, 10)
    finally:
        s.close()
    if answer is None:
        return Resp(0, {}, b"no answer")
    head, _, payload = answer.partition(b"\r\n\r\n")
    hdrs = {}
    for line in head.decode("latin-1").split("\r\n"):
        name, _, value = line.partition(":")
        hdrs[name.strip().lower()] = value.strip()
    return Resp(fp.status_of(answer), hdrs, payload)


def keys(owner, key=KEY):
    return sql("SELECT COUNT(*) FROM idempotency_keys WHERE owner = '%s' AND idem_key = '%s'" % (owner, key))


r = freq(None, "POST", "/tasks/", {"title": "nobody"})
check("a request refused by authentication (401) stores no key", r.status == 401 and
      sql("SELECT COUNT(*) FROM idempotency_keys WHERE idem_key = '%s'" % KEY) == "0", str(r))

a = freq(ALICE, "POST", "/tasks/", {"title": "alice's"})
b = freq(BOB, "POST", "/tasks/", {"title": "bob's"})
expect("alice creates with the key", a, 201, lambda j: j["title"] == "alice's")
expect("bob creates with the same key: his own task, not alice's replayed", b, 201,
       lambda j: j["title"] == "bob's" and b.header("idempotent-replayed") is None)
aid, bid = (a.json() or {}).get("id", 0), (b.json() or {}).get("id", 0)
check("two tasks, one per owner, and one key row each",
      aid != bid and sql("SELECT owner FROM tasks WHERE id = %d" % aid) == ALICE and
      sql("SELECT owner FROM tasks WHERE id = %d" % bid) == BOB and
      keys(ALICE) == "1" and keys(BOB) == "1")
ra = freq(ALICE, "POST", "/tasks/", {"title": "alice's"})
rb = freq(BOB, "POST", "/tasks/", {"title": "bob's"})
check("each retry replays its own owner's answer", ra.status == 201 and ra.raw == a.raw and
      ra.header("idempotent-replayed") == "true" and rb.status == 201 and rb.raw == b.raw and
      rb.header("idempotent-replayed") == "true", str(ra), str(rb))
r = freq(BOB, "POST", "/tasks/", {"title": "alice's"})
expect("bob sending alice's body with the key: 422 (his key, another request), not alice's task", r, 422,
       lambda j: j["detail"][0]["type"] == "idempotency_key_reused")
check("... no task stored for it", sql("SELECT COUNT(*) FROM tasks WHERE owner = '%s'" % BOB) == "1")

k2 = "delete-" + RUN
r = freq(BOB, "DELETE", "/tasks/%d" % aid, key=k2)
check("bob's DELETE of alice's task with a key: 404, and her task stays", r.status == 404 and
      sql("SELECT COUNT(*) FROM tasks WHERE id = %d" % aid) == "1", str(r))
r2 = freq(BOB, "DELETE", "/tasks/%d" % aid, key=k2)
check("... its retry replays bob's 404", r2.status == 404 and r2.header("idempotent-replayed") == "true", str(r2))
r = freq(ALICE, "DELETE", "/tasks/%d" % aid, key=k2)
check("alice's DELETE with that same key is hers: 204", r.status == 204 and r.header("idempotent-replayed") is None,
      str(r))
check("the key rows: one per owner", keys(ALICE, k2) == "1" and keys(BOB, k2) == "1")
PY
