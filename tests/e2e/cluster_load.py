"""Keyed create load for the cluster tests (tests/e2e/5x-cluster-*.sh) and
script/bench --cluster: what a careful client of taskapi does.

Each of --clients threads creates tasks in a loop, every POST /tasks/ with an
Idempotency-Key of its own (the title is the key, so the rows can be counted
per key in the database). A create that fails (a 5xx, a 409 "still running",
a timeout, a refused or reset connection) is retried with the same key and the
same body every --retry-ms, until it succeeds or --give-up-s passes.

Runs until --seconds have passed or the file --stop-file exists, then writes a
JSON report to --out:
  created      {key: id} of every acknowledged create (201, replayed or not)
  unresolved   keys that never got an answer (each is a failure of the contract)
  attempts     POSTs sent; first_failures: creates whose first attempt failed
  replayed     answers carrying Idempotent-Replayed: true
  max_gap_s    the longest time without any successful create, and when it began
               (seconds since the start), from the first success to the end
  statuses     how many answers of each status (0: no HTTP answer)
  marks        {name: seconds since start} of the files --mark-dir/NAME seen
               (a test touches them when it kills something)
"""
import argparse, http.client, json, os, threading, time, urllib.parse


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--stop-file")
    ap.add_argument("--mark-dir")
    ap.add_argument("--prefix", default="load")
    ap.add_argument("--retry-ms", type=int, default=200)
    ap.add_argument("--give-up-s", type=float, default=60)
    ap.add_argument("--timeout-s", type=float, default=10)
    ap.add_argument("--header", action="append", default=[], help="NAME: value, sent on every request")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    base = urllib.parse.urlsplit(a.url)
    extra = dict(h.split(": ", 1) for h in a.header)
    lock = threading.Lock()
    t0 = time.monotonic()
    st = {"created": {}, "unresolved": [], "attempts": 0, "first_failures": 0, "replayed": 0,
          "statuses": {}, "successes": []}
    stop = threading.Event()

    def stopping():
        if stop.is_set():
            return True
        if time.monotonic() - t0 >= a.seconds or (a.stop_file and os.path.exists(a.stop_file)):
            stop.set()
        return stop.is_set()

    def post(conn, key):
        body = json.dumps({"title": key}).encode()
        h = {"Content-Type": "application/json", "Idempotency-Key": key}
        h.update(extra)
        conn.request("POST", "/tasks/", body=body, headers=h)
        r = conn.getresponse()
        raw = r.read()
        return r.status, r.getheader("Idempotent-Replayed"), raw

    def client(n):
        conn = None
        i = 0
        while not stopping():
            i += 1
            key = "%s-%d-%d" % (a.prefix, n, i)
            first, started = True, time.monotonic()
            while True:
                status, replayed, raw = 0, None, b""
                try:
                    if conn is None:
                        conn = http.client.HTTPConnection(base.hostname, base.port, timeout=a.timeout_s)
                    status, replayed, raw = post(conn, key)
                except Exception:
                    if conn is not None:
                        conn.close()
                    conn = None
                with lock:
                    st["attempts"] += 1
                    st["statuses"][str(status)] = st["statuses"].get(str(status), 0) + 1
                if status == 201:
                    tid = json.loads(raw)["id"]
                    with lock:
                        st["created"][key] = tid
                        st["successes"].append(time.monotonic() - t0)
                        if replayed == "true":
                            st["replayed"] += 1
                    break
                if first:
                    with lock:
                        st["first_failures"] += 1
                first = False
                if status == 422 or time.monotonic() - started > a.give_up_s:
                    with lock:
                        st["unresolved"].append(key)
                    break
                # Retry the same key even after the run's end: a key must end resolved.
                time.sleep(a.retry_ms / 1000.0)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(a.clients)]
    marks = {}

    def watch_marks():
        while not stop.is_set():
            if a.mark_dir and os.path.isdir(a.mark_dir):
                for name in os.listdir(a.mark_dir):
                    marks.setdefault(name, round(time.monotonic() - t0, 3))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch_marks)
    for t in threads:
        t.start()
    watcher.start()
    for t in threads:
        t.join()
    stop.set()
    watcher.join()
    end = time.monotonic() - t0
    succ = sorted(st.pop("successes"))
    gap, gap_at = 0.0, 0.0
    for x, y in zip(succ, succ[1:] + [end]):
        if y - x > gap:
            gap, gap_at = y - x, x
    st.update({"max_gap_s": round(gap, 3), "max_gap_at_s": round(gap_at, 3), "duration_s": round(end, 3),
               "marks": marks, "keys": len(st["created"]) + len(st["unresolved"])})
    with open(a.out, "w") as f:
        json.dump(st, f)


if __name__ == "__main__":
    main()
