#!/usr/bin/env bash
# 20-list-tasks: rows written with the mariadb client come back through nginx and
# taskapi byte for byte (multibyte UTF-8 of every kind, quotes, backslashes, control
# characters, full-width columns), in id order, with skip/limit honoured.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

sql 'DELETE FROM tasks'
http GET /tasks/
expect_json 'GET /tasks/ on an empty table: 200 []' 200 'j == []'

# The rows, as Python builds them: the SQL to insert them (string literals escaped
# for MariaDB) and the expected values in JSON, with the stored bytes in hex.
python3 - "$E2E_TMP/insert.sql" "$E2E_TMP/expected.json" <<'PY'
import json, sys
rows = [
    ("Emoji 🎉🚀 and a family 👩‍👩‍👧‍👦", "flags 🇩🇪🇯🇵, skin tone 👍🏽, keycap 1️⃣", False),
    ("中文 日本語 한국어", "CJK: 漢字 ひらがな カタカナ 한글 𠀋 (outside the BMP)", True),
    ("שלום עולם", "RTL: مرحبا بالعالم \u200fmixed\u200e עברית", False),
    ("e\u0301 a\u0308 n\u0303 Z\u0336a\u0337l\u0338g\u0335o", "combining e\u0301 vs precomposed \u00e9", False),
    ("quotes \" and ' and `", "backslash \\ and \\n (not a newline), slash / and \\u00e9", False),
    ("tab\there, newline\nthere", "CR LF\r\n, DEL \x7f, BEL \x07", False),
    ("🎉" * 50, "ü" * 255, False),          # VARCHAR(50)/(255) count characters, not bytes
    ("<script>alert(1)</script> & ©", None, False),
    ("no description", None, True),
    ("plain 10", "ascii", False),
    ("plain 11", "ascii", False),
    ("plain 12", "ascii", True),
]
def lit(s):
    # As mysql_real_escape_string does; CR and LF escaped too, because the mariadb
    # client reads its input by lines and would drop a raw CR before a LF.
    if s is None:
        return "NULL"
    for a, b in (("\\", "\\\\"), ("'", "\\'"), ("\r", "\\r"), ("\n", "\\n"), ("\0", "\\0"), ("\x1a", "\\Z")):
        s = s.replace(a, b)
    return "'" + s + "'"
with open(sys.argv[1], "w", encoding="utf-8") as f:
    for t, d, c in rows:
        f.write("INSERT INTO tasks (title, description, is_completed) VALUES (%s, %s, %d);\n"
                % (lit(t), lit(d), c))
with open(sys.argv[2], "w", encoding="utf-8") as f:
    json.dump([{"title": t, "description": d, "is_completed": c} for t, d, c in rows], f)
PY
$MYSQL <"$E2E_TMP/insert.sql"

# Ids from the database, and a check that the client stored exactly the bytes meant
# (so a failure further down is taskapi's, not the insert's).
sql "SELECT id, HEX(title), IFNULL(HEX(description), 'NULL'), is_completed FROM tasks ORDER BY id" \
  >"$E2E_TMP/stored.tsv"
python3 - "$E2E_TMP/stored.tsv" "$E2E_TMP/expected.json" <<'PY'
import json, sys
exp = json.load(open(sys.argv[2], encoding="utf-8"))
stored = [line.rstrip("\n").split("\t") for line in open(sys.argv[1]) if line.strip()]
hx = lambda s: "NULL" if s is None else s.encode("utf-8").hex().upper()
bad = [i for i, (e, s) in enumerate(zip(exp, stored))
       if [hx(e["title"]), hx(e["description"]), str(int(e["is_completed"]))] != s[1:]]
if len(stored) != len(exp) or bad:
    print("not ok - the mariadb client stored the rows byte-exact (rows %s differ)" % bad)
else:
    print("ok - the mariadb client stored the %d rows byte-exact" % len(exp))
for e, s in zip(exp, stored):
    e["id"] = int(s[0])
json.dump(exp, open(sys.argv[2], "w", encoding="utf-8"))
PY
export E2E_EXPECT=$E2E_TMP/expected.json

http GET '/tasks/?limit=100'
expect_json 'GET /tasks/?limit=100: all 12 rows byte-exact, in id order' 200 \
  '[row(t) for t in j] == [row(t) for t in exp]'
expect_json 'each task has id, title, description, is_completed, created_at, updated_at' 200 \
  'all({"id", "title", "description", "is_completed", "created_at", "updated_at"} <= set(t) for t in j)'
expect_json 'types: integer id, string title, null description, boolean is_completed, string times' 200 \
  'all(type(t["id"]) is int and type(t["title"]) is str and type(t["is_completed"]) is bool
       and isinstance(t["created_at"], str) and isinstance(t["updated_at"], str) for t in j)
   and j[7]["description"] is None and j[8]["description"] is None'
expect_json 'ids strictly increasing' 200 'all(a["id"] < b["id"] for a, b in zip(j, j[1:]))'

http GET '/tasks?limit=100'
expect_json 'GET /tasks?limit=100 (no trailing slash): the same rows' 200 \
  '[row(t) for t in j] == [row(t) for t in exp]'

http GET /tasks/
expect_json 'GET /tasks/: the default limit (10) gives the first 10' 200 \
  '[row(t) for t in j] == [row(t) for t in exp][:10]'
http GET /tasks
expect_json 'GET /tasks: the first 10 too' 200 '[row(t) for t in j] == [row(t) for t in exp][:10]'

http GET '/tasks/?skip=2&limit=3'
expect_json 'skip=2&limit=3: rows 3 to 5' 200 '[row(t) for t in j] == [row(t) for t in exp][2:5]'
http GET '/tasks/?limit=1'
expect_json 'limit=1: the first row' 200 '[row(t) for t in j] == [row(t) for t in exp][:1]'
http GET '/tasks/?skip=11'
expect_json 'skip=11: the last row' 200 '[row(t) for t in j] == [row(t) for t in exp][11:]'
http GET '/tasks/?skip=1000'
expect_json 'skip=1000: []' 200 'j == []'
