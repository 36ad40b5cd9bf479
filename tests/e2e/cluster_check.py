"""Checks for the cluster chaos test (tests/e2e/56-cluster-chaos.sh), printed as TAP.

  cluster_check.py rows REPORT PREFIX NODE_SOCK...
      every key of cluster_load.py's REPORT is exactly one row (title = key) on every
      node named, with the id its create was acknowledged with; no key unresolved
  cluster_check.py ryw APP1_SOCK APP2_SOCK N
      N creates through instance 1, each read back at once through instance 2
  cluster_check.py patch APP_A_SOCK APP_B_SOCK ID N
      N PATCHes of task ID, split between two instances that write to different
      nodes, several at once: every answer 200, the version ends at N + 1
"""
import json, os, subprocess, sys, threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fcgi_peer  # noqa: E402


def ok(desc):
    print("ok - " + desc, flush=True)


def not_ok(desc, *diag):
    print("not ok - " + desc, flush=True)
    for d in diag:
        for line in str(d).splitlines()[:30]:
            print("#   " + line, flush=True)


def check(desc, cond, *diag):
    (ok if cond else not_ok)(desc, *([] if cond else diag))


def node_rows(sock, prefix):
    out = subprocess.run(
        ["mariadb", "--no-defaults", "--socket=" + sock, "--user=" + os.environ.get("DB_ADMIN_USER", "root"),
         "--batch", "--skip-column-names", "-e",
         "SET SESSION wsrep_sync_wait = 1; SELECT id, title FROM `%s`.tasks WHERE title LIKE '%s-%%'"
         % (os.environ.get("DB_NAME", "taskapi"), prefix)],
        capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        return None, out.stderr
    rows = [line.split("\t") for line in out.stdout.splitlines() if line]
    return rows, ""


def rows(report, prefix, socks):
    r = json.load(open(report))
    created = r["created"]
    check("every key got an answer: none unresolved (%d keys, %d attempts)" % (r["keys"], r["attempts"]),
          not r["unresolved"], "unresolved: %s" % r["unresolved"][:10], "statuses: %s" % r["statuses"])
    for sock in socks:
        got, err = node_rows(sock, prefix)
        if got is None:
            not_ok("node %s answers" % sock, err)
            continue
        by_title = {}
        for tid, title in got:
            by_title.setdefault(title, []).append(int(tid))
        dup = {k: v for k, v in by_title.items() if len(v) > 1}
        check("node %s: every key is at most one row (%d rows, %d duplicated keys)"
              % (os.path.basename(os.path.dirname(sock)), len(got), len(dup)), not dup, str(dup)[:500])
        missing = [k for k, v in created.items() if by_title.get(k) != [v]]
        check("node %s: every acknowledged create (%d) reads back with its id"
              % (os.path.basename(os.path.dirname(sock)), len(created)), not missing,
              "missing or another id: %s" % [(k, created[k], by_title.get(k)) for k in missing[:10]])
        extra = [k for k in by_title if k not in created and k not in r["unresolved"]]
        check("node %s: no row the client does not know of" % os.path.basename(os.path.dirname(sock)),
              not extra, str(extra[:10]))


def etag_of(sock, tid):
    """The task's ETag (its version) as an int, read through sock; None when it cannot be read."""
    answer = None
    try:
        s = fcgi_peer.connect(sock, 10)
        s.sendall(fcgi_peer.request(b"GET", b"/tasks/%d" % tid))
        answer = fcgi_peer.read_answer(s, 10)
        s.close()
    except OSError:
        return None
    for line in (answer or b"").split(b"\r\n"):
        if line.lower().startswith(b"etag:"):
            return int(line.split(b":", 1)[1].strip().strip(b'"'))
    return None


def fcgi(sock, method, uri, body=b""):
    answer = None
    try:
        s = fcgi_peer.connect(sock, 10)
        s.sendall(fcgi_peer.request(method, uri, body))
        answer = fcgi_peer.read_answer(s, 10)
        s.close()
    except OSError:
        pass
    status = fcgi_peer.status_of(answer)
    payload = answer.split(b"\r\n\r\n", 1)[1] if answer and b"\r\n\r\n" in answer else b""
    return status, payload


def ryw(sock1, sock2, n):
    found, bad = 0, []
    for i in range(n):
        st, body = fcgi(sock1, b"POST", b"/tasks/", json.dumps({"title": "ryw-%d" % i}).encode())
        if st != 201:
            bad.append(("POST", i, st, body[:200]))
            continue
        tid = json.loads(body)["id"]
        st, body = fcgi(sock2, b"GET", b"/tasks/%d" % tid)
        if st == 200 and json.loads(body)["id"] == tid:
            found += 1
        else:
            bad.append(("GET", tid, st, body[:200]))
    check("read-your-writes: %d creates through instance 1, each read at once through instance 2: %d found"
          % (n, found), found == n, *bad[:10])


def patch(sock_a, sock_b, tid, n):
    statuses, lock = {}, threading.Lock()
    per = n // 8

    def worker(k):
        sock = sock_a if k % 2 == 0 else sock_b
        for i in range(per):
            st, _ = fcgi(sock, b"PATCH", b"/tasks/%d" % tid, json.dumps({"description": "w%d-%d" % (k, i)}).encode())
            with lock:
                statuses[st] = statuses.get(st, 0) + 1

    before = etag_of(sock_a, tid)
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check("%d concurrent PATCHes of one task through two writers: every answer 200 (%s)"
          % (per * 8, statuses), statuses == {200: per * 8})
    after = etag_of(sock_a, tid)
    check("no PATCH was lost: the version went from %s to %s (+%d)" % (before, after, per * 8),
          before is not None and after == before + per * 8)


def main():
    cmd = sys.argv[1]
    if cmd == "rows":
        rows(sys.argv[2], sys.argv[3], sys.argv[4:])
    elif cmd == "ryw":
        ryw(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif cmd == "patch":
        patch(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))


if __name__ == "__main__":
    main()
