#!/usr/bin/env bash
# 60-concurrency-paging: many clients at once and paging through everything.
#  - 20 clients x 10 POSTs in parallel: all 201, distinct ids, each stored once.
#  - Paging visits every id exactly once, in order: after_id loops, following the Link
#    header, skip/limit loops, with and without the completed filter; Link appears
#    exactly when a page is full; limits above 100 are clamped; keyset paging stays
#    exact while other clients insert and delete.
#  - ETag races: of N PATCHes/DELETEs with the same If-Match exactly one wins, the
#    others get 412 (or 404 once deleted); PATCHes of different fields at the same
#    moment never lose each other's change; no version bump is lost.
#
# In Python (stdlib http.client + threads). Compares with the ids in MariaDB.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
export MYSQL

PYTHONPATH="$E2E_DIR" python3 - <<'PY'
from e2e_client import *  # TASKAPI_URL, MYSQL, req, ok, not_ok, check, expect, problems, sql, ...

# ---------------------------------------------------------------------------------------
import threading

RUN = "cc%d" % (time.time() * 1000 % 10**9)
LINK_RE = re.compile(r'^</tasks/\?after_id=(\d+)&limit=(\d+)(?:&completed=(true|false))?>; rel="next"$')


def db_ids(where="1"):
    return [int(x) for x in sql("SELECT id FROM tasks WHERE %s ORDER BY id" % where).split()]


def raced(requests):
    """Send the requests (method, path, body, headers) from one thread each, all connected
    first and released together; returns the responses in order."""
    n = len(requests)
    barrier = threading.Barrier(n)
    out = [None] * n

    def one(k, method, path, body, headers):
        h = dict(headers or {})
        if body is not None:
            body = json.dumps(body, ensure_ascii=False).encode()
            h["Content-Type"] = "application/json"
        c = http.client.HTTPConnection(BASE.hostname, BASE.port, timeout=30)
        try:
            c.connect()
            barrier.wait(10)
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            out[k] = Resp(r.status, {a.lower(): b for a, b in r.getheaders()}, r.read())
        except Exception as e:  # noqa: BLE001 - reported as status 0
            out[k] = Resp(0, {}, repr(e).encode())
        finally:
            c.close()

    threads = [threading.Thread(target=one, args=(k,) + tuple(rq)) for k, rq in enumerate(requests)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def new_task(body):
    r = req("POST", "/tasks/", body)
    return (r.json() or {}).get("id", 0) if r.status == 201 else 0


# ---- 20 clients x 10 POSTs at once ----------------------------------------------------------------
CLIENTS, EACH = 20, 10
results = [[] for _ in range(CLIENTS)]
start_gate = threading.Barrier(CLIENTS)


def client(c):
    start_gate.wait(10)
    for i in range(EACH):
        title = "%s %02d-%02d" % (RUN, c, i)
        r = req("POST", "/tasks/", {"title": title, "is_completed": (c + i) % 3 == 0})
        results[c].append((title, r))


t0 = time.monotonic()
workers = [threading.Thread(target=client, args=(c,)) for c in range(CLIENTS)]
for w in workers:
    w.start()
for w in workers:
    w.join()
took = time.monotonic() - t0
flat = [x for per in results for x in per]
statuses = sorted({r.status for _, r in flat})
check("%d clients x %d POSTs in parallel: all %d answered 201 (in %.1fs)" % (CLIENTS, EACH, len(flat), took),
      statuses == [201] and len(flat) == CLIENTS * EACH, "statuses: %s" % statuses,
      *[str(r) for _, r in flat if r.status != 201][:3])
got = {}
for title, r in flat:
    j = r.json() or {}
    if r.status == 201:
        got.setdefault(j.get("id"), []).append((title, j.get("title"), r.header("location"), r.header("etag")))
check("all %d ids distinct" % len(flat), len(got) == len(flat), "%d distinct" % len(got))
check("each answer is its own task (title as sent, Location /tasks/{id}, ETag \"1\")",
      all(len(v) == 1 and v[0][0] == v[0][1] and v[0][2] == "/tasks/%d" % i and v[0][3] == '"1"' for i, v in got.items()))
in_db = dict((int(a), b) for a, b in (l.split("\t") for l in sql(
    "SELECT id, title FROM tasks WHERE title LIKE '%s %%'" % RUN).splitlines()))
check("MariaDB holds exactly these %d rows, each once, under the id it answered" % len(flat),
      in_db == {i: v[0][0] for i, v in got.items()}, "db has %d rows" % len(in_db))

# ---- paging: every id exactly once ---------------------------------------------------------------
ALL = db_ids()
DONE = db_ids("is_completed = 1")
OPEN = db_ids("is_completed = 0")
check("at least the %d new tasks to page through (%d)" % (len(flat), len(ALL)), len(ALL) >= len(flat) > 100)


def page_after(limit, extra="", after=0):
    """Every page from after_id=`after` on; checks the Link header of each page. Returns
    the ids and a list of Link problems."""
    seen, bad = [], []
    for _ in range(10000):
        r = req("GET", "/tasks/?after_id=%d&limit=%d%s" % (after, limit, extra))
        j = r.json()
        if r.status != 200 or not isinstance(j, list):
            bad.append("page after %d: %s" % (after, r))
            break
        ids = [t["id"] for t in j]
        if ids and ids[0] <= after:
            bad.append("the page after_id=%d starts at id %d (after_id ignored?)" % (after, ids[0]))
            break
        seen += ids
        link = r.header("link")
        if len(ids) == limit:
            m = LINK_RE.match(link or "")
            if not m or int(m.group(1)) != ids[-1] or int(m.group(2)) != limit:
                bad.append("full page after %d: Link %r" % (after, link))
        elif link is not None:
            bad.append("short page after %d (%d rows): Link %r" % (after, len(ids), link))
        if len(ids) < limit:
            break
        after = ids[-1]
    return seen, bad


def page_link(first):
    """Follow rel="next" from `first` until there is none."""
    seen, path, bad, visited = [], first, [], set()
    for _ in range(10000):
        if path in visited:
            bad.append("Link points back to %s" % path)
            break
        visited.add(path)
        r = req("GET", path)
        j = r.json()
        if r.status != 200 or not isinstance(j, list):
            bad.append("%s: %s" % (path, r))
            break
        seen += [t["id"] for t in j]
        m = re.match(r'^<([^>]+)>; rel="next"$', r.header("link") or "")
        if not m:
            break
        path = m.group(1)
    return seen, bad


def page_skip(limit, extra=""):
    seen, skip = [], 0
    for _ in range(10000):
        j = req("GET", "/tasks/?skip=%d&limit=%d%s" % (skip, limit, extra)).json()
        if not isinstance(j, list):
            break
        seen += [t["id"] for t in j]
        if len(j) < limit or len(seen) > len(ALL) + 2 * limit:  # the second: skip ignored
            break
        skip += limit
    return seen


for limit in (37, 100, 1):
    # limit=1 only over the last 250 ids: one request per id
    start = 0 if limit > 1 or len(ALL) <= 250 else ALL[-251]
    want = [i for i in ALL if i > start]
    seen, bad = page_after(limit, after=start)
    check("after_id paging from %d, limit=%d: every id exactly once, in order (%d ids)" % (start, limit, len(seen)),
          seen == want, "missing %s, extra/duplicate %s" % (sorted(set(want) - set(seen))[:5], len(seen) - len(set(seen))))
    check("after_id paging, limit=%d: Link on every full page naming the last id, none on a short one" % limit,
          not bad, *bad[:3])
n_total = len(ALL)
lim = next(n for n in (50, 51, 53, 47) if n_total % n)
_, bad = page_after(lim)
check("Link is absent on the last, partial page (limit=%d, %d rows)" % (lim, n_total), not bad, *bad[:3])
seen, bad = page_link("/tasks/?limit=50")
check("following Link from /tasks/?limit=50: every id exactly once, in order", seen == ALL and not bad,
      "%d seen of %d" % (len(seen), len(ALL)), *bad[:3])
seen = page_skip(37)
check("skip/limit paging (limit=37): every id exactly once, in order", seen == ALL, "%d of %d" % (len(seen), len(ALL)))
seen = page_skip(10, "&completed=true")
check("skip paging with completed=true: exactly the completed ids (%d)" % len(DONE), seen == DONE)
seen, bad = page_after(13, "&completed=true")
check("after_id paging with completed=true: exactly the completed ids", seen == DONE and not bad, *bad[:3])
seen, bad = page_after(13, "&completed=false")
check("after_id paging with completed=false: exactly the open ids (%d)" % len(OPEN), seen == OPEN and not bad, *bad[:3])
seen, bad = page_link("/tasks/?limit=9&completed=TRUE")
check("following Link with completed=TRUE: the filter is kept in every next link", seen == DONE and not bad,
      "%d of %d" % (len(seen), len(DONE)))
r = req("GET", "/tasks/?limit=5&completed=false")
check("Link of a filtered page carries &completed=false",
      (LINK_RE.match(r.header("link") or "") or [None] * 4)[3] == "false", "Link: %r" % r.header("link"))
for word, want in (("1", DONE), ("yes", DONE), ("On", DONE), ("0", OPEN), ("no", OPEN), ("OFF", OPEN), ("False", OPEN)):
    j = req("GET", "/tasks/?completed=%s&limit=100" % word).json()
    check("completed=%s filters to the %s tasks" % (word, "completed" if want is DONE else "open"),
          isinstance(j, list) and [t["id"] for t in j] == want[:100]
          and all(t["is_completed"] is (want is DONE) for t in j))

# ---- page sizes ------------------------------------------------------------------------------------
r = req("GET", "/tasks/")
expect("GET /tasks/: the default limit is 10, with a Link to the next page", r, 200,
       lambda j: [t["id"] for t in j] == ALL[:10] and LINK_RE.match(r.header("link") or "").group(2) == "10")
for limit in (100, 101, 1000, 4294967296):
    r = req("GET", "/tasks/?limit=%d" % limit)
    expect("limit=%d: clamped to 100 rows (the first 100 ids), Link says limit=100" % limit, r, 200,
           lambda j: [t["id"] for t in j] == ALL[:100]
           and LINK_RE.match(r.header("link") or "").group(2) == "100")
expect("skip=5&limit=7: ids 6 to 12", req("GET", "/tasks/?skip=5&limit=7"), 200,
       lambda j: [t["id"] for t in j] == ALL[5:12])
expect("after_id=<11th id>&limit=5: the 5 ids after it", req("GET", "/tasks/?after_id=%d&limit=5" % ALL[10]), 200,
       lambda j: [t["id"] for t in j] == ALL[11:16])
expect("after_id beyond the last id: []", req("GET", "/tasks/?after_id=%d&limit=3" % (ALL[-1] + 10**6)),
       200, lambda j: j == [])
r = req("GET", "/tasks/?skip=%d" % len(ALL))
expect("skip=<all rows>: [] and no Link", r, 200, lambda j: j == [] and r.header("link") is None)
r = req("GET", "/tasks/?after_id=%d&limit=%d" % (ALL[-4], 3))
expect("the last 3 ids as a full page: a Link (the next page is then empty)", r, 200,
       lambda j: [t["id"] for t in j] == ALL[-3:] and LINK_RE.match(r.header("link") or "").group(1) == str(ALL[-1]))

# ---- after_id costs the same at any depth --------------------------------------------------------------
# MariaDB's global Handler_read_next counts index rows read (nothing else uses the
# test stack's database meanwhile): a page far down by after_id must read about a page
# of rows, where skip reads every row it skips.


def rows_read(path):
    def counter():
        out = sql("SHOW GLOBAL STATUS WHERE Variable_name IN ('Handler_read_next', 'Handler_read_key')")
        return sum(int(l.split("\t")[1]) for l in out.splitlines() if l)
    c0 = counter()
    req("GET", path)
    return counter() - c0


deep = len(ALL) - 11
cost_top = rows_read("/tasks/?after_id=0&limit=10")
cost_deep = rows_read("/tasks/?after_id=%d&limit=10" % ALL[deep])
cost_deep_filtered = rows_read("/tasks/?after_id=%d&limit=10&completed=false" % ALL[deep])
cost_skip = rows_read("/tasks/?skip=%d&limit=10" % deep)
check("after_id=<id %d rows down>&limit=10 reads about a page of rows, as at the top (%d vs %d; skip there reads %d)"
      % (deep, cost_deep, cost_top, cost_skip), cost_deep <= 3 * 10 + 5 and cost_skip >= deep // 2,
      "a skip that reads few rows means the counter does not measure these queries")
check("the same with completed=false (%d rows read)" % cost_deep_filtered, cost_deep_filtered <= 3 * 10 + 5)

# ---- keyset paging while others insert and delete ---------------------------------------------------
victims = sorted(got)[::7]  # some of our tasks, deleted during the paging
before = db_ids()
stop = threading.Event()
churn_new = []


def churn(k):
    for n in range(40):
        if stop.is_set():
            break
        r = req("POST", "/tasks/", {"title": "%s churn %d-%d" % (RUN, k, n)})
        if r.status == 201:
            churn_new.append(r.json()["id"])
        if k == 0 and n < len(victims):
            req("DELETE", "/tasks/%d" % victims[n])


churners = [threading.Thread(target=churn, args=(k,)) for k in range(4)]
for t in churners:
    t.start()
seen, after = [], 0
for _ in range(10000):
    j = req("GET", "/tasks/?after_id=%d&limit=20" % after).json()
    if not isinstance(j, list) or not j or j[0]["id"] <= after:
        break
    seen += [t["id"] for t in j]
    after = seen[-1]
    time.sleep(0.005)
stop.set()
for t in churners:
    t.join()
kept = set(before) - set(victims)
check("keyset paging during %d inserts and %d deletes: strictly increasing, no id twice"
      % (len(churn_new), len(victims)), all(a < b for a, b in zip(seen, seen[1:])))
check("every id that existed throughout was visited exactly once", kept <= set(seen),
      "missing: %s" % sorted(kept - set(seen))[:5])
check("no deleted id was visited after it was deleted, no unknown id at all",
      set(seen) <= set(before) | set(churn_new))

# ---- ETag races --------------------------------------------------------------------------------------
wins = []
for rnd in range(6):
    i = new_task({"title": "%s race %d" % (RUN, rnd)})
    n = 2 if rnd < 3 else 8
    rs = raced([("PATCH", "/tasks/%d" % i, {"title": "%s won by %d" % (RUN, k)}, {"If-Match": '"1"'}) for k in range(n)])
    codes = sorted(r.status for r in rs)
    winner = [k for k, r in enumerate(rs) if r.status == 200]
    final = (req("GET", "/tasks/%d" % i).json() or {}).get("title")
    wins.append(codes == [200] + [412] * (n - 1) and len(winner) == 1
                and final == "%s won by %d" % (RUN, winner[0])
                and sql("SELECT version FROM tasks WHERE id = %d" % i) == "2")
    if not wins[-1]:
        print("#   round %d: statuses %s, final title %r" % (rnd, codes, final))
check("%d rounds of 2 or 8 PATCHes with the same If-Match at once: exactly one 200, the rest 412, "
      "the winner's title stored, version 2" % len(wins), all(wins))

outcomes = []
for rnd in range(4):
    i = new_task({"title": "%s delete race %d" % (RUN, rnd)})
    rs = raced([("DELETE", "/tasks/%d" % i, None, {"If-Match": '"1"'}) for _ in range(4)])
    codes = sorted(r.status for r in rs)
    outcomes.append(codes.count(204) == 1 and all(c in (204, 404, 412) for c in codes)
                    and sql("SELECT COUNT(*) FROM tasks WHERE id = %d" % i) == "0")
    if not outcomes[-1]:
        print("#   round %d: statuses %s" % (rnd, codes))
check("4 DELETEs with the same If-Match at once (4 rounds): exactly one 204, the others 412/404", all(outcomes))

outcomes = []
for rnd in range(4):
    i = new_task({"title": "%s patch-delete race %d" % (RUN, rnd)})
    rs = raced([("PATCH", "/tasks/%d" % i, {"title": "patched"}, {"If-Match": '"1"'}),
                ("DELETE", "/tasks/%d" % i, None, {"If-Match": '"1"'})])
    p, d = rs[0].status, rs[1].status
    outcomes.append((p, d) in ((200, 412), (404, 204), (412, 204)))
    if not outcomes[-1]:
        print("#   round %d: PATCH %s, DELETE %s" % (rnd, p, d))
check("a PATCH and a DELETE with the same If-Match at once: exactly one of them applies", all(outcomes))

# ---- no lost updates ------------------------------------------------------------------------------------
outcomes = []
for rnd in range(10):
    i = new_task({"title": "%s fields %d" % (RUN, rnd)})
    rs = raced([("PATCH", "/tasks/%d" % i, {"title": "%s T%d" % (RUN, rnd)}, None),
                ("PATCH", "/tasks/%d" % i, {"description": "D%d" % rnd}, None),
                ("PATCH", "/tasks/%d?completed=true" % i, None, None)])
    j = req("GET", "/tasks/%d" % i).json() or {}
    outcomes.append([r.status for r in rs] == [200] * 3 and j.get("title") == "%s T%d" % (RUN, rnd)
                    and j.get("description") == "D%d" % rnd and j.get("is_completed") is True
                    and sql("SELECT version FROM tasks WHERE id = %d" % i) == "4")
    if not outcomes[-1]:
        print("#   round %d: statuses %s, task %s" % (rnd, [r.status for r in rs], j))
check("10 rounds of 3 PATCHes at once (title / description / ?completed): all 200, all three changes kept, version 4",
      all(outcomes))
i = new_task({"title": "%s counter" % RUN})
rs = raced([("PATCH", "/tasks/%d?completed=%s" % (i, "true" if k % 2 else "false"), None, None) for k in range(16)])
check("16 PATCHes at once without If-Match: all 200, version 17 (no bump lost)",
      [r.status for r in rs] == [200] * 16 and sql("SELECT version FROM tasks WHERE id = %d" % i) == "17",
      "statuses %s, version %s" % (sorted(r.status for r in rs), sql("SELECT version FROM tasks WHERE id = %d" % i)))
r = req("GET", "/tasks/%d" % i)
check('its ETag is then "17"', r.header("etag") == '"17"', "ETag %r" % r.header("etag"))
PY
