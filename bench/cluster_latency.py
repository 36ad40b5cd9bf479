#!/usr/bin/env python3
"""bench/cluster_latency.py — script/bench --cluster: the latency of one client that
sends its requests one after the other on one kept HTTP connection (what a commit or a
read costs when nothing queues), through nginx.

    cluster_latency.py URL METHOD N [ID_MAX]

METHOD POST: N times POST /tasks/ {"title": ...} (no Idempotency-Key: one plain
commit each). METHOD GET: N times GET /tasks/<random 1..ID_MAX>. 20 requests of
warm-up first, not counted. Prints one line:

    LATENCY requests errors p50_ms p90_ms p99_ms max_ms

errors: answers other than 201 (POST) or 200 (GET), and connections lost (the
connection is opened again). Exits 1 when nothing was answered.
"""
import http.client
import json
import random
import sys
import time
import urllib.parse


def main():
    url, method, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    id_max = int(sys.argv[4]) if len(sys.argv) > 4 else 10000
    base = urllib.parse.urlsplit(url)
    conn = None
    lat, errors = [], 0
    want = 201 if method == "POST" else 200
    for i in range(-20, n):
        if method == "POST":
            path, body = "/tasks/", json.dumps({"title": "latency %d" % i}).encode()
            headers = {"Content-Type": "application/json"}
        else:
            path, body, headers = "/tasks/%d" % random.randint(1, id_max), None, {}
        t = time.perf_counter()
        status = 0
        try:
            if conn is None:
                conn = http.client.HTTPConnection(base.hostname, base.port, timeout=10)
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            r.read()
            status = r.status
        except (OSError, http.client.HTTPException):
            if conn is not None:
                conn.close()
            conn = None
        dt = (time.perf_counter() - t) * 1000
        if i < 0:
            continue
        if status == want:
            lat.append(dt)
        else:
            errors += 1
    if not lat:
        print("LATENCY 0 %d 0 0 0 0" % errors)
        return 1
    lat.sort()

    def q(p):
        return lat[min(len(lat) - 1, int(p * len(lat)))]

    print("LATENCY %d %d %.3f %.3f %.3f %.3f" % (len(lat), errors, q(0.50), q(0.90), q(0.99), lat[-1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
