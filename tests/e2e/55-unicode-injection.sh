#!/usr/bin/env bash
# 55-unicode-injection: text comes back exactly as sent — emoji (ZWJ sequences, flags,
# skin tones), RTL Hebrew and Arabic with direction marks, combining marks, CJK and
# astral characters, quotes, backslashes, control characters — through POST, GET, the
# list and PATCH, sent both as raw UTF-8 and as \u escapes, and stored in MariaDB as
# exactly those UTF-8 bytes (HEX). SQL injection strings in bodies are stored verbatim
# and in URLs refused, with the table and every other row intact afterwards.
#
# In Python (stdlib http.client), one process for all checks.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
export MYSQL

PYTHONPATH="$E2E_DIR" python3 - <<'PY'
from e2e_client import *  # TASKAPI_URL, MYSQL, req, ok, not_ok, check, expect, problems, sql, ...

# ---------------------------------------------------------------------------------------


def hx(s):
    return "NULL" if s is None else s.encode("utf-8").hex().upper()


def stored(ids):
    """id -> (HEX(title), HEX(description) or NULL) as MariaDB holds them."""
    if not ids:
        return {}
    out = sql("SELECT id, HEX(title), IFNULL(HEX(description), 'NULL') FROM tasks WHERE id IN (%s)"
              % ",".join(str(i) for i in ids))
    return {int(l.split("\t")[0]): tuple(l.split("\t")[1:]) for l in out.splitlines() if l}


def fingerprint(upto):
    """Rows up to id `upto`: count and a checksum over every column a client can change."""
    return sql("SELECT COUNT(*), COALESCE(SUM(CRC32(CONCAT_WS('|', id, HEX(title), IFNULL(HEX(description), '-'), "
               "is_completed, version))), 0) FROM tasks WHERE id <= %d" % upto)


# Titles of at most 50 code points, descriptions of at most 255.
CASES = [
    ("emoji 🎉🚀🔥✨", "emoji with a ZWJ family 👩‍👩‍👧‍👦, rainbow flag 🏳️‍🌈, technologist 👨🏽‍💻"),
    ("family 👩‍👩‍👧‍👦 ZWJ", "flags 🇩🇪🇯🇵🇺🇸, skin tone 👍🏽, keycaps 1️⃣ #️⃣, VS16 ❤️ vs ❤"),
    ("שלום עולם", "RTL Hebrew with RLM \u200f and LRM \u200e marks, mixed עברית and English"),
    ("مرحبا بالعالم", "Arabic السلام عليكم with Arabic-Indic digits ١٢٣ and an override \u202ereversed\u202c"),
    ("e\u0301 a\u0308 n\u0303 Z\u0336a\u0337l\u0338g\u0335o", "combining e\u0301 next to precomposed \u00e9: both kept as sent"),
    ("中文 日本語 한국어", "CJK 漢字 ひらがな カタカナ 한글, astral 𠀋 𝄞 𝕏"),
    ("quotes \" ' ` “ ” ‘ ’ « »", "JSON in text: {\"a\": \"b\"}, an escaped \\\" quote"),
    ("back\\slash \\\\ \\n \\u0041", "a backslash at the very end \\"),
    ("ctl \u0001\u0002\u001f\u007f end", "tab\there newline\nthere CR LF\r\n BEL \u0007 ESC \u001b"),
    ("\ttab first", "line\u2028separator paragraph\u2029separator"),
    ("zero\u200bwidth \ufeffBOM soft\u00adhyphen", "noncharacters \uffff \ufffe, last code point \U0010ffff, private \ue000"),
    ("<script>alert(1)</script> &amp;", "<img src=x onerror=alert(1)> %00 %s %n {{7*7}} ${jndi:ldap://x}"),
    ("🎉" * 50, "👩‍👩‍👧‍👦" * 36),  # 50 and 252 code points, 200 and 900 bytes
    ("\U0001F600" * 25 + "x" * 25, None),
]

t0 = sql("SELECT COALESCE(MAX(id), 0) FROM tasks")
created = {}  # id -> (title, description)
for encoding in ("raw UTF-8", "\\u escapes"):
    for n, (title, description) in enumerate(CASES, 1):
        body = json.dumps({"title": title, "description": description}, ensure_ascii=(encoding != "raw UTF-8"))
        r = req("POST", "/tasks/", body)
        j = r.json()
        good = r.status == 201 and isinstance(j, dict) and j.get("title") == title and j.get("description") == description
        check("POST case %d (%s): 201, title and description come back equal" % (n, encoding), good,
              "sent %r / %r" % (title, description), "got: %s" % r)
        if r.status == 201 and isinstance(j, dict):
            created[j["id"]] = (title, description)

bad_get = []
for i, (title, description) in created.items():
    j = req("GET", "/tasks/%d" % i).json()
    if not (isinstance(j, dict) and j.get("title") == title and j.get("description") == description):
        bad_get.append((i, j))
check("GET /tasks/{id} of each of the %d tasks: the same strings" % len(created), not bad_get and created,
      *["%s: %r" % b for b in bad_get[:5]])
s = stored(list(created))
bad_db = [(i, t, d) for i, (t, d) in created.items() if s.get(i) != (hx(t), hx(d))]
check("MariaDB holds exactly the UTF-8 bytes sent, for every title and description (HEX)",
      not bad_db and len(s) == len(created),
      *["id %d: stored %s, expected %s" % (i, s.get(i), (hx(t), hx(d))) for i, t, d in bad_db[:5]])
first = min(created) if created else 0
r = req("GET", "/tasks/?after_id=%d&limit=100" % (first - 1))
listed = {t["id"]: (t["title"], t["description"]) for t in (r.json() or []) if t["id"] in created}
check("GET /tasks/ lists them with the same strings", r.status == 200 and listed == created,
      "%d of %d equal" % (sum(listed.get(i) == v for i, v in created.items()), len(created)))

# PATCH writes text the same way.
if created:
    P = first
    patched = []
    for n, (title, description) in enumerate(CASES, 1):
        r = req("PATCH", "/tasks/%d" % P, json.dumps({"title": title, "description": description}))
        j = r.json() or {}
        s = stored([P]).get(P)
        patched.append(r.status == 200 and j.get("title") == title and j.get("description") == description
                       and s == (hx(title), hx(description)))
    check("PATCH to each case's strings: 200, answered and stored byte-exact (%d of %d)"
          % (sum(patched), len(patched)), all(patched))

# The refused value is echoed in valid UTF-8.
too_long = "👩‍👩‍👧‍👦" * 8  # 56 code points
expect("a 422 echoes a refused Unicode title as input, unchanged", req("POST", "/tasks/", {"title": too_long}), 422,
       lambda j: [d.get("input") for d in j["detail"]] == [too_long])
expect("?completed=🎉 (percent-encoded UTF-8): 422 bool_parsing echoing 🎉",
       req("GET", "/tasks/?completed=%F0%9F%8E%89"), 422, lambda j: j["detail"][0]["input"] == "🎉")
expect("?limit=%FF (not UTF-8): 422 on query.limit, the body still valid UTF-8 JSON",
       req("GET", "/tasks/?limit=%FF"), 422, lambda j: j["detail"][0]["loc"] == ["query", "limit"])

# ---- SQL injection -------------------------------------------------------------------------------
INJECTIONS = [
    "x'); DROP TABLE tasks;--",
    "1 OR 1=1",
    "%' OR '1'='1",
    "' OR ''='",
    "\" OR \"\"=\"",
    "1; DELETE FROM tasks; --",
    "'; UPDATE tasks SET title='pwned'; --",
    "Robert'); DROP TABLE tasks; --",
    "\\'; DROP TABLE tasks; --",
    "' UNION SELECT user(), version() --",
    "1' AND SLEEP(3) AND '1'='1",
    "admin'--",
    "%", "_", "\\", "'", "`tasks`", "/* comment */ -- # ;",
    "\\x27 \\0 \\Z 0x27 CHAR(39)",
]
last = int(sql("SELECT COALESCE(MAX(id), 0) FROM tasks"))
fp = fingerprint(last)
n_before = int(sql("SELECT COUNT(*) FROM tasks"))
ids = []
for text in INJECTIONS:
    start = time.monotonic()
    r = req("POST", "/tasks/", {"title": text, "description": text + " (description)"})
    took = time.monotonic() - start
    j = r.json() or {}
    if r.status == 201:
        ids.append(j["id"])
        good = j.get("title") == text and j.get("description") == text + " (description)"
        s = stored([j["id"]]).get(j["id"])
        check("title %r: stored verbatim (201, answer and HEX in MariaDB equal)" % text,
              good and s == (hx(text), hx(text + " (description)")), "got %s, stored %s" % (r, s))
    else:
        expect("title %r: refused with a 422" % text, r, 422)
    if "SLEEP" in text:
        check("the SLEEP(3) string did not run (answered in %.2fs)" % took, took < 2.5)
check("the table is intact: %d rows before, %d created, all there after" % (n_before, len(ids)),
      int(sql("SELECT COUNT(*) FROM tasks")) == n_before + len(ids) and sql("SHOW TABLES LIKE 'tasks'") == "tasks")
check("no row was changed by them (checksum of the rows that existed before)", fingerprint(last) == fp)
check("no title became 'pwned'", sql("SELECT COUNT(*) FROM tasks WHERE title = 'pwned'") == "0")

# Reading them back by an injection-looking filter finds only what it should.
if ids:
    r = req("GET", "/tasks/%d" % ids[1])
    expect("GET of the task titled '1 OR 1=1': that task only", r, 200,
           lambda j: j["title"] == "1 OR 1=1" and j["id"] == ids[1])

# Injection in the URL: refused, nothing read or changed beyond the request.
last = int(sql("SELECT COALESCE(MAX(id), 0) FROM tasks"))
fp = fingerprint(last)
for method, path in (("GET", "/tasks/1%20OR%201=1"), ("GET", "/tasks/1;DROP%20TABLE%20tasks"),
                     ("GET", "/tasks/0%20OR%201=1"), ("GET", "/tasks/1'%20OR%20'1'='1"),
                     ("DELETE", "/tasks/1%20OR%201=1"), ("DELETE", "/tasks/0%20OR%20id%3E0"),
                     ("DELETE", "/tasks/1;DELETE%20FROM%20tasks"),
                     ("PATCH", "/tasks/1%20OR%201=1?completed=true"), ("PATCH", "/tasks/0%20OR%201=1?completed=1")):
    r = req(method, path)
    check("%s %s: 422 or 404 JSON, never a 2xx or 500" % (method, path),
          r.status in (422, 404) and r.json() is not None, str(r))
for q, name in (("limit=1%20OR%201=1", "limit"), ("skip=0;DROP%20TABLE%20tasks", "skip"),
                ("after_id=0)%20OR%20(1=1", "after_id"), ("completed=true'%20OR%20'1'='1", "completed"),
                ("completed=1%20OR%201=1", "completed"), ("limit=1%20UNION%20SELECT%201", "limit")):
    expect("GET /tasks/?%s: 422 on query.%s" % (q, name), req("GET", "/tasks/?" + q), 422,
           lambda j, name=name: [d["loc"] for d in j["detail"]] == [["query", name]])
check("after the URL injections: the same rows, unchanged (checksum), table still there",
      fingerprint(last) == fp and sql("SHOW TABLES LIKE 'tasks'") == "tasks", "%s vs %s" % (fingerprint(last), fp))
PY
