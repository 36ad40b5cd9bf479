#!/usr/bin/env bash
# 44-idempotency-retention: keys are kept idempotency.retention_s, then forgotten and
# purged. On an instance with retention_s = 1 and no purge in sight (purge_interval_s =
# 3600), an expired key that is still in the table counts as absent: the key with
# another body creates a new task (no 422, no replay), its row taken over, and a retry
# of that replays the new answer. On one with retention_s = 1 and purge_interval_s = 1,
# the purge deletes every expired row within a few seconds and /metrics counts them.
# Straight over FastCGI (owner "local"); its tasks and keys go when it ends.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/lib-proc.sh
. "$(dirname "$0")/lib-proc.sh"
# shellcheck source=tests/e2e/lib-admin.sh
. "$(dirname "$0")/lib-admin.sh"
# shellcheck source=tests/e2e/deploy-lib.sh
. "$(dirname "$0")/deploy-lib.sh"

RUN=e2e44-$$
at_exit "sql \"DELETE FROM tasks WHERE title LIKE '$RUN %'; DELETE FROM idempotency_keys WHERE idem_key LIKE '$RUN-%'\""

jget() {
  python3 -c 'import json, sys
j = json.load(open(sys.argv[1], encoding="utf-8"))
print(eval(sys.argv[2]))' "$BODY" "$1" 2>/dev/null || true
}
# post SOCKET KEY TITLE — POST /tasks/ over FastCGI with the key.
post() {
  printf '{"title": "%s"}' "$3" >"$E2E_TMP/post.json"
  fcgi POST /tasks/ "$1" "$E2E_TMP/post.json" "HTTP_IDEMPOTENCY_KEY=$2"
}
keys() { sql "SELECT COUNT(*) FROM idempotency_keys WHERE idem_key LIKE '$1'"; }
expired() { [ "$(sql "SELECT COUNT(*) FROM idempotency_keys WHERE idem_key = '$1' AND expires_at < UTC_TIMESTAMP(6)")" = 1 ]; }

# ---- an expired key counts as absent -------------------------------------------------------
proc_taskapi idem-keep --workers 1 --set server.threads=2 --set idempotency.retention_s=1 \
  --set idempotency.purge_interval_s=3600
keep=$PROC_SOCK
k=$RUN-reused
post "$keep" "$k" "$RUN first"
first=$(jget 'j["id"]')
check "POST with a key: 201" test "$STATUS" = 201
post "$keep" "$k" "$RUN second"
check "within retention_s the key with another body: 422" test "$STATUS" = 422
check "the key's row expires after retention_s (1 s)" wait_for 10 expired "$k"
post "$keep" "$k" "$RUN second"
second=$(jget 'j["id"]')
check "the expired key (still in the table) with another body: 201, a new task ($first, then $second)" \
  test "$STATUS|$(header Idempotent-Replayed)|$([ -n "$second" ] && [ "$second" != "$first" ] && echo new)" = "201||new"
check "... its row taken over: still one, now live" \
  test "$(keys "$k")|$(sql "SELECT COUNT(*) FROM idempotency_keys WHERE idem_key = '$k' AND expires_at > UTC_TIMESTAMP(6)")" = "1|1"
post "$keep" "$k" "$RUN second"
check "a retry now replays the new answer" \
  test "$STATUS|$(header Idempotent-Replayed)|$(jget 'j["id"]')" = "201|true|$second"

# ---- the purge ---------------------------------------------------------------------------
proc_taskapi idem-purge --workers 1 --set server.threads=2 --set idempotency.retention_s=1 \
  --set idempotency.purge_interval_s=1 --set "server.admin_listen=$E2E_TMP/idem-purge-admin.sock"
purge=$PROC_SOCK
admin_scrape "$E2E_TMP/idem-purge-admin.sock" "$E2E_TMP/p0.prom"
for i in 1 2 3; do post "$purge" "$RUN-purge-$i" "$RUN purge $i"; done
check "three keys stored" test "$(keys "$RUN-purge-%")" = 3
gone() { [ "$(keys "$RUN-%")" = 0 ]; }
check "the purge deletes them after they expire, and the expired one of the other instance too" wait_for 15 gone
diag "purged within ${WAITED:-?} s"
admin_scrape "$E2E_TMP/idem-purge-admin.sock" "$E2E_TMP/p1.prom"
n=$(($(prom "$E2E_TMP/p1.prom" taskapi_idempotency_purged_total) - $(prom "$E2E_TMP/p0.prom" taskapi_idempotency_purged_total)))
check "/metrics taskapi_idempotency_purged_total counts them ($n >= 4)" test "$n" -ge 4
check "the tasks stay (the purge deletes keys only)" test "$(sql "SELECT COUNT(*) FROM tasks WHERE title LIKE '$RUN purge %'")" = 3
