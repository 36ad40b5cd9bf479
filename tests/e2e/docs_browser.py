#!/usr/bin/env python3
"""tests/e2e/docs_browser.py BASE_URL CHROMIUM — /docs and /redoc in headless Chromium.

Drives the browser over the DevTools protocol on a pipe (--remote-debugging-pipe:
commands on fd 3, answers on fd 4, each a JSON text ended by a NUL byte), so no
port is opened and nothing beyond the standard library is needed. Prints one
"ok - ..." or "not ok - ..." line per assertion (tests/e2e/lib.sh's format):

- /docs (Swagger UI) and /redoc (ReDoc) render an element for every operation
  of BASE_URL/openapi.json (by its operationId), with no console error;
- Swagger UI offers the bearer field (the Authorize button of the document's
  bearerAuth scheme);
- "Try it out" and "Execute" on GET /healthz call the same origin and show
  its answer: 200 and {"status": "ok"}.
"""
import json
import os
import select
import subprocess
import sys
import tempfile
import time
import urllib.request

BASE, CHROMIUM = sys.argv[1].rstrip("/"), sys.argv[2]
WAIT_S = 45  # per page, on a loaded machine; a healthy run takes a second or two


def report(good, desc, *diag):
    print(("ok - " if good else "not ok - ") + desc)
    for line in diag:
        print("#   " + str(line)[:800])
    sys.stdout.flush()


class Browser:
    """One headless Chromium, one page, commands by the DevTools protocol."""

    def __init__(self, profile):
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()
        # The browser as root needs --no-sandbox; the rest keeps it off the network
        # (this machine has none): no updates, no sync, no QUIC, no first-run calls.
        args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-dev-shm-usage", "--user-data-dir=" + profile,
                "--remote-debugging-pipe", "about:blank"]
        script = 'exec "$@" 3<&%d 4>&%d' % (to_chrome_r, from_chrome_w)
        self.proc = subprocess.Popen(["sh", "-c", script, "sh"] + args, pass_fds=(to_chrome_r, from_chrome_w),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(profile, "stderr.log"), "wb"),
                                     start_new_session=True)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.pending = b""
        self.next_id = 0
        self.session = None
        self.console = []

    def _read_message(self, deadline):
        while b"\0" not in self.pending:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.from_chrome], [], [], left)[0]:
                raise TimeoutError("no answer from chromium")
            chunk = os.read(self.from_chrome, 1 << 20)
            if not chunk:
                raise EOFError("chromium closed its pipe")
            self.pending += chunk
        msg, self.pending = self.pending.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None, timeout=30, session=True):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            got = self._read_message(deadline)
            if got.get("method") == "Runtime.consoleAPICalled" and got["params"].get("type") == "error":
                self.console.append(" ".join(str(a.get("value", a.get("description", "")))
                                             for a in got["params"].get("args", [])))
            if got.get("method") == "Log.entryAdded" and got["params"]["entry"].get("level") == "error":
                entry = got["params"]["entry"]
                self.console.append("%s %s" % (entry.get("text", ""), entry.get("url", "")))
            if got.get("id") == self.next_id:
                if "error" in got:
                    raise RuntimeError("%s: %s" % (method, got["error"]))
                return got.get("result", {})

    def open_page(self):
        target = self.call("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True},
                                 session=False)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(domain + ".enable")

    def navigate(self, url):
        self.console = []
        self.call("Page.navigate", {"url": url})

    def js(self, expression):
        res = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                             "awaitPromise": True})
        if "exceptionDetails" in res:
            raise RuntimeError("page script failed: %s" % res["exceptionDetails"].get("text"))
        return res.get("result", {}).get("value")

    def wait_for(self, expression, seconds=WAIT_S):
        """Polls expression until it is truthy; returns its last value."""
        deadline = time.monotonic() + seconds
        value = None
        while time.monotonic() < deadline:
            value = self.js(expression)
            if value:
                return value
            time.sleep(0.2)
        return value

    def close(self):
        try:
            self.call("Browser.close", session=False, timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, 9)
            self.proc.wait()


def operations():
    with urllib.request.urlopen(BASE + "/openapi.json", timeout=15) as r:
        doc = json.load(r)
    ops = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if isinstance(op, dict) and "operationId" in op:
                ops.append((method.upper(), path, op["operationId"], (op.get("tags") or ["default"])[0]))
    return doc, ops


def check_swagger(b, ops):
    ids = ["operations-%s-%s" % (tag, oid) for _, _, oid, tag in ops]
    b.navigate(BASE + "/docs")
    want = json.dumps(ids)
    missing = b.wait_for("(() => { const m = %s.filter(i => !document.getElementById(i));"
                         " return m.length ? null : 'all'; })()" % want)
    if missing != "all":
        missing = b.js("%s.filter(i => !document.getElementById(i))" % want)
    report(missing == "all", "/docs (Swagger UI) renders all %d operations of /openapi.json" % len(ops),
           *([] if missing == "all" else ["missing: %s" % missing]))
    report(bool(b.js("!!document.querySelector('.auth-wrapper .authorize')")),
           "/docs offers Authorize (the document's bearer scheme)")

    # Try it out on GET /healthz: expand, "Try it out", "Execute", read the answer.
    health = [o for o in ops if o[0] == "GET" and o[1] == "/healthz"]
    if not health:
        report(False, "the document has GET /healthz to try out")
        return
    op = "operations-%s-%s" % (health[0][3], health[0][2])
    got = b.wait_for("""(() => {
        const op = document.getElementById(%s);
        if (!op) return null;
        if (!op.classList.contains('is-open')) { op.querySelector('.opblock-summary-control').click(); return null; }
        const tryOut = op.querySelector('.try-out__btn');
        if (tryOut && !tryOut.classList.contains('cancel')) { tryOut.click(); return null; }
        const exec = op.querySelector('.btn.execute');
        if (exec && !op.querySelector('.live-responses-table .response-col_status')) { exec.click(); return null; }
        const status = op.querySelector('.live-responses-table tr.response .response-col_status');
        const body = op.querySelector('.live-responses-table .response-col_description pre, .live-responses-table .response-col_description code');
        const url = op.querySelector('.request-url pre');
        if (!status || !body) return null;
        return {status: status.innerText.trim(), body: body.innerText, url: url ? url.innerText.trim() : ''};
    })()""" % json.dumps(op))
    good = bool(got) and got["status"].startswith("200")
    body_ok = False
    if good:
        try:
            body_ok = json.loads(got["body"]) == {"status": "ok"}
        except ValueError:
            body_ok = False
    report(good and body_ok and got["url"] == BASE + "/healthz",
           "/docs: Try it out + Execute on GET /healthz shows 200 {\"status\": \"ok\"} from %s/healthz" % BASE,
           *([] if good and body_ok else ["got: %r" % (got,)]))
    report(not b.console, "/docs: no console error", *b.console)


def check_redoc(b, ops):
    ids = ["tag/%s/operation/%s" % (tag, oid) for _, _, oid, tag in ops]
    b.navigate(BASE + "/redoc")
    want = json.dumps(ids)
    done = b.wait_for("(() => %s.every(i => document.getElementById(i)) ? 'all' : null)()" % want)
    missing = [] if done == "all" else b.js("%s.filter(i => !document.getElementById(i))" % want)
    report(done == "all", "/redoc (ReDoc) renders all %d operations of /openapi.json" % len(ops),
           *([] if done == "all" else ["missing: %s" % missing]))
    # Each operation's method and path as ReDoc prints them in its panel.
    shown = b.js("document.body.innerText")
    absent = ["%s %s" % (m, p) for m, p, _, _ in ops if p not in (shown or "")]
    report(not absent, "/redoc shows the path of every operation", *absent)
    # The "powered by" logo from a CDN is refused by the page's policy and hides
    # itself: that is the one error ReDoc's page may log (offline, it would fail anyway).
    errors = [e for e in b.console if "cdn.redoc.ly" not in e]
    report(not errors, "/redoc: no console error but the refused CDN logo", *errors)


def main():
    doc, ops = operations()
    report(len(ops) >= 5, "/openapi.json has operations to look for (%d)" % len(ops))
    with tempfile.TemporaryDirectory(prefix="taskapi-chromium.") as profile:
        b = Browser(profile)
        try:
            b.open_page()
            check_swagger(b, ops)
            check_redoc(b, ops)
        except Exception as e:  # a dead or stuck browser is a failure, not a crash
            report(False, "the browser session ran to its end", repr(e))
            with open(os.path.join(profile, "stderr.log"), errors="replace") as f:
                for line in f.read().splitlines()[-15:]:
                    print("#   " + line)
        finally:
            b.close()


main()
