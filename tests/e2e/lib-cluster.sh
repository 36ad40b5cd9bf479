# shellcheck shell=bash
# lib-cluster.sh — for the tests on script/cluster's Galera rig (51, 52, 56): sourced
# after lib.sh. Brings script/lib/cluster.sh's helpers (cluster_sql, cluster_node_kill,
# cluster_app_use, ...) and starts the rig a test runs on.

# shellcheck source=script/lib/cluster.sh
. "$TOP/script/lib/cluster.sh"

# rig_require — passes when galera-4 and rsync are installed; otherwise one not_ok
# and the test ends (script/bootstrap installs both).
rig_require() {
  if [ ! -r "${TASKAPI_GALERA_PROVIDER:-/usr/lib/galera/libgalera_smm.so}" ] || ! command -v rsync >/dev/null 2>&1; then
    not_ok 'galera-4 and rsync are installed (script/bootstrap installs them)'
    exit 0
  fi
}

# rig ARGS — script/cluster for this test's rig (its run folder and port).
rig() { TASKAPI_RUN_DIR=$rig_base TASKAPI_PORT=$rig_port TASKAPI_BIN=$TASKAPI_BIN "$TOP/script/cluster" "$@"; }

# rig_start NAME — a rig of its own in $RUN_DIR/NAME (below the test stack's run
# folder, which script/test removes) on a free port, stopped when the test exits even
# half-way (by its pid files). Sets rig_base, rig_port, env_file and RIG_START_S (how
# long it took); sources its env file and points stack.sh's variables (SECRETS_DIR,
# NGX_DIR, APP_* through cluster_app_use ...) and TASKAPI_URL at the rig. When it does
# not start: one not_ok with its log, and the test ends.
# shellcheck disable=SC2034 # RIG_START_S and TASKAPI_URL are for the test that sources this
rig_start() {
  local t0=$SECONDS
  rig_base=$RUN_DIR/$1
  rig_port=$(free_port)
  rm -rf "$rig_base"
  mkdir -p "$rig_base"
  at_exit 'rig --stop >/dev/null 2>&1'
  if ! env_file=$(rig --background 2>"$E2E_TMP/start.err"); then
    not_ok 'script/cluster --background starts the rig'
    diag "$(tail -n 30 "$E2E_TMP/start.err")" "$(tail -n 30 "$rig_base/cluster/cluster.log" 2>/dev/null)"
    exit 0
  fi
  RIG_START_S=$((SECONDS - t0))
  # shellcheck source=/dev/null
  . "$env_file"
  TASKAPI_RUN_DIR=$rig_base cluster_env
  TASKAPI_URL=$CLUSTER_URL
}
