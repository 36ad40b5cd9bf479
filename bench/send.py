#!/usr/bin/env python3
"""bench/send.py — send an exact number of requests, one after another on one
kept-alive HTTP connection (reopened when nginx closes it), for script/bench's
instruction counts under callgrind, where wrk's duration-based runs do not fit.

    send.py HOST PORT CASE COUNT [START]

CASE is list, get, post, patch or healthz (the same requests as bench/wrk/*.lua, with
deterministic ids and offsets: request i uses skip i % 1000, id 1 + (i * 7919) % 10000).
Exits 1 when any answer is not 2xx."""
import http.client
import sys


def main():
    host, port, case, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    start = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    body = b'{"title":"Benchmark task","description":"created by script/bench","is_completed":false}'
    conn = http.client.HTTPConnection(host, port, timeout=60)
    bad = 0
    for i in range(start, start + count):
        task = 1 + (i * 7919) % 10000
        if case == "list":
            conn.request("GET", "/tasks/?limit=10&skip=%d" % (i % 1000))
        elif case == "get":
            conn.request("GET", "/tasks/%d" % task)
        elif case == "post":
            conn.request("POST", "/tasks/", body, {"Content-Type": "application/json"})
        elif case == "patch":
            conn.request("PATCH", "/tasks/%d?completed=true" % task)
        elif case == "healthz":
            conn.request("GET", "/healthz")
        else:
            sys.exit("send.py: unknown case " + case)
        resp = conn.getresponse()
        resp.read()
        if not 200 <= resp.status < 300:
            bad += 1
            if bad <= 3:
                print("send.py: %s request %d: HTTP %d" % (case, i, resp.status), file=sys.stderr)
        if resp.will_close:
            conn.close()
    conn.close()
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
