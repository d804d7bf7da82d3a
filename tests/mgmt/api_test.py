#!/usr/bin/python3
"""vigil-mgmtd's HTTP API and vigilctl against a real vigil-mgmtd, fed by fake sensors over real
ZeroMQ (tests/mgmt/vigilwire.py).

usage: api_test.py VIGIL_MGMTD VIGILCTL

Prints `ok NAME` / `FAIL NAME: why` per check and exits 1 when any failed."""

import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vigilwire  # noqa: E402

MGMTD, VIGILCTL = sys.argv[1], sys.argv[2]
FAILED = []

# The alerts fed to mgmtd. edge-a: 100 alerts, i = 0..99, one second apart; edge-b: 199 UDP
# alerts; edge-c: one IPv6 alert. 300 in all.
A_BASE = 1700000000
B_BASE = 1700100000


def a_alert(i):
    return vigilwire.alert(i, sid=1000 + i % 5, src="10.0.0.%d" % (i % 10 + 1),
                           dst="10.1.0.%d" % (i % 4 + 1), ts_sec=A_BASE + i,
                           action="blocked" if i % 3 == 0 else "allowed")


def b_alert(i):
    return vigilwire.alert(i, sid=2000, src="192.168.0.1", dst="192.168.0.2", ts_sec=B_BASE + i,
                           proto="UDP")


V6_SRC = "2001:0db8:0000:0000:0000:0000:0000:0001"  # as the sensor writes IPv6 (uncompressed)


def c_alert():
    return vigilwire.alert(0, sid=3000, src=V6_SRC, dst="2001:0db8:0000:0000:0000:0000:0000:0002",
                           ts_sec=B_BASE)


HEARTBEAT_A = {"version": "test", "mode": "run", "uptime_s": 12.5, "rx_packets": 123456,
               "rx_bytes": 9999999, "capture_drops": 7, "alerts": 100, "drops": 0,
               "blocks_active": 3, "blocks_added": 5, "enforcement": "ok", "ruleset_id": 1,
               "rules_loaded": 10, "rules_rejected": 0, "last_seq": 99, "acked_seq": 90,
               "spool_records": 9, "spool_bytes": 900, "spool_dropped": 2, "workers": []}


def check(name, cond, why=""):
    if cond:
        print("ok", name)
    else:
        print("FAIL %s%s" % (name, ": " + why if why else ""))
        FAILED.append(name)
    sys.stdout.flush()
    return cond


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Api:
    def __init__(self, port):
        self.base = "http://127.0.0.1:%d" % port

    def call(self, path, token=None, method="GET", body=None, headers=None):
        """(status, headers, body bytes) of one request."""
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = "Bearer " + token
        data = body
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        if data is None and method in ("POST", "PUT", "PATCH", "DELETE"):
            data = b""
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def json(self, path, token, **kw):
        status, headers, body = self.call(path, token, **kw)
        return status, json.loads(body) if body else None

    def error(self, path, token, **kw):
        """(status, the API's error message or the raw body)."""
        status, _, body = self.call(path, token, **kw)
        try:
            return status, json.loads(body)["error"]
        except Exception:  # noqa: BLE001 - the check shows the raw body
            return status, body.decode(errors="replace")


# ---- a strict Prometheus text format (0.0.4) parser ----

NAME_RE = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL_RE = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:\\\\|\\"|\\n|[^"\\\n])*"'
VALUE_RE = r"(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?Inf|NaN)"
SAMPLE_RE = re.compile(r"^(%s)(?:\{((?:%s)(?:,%s)*,?)?\})? (%s)(?: (-?\d+))?$"
                       % (NAME_RE, LABEL_RE, LABEL_RE, VALUE_RE))
HELP_RE = re.compile(r"^# HELP (%s) (.*)$" % NAME_RE)
TYPE_RE = re.compile(r"^# TYPE (%s) (counter|gauge|histogram|summary|untyped)$" % NAME_RE)
ONE_LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:\\\\|\\"|\\n|[^"\\\n])*)"')


def unescape(v):
    return re.sub(r'\\(\\|"|n)', lambda m: "\n" if m.group(1) == "n" else m.group(1), v)


def parse_prometheus(text):
    """{(name, ((label, value), ...)): float}, or raises ValueError naming the line."""
    if not text.endswith("\n"):
        raise ValueError("the exposition does not end with a newline")
    helps, types, series = {}, {}, {}
    done = set()     # families whose samples are over (a family's samples are contiguous)
    current = None   # the family whose samples may follow
    for n, line in enumerate(text[:-1].split("\n"), 1):
        where = "line %d %r" % (n, line)
        if line.startswith("#"):
            m = HELP_RE.match(line)
            if m:
                name = m.group(1)
                if name in helps or name in done:
                    raise ValueError(where + ": second HELP for " + name)
                helps[name] = m.group(2)
                if current and current != name:
                    done.add(current)
                current = name
                continue
            m = TYPE_RE.match(line)
            if m:
                name = m.group(1)
                if name in types:
                    raise ValueError(where + ": second TYPE for " + name)
                if name not in helps:
                    raise ValueError(where + ": TYPE before HELP for " + name)
                if current != name:
                    raise ValueError(where + ": TYPE is not right after its HELP")
                types[name] = m.group(2)
                if m.group(2) == "counter" and not name.endswith("_total"):
                    raise ValueError(where + ": counter not named *_total")
                if m.group(2) in ("histogram", "summary", "untyped"):
                    raise ValueError(where + ": unexpected type " + m.group(2))
                continue
            raise ValueError(where + ": a comment that is neither HELP nor TYPE")
        m = SAMPLE_RE.match(line)
        if not m:
            raise ValueError(where + ": not a sample line")
        name = m.group(1)
        if name not in types or name not in helps:
            raise ValueError(where + ": sample before its family's HELP and TYPE")
        if name != current or name in done:
            raise ValueError(where + ": sample outside its family's block")
        labels = tuple(sorted((k, unescape(v)) for k, v in ONE_LABEL_RE.findall(m.group(2) or "")))
        if len({k for k, _ in labels}) != len(labels):
            raise ValueError(where + ": repeated label name")
        key = (name, labels)
        if key in series:
            raise ValueError(where + ": duplicate series")
        value = float(m.group(3).replace("Inf", "inf"))
        if types[name] == "counter" and (value < 0 or math.isnan(value)):
            raise ValueError(where + ": negative or NaN counter")
        series[key] = value
    for name in helps:
        if name not in types:
            raise ValueError("family %s has HELP but no TYPE" % name)
    return series, types


def self_test_parser():
    good = ('# HELP a_total x\n# TYPE a_total counter\na_total{s="q\\"\\\\\\n"} 1\n'
            "# HELP g y\n# TYPE g gauge\ng 1.5e3\n")
    bad = [
        "# TYPE a_total counter\n# HELP a_total x\na_total 1\n",       # TYPE before HELP
        "# HELP a x\n# TYPE a counter\na 1\n",                         # counter without _total
        "# HELP g x\n# TYPE g gauge\ng 1\ng 2\n",                      # duplicate series
        "# HELP g x\n# TYPE g gauge\ng{a=\"x\"} 1\n# HELP h x\n# TYPE h gauge\ng{a=\"y\"} 1\n",
        "g 1\n",                                                       # no HELP/TYPE
        "# HELP g x\n# TYPE g gauge\ng{a=\"x\\q\"} 1\n",                # bad escape
        "# HELP g x\n# TYPE g gauge\ng one\n",                         # bad value
        "# HELP g x\n# TYPE g gauge\ng 1",                             # no final newline
        "# random\n# HELP g x\n# TYPE g gauge\ng 1\n",                 # stray comment
    ]
    try:
        parse_prometheus(good)
        ok = True
    except ValueError as e:
        ok = check("prometheus parser accepts valid text", False, str(e))
    refused = 0
    for b in bad:
        try:
            parse_prometheus(b)
        except ValueError:
            refused += 1
    check("prometheus parser self-test", ok and refused == len(bad),
          "refused %d of %d bad texts" % (refused, len(bad)))


# ---- the set-up ----

def run_ctl(*args, env_token=None, timeout=60):
    env = dict(os.environ)
    env.pop("VIGIL_TOKEN", None)
    if env_token is not None:
        env["VIGIL_TOKEN"] = env_token
    return subprocess.run([VIGILCTL] + list(args), capture_output=True, text=True, env=env,
                          timeout=timeout)


def feed(endpoint):
    """Sends the 300 alerts and edge-a's heartbeat; returns once every one is acknowledged."""
    a = vigilwire.FakeSensor(endpoint, "edge-a")
    assert a.hello() is not None, "no welcome for edge-a"
    for i in range(99):
        a.send(vigilwire.RECORD, i + 1, a_alert(i))
    # Sent before the last record: its commit is done when the last record is acknowledged.
    a.send(vigilwire.HEARTBEAT, 99, json.dumps(HEARTBEAT_A))
    a.send(vigilwire.RECORD, 100, a_alert(99))
    assert a.wait_ack(100) == 100, "edge-a not acknowledged"
    b = vigilwire.FakeSensor(endpoint, "edge-b")
    assert b.hello() is not None, "no welcome for edge-b"
    for i in range(199):
        b.send(vigilwire.RECORD, i + 1, b_alert(i))
    assert b.wait_ack(199) == 199, "edge-b not acknowledged"
    c = vigilwire.FakeSensor(endpoint, "edge-c")
    assert c.hello() is not None, "no welcome for edge-c"
    c.send(vigilwire.RECORD, 1, c_alert())
    assert c.wait_ack(1) == 1, "edge-c not acknowledged"
    for s in (a, b, c):
        s.close()


def keys_of(items):
    return sorted((x["sensor_id"], x["seq"]) for x in items)


def all_pages(api, token, query, limit):
    """Every item of a query, page by page; (items, pages) or raises."""
    items, pages, cursor = [], 0, None
    while True:
        q = query + "&limit=%d" % limit + ("&cursor=" + cursor if cursor else "")
        status, page = api.json("/api/v1/alerts?" + q, token)
        if status != 200:
            raise AssertionError("page %d: HTTP %d %s" % (pages, status, page))
        pages += 1
        if len(page["alerts"]) > limit:
            raise AssertionError("a page of %d items" % len(page["alerts"]))
        items += page["alerts"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items, pages
        if pages > 1000:
            raise AssertionError("paging does not end")


def main():
    self_test_parser()
    tmp = tempfile.mkdtemp(prefix="vigil-api-test-")
    port = free_port()
    endpoint = "ipc://%s/mgmt.sock" % tmp
    cfg = os.path.join(tmp, "mgmtd.yaml")
    with open(cfg, "w") as f:
        f.write('listen: "%s"\n'
                "store: {path: mgmt.db, commit-ms: 5}\n"
                'api: {listen: "127.0.0.1:%d", tokens: tokens.db, max-body: 4096}\n'
                % (endpoint, port))

    tokens = {}
    for name, role in (("root", "admin"), ("viewer1", "viewer"), ("op1", "operator"),
                       ("gone", "viewer")):
        r = run_ctl("tokens", "add", name, "--role", role, "--config", cfg)
        check("vigilctl tokens add --config %s" % name,
              r.returncode == 0 and re.fullmatch(r"vgl_[0-9a-f]{64}\n", r.stdout),
              "rc=%d out=%r err=%r" % (r.returncode, r.stdout, r.stderr))
        tokens[name] = r.stdout.strip()
    r = run_ctl("tokens", "revoke", "gone", "--config", cfg)
    check("vigilctl tokens revoke --config", r.returncode == 0, r.stderr)
    mode = os.stat(os.path.join(tmp, "tokens.db")).st_mode & 0o777
    check("token file is 0600", mode == 0o600, oct(mode))
    with open(os.path.join(tmp, "tokens.db"), "rb") as f:
        raw = f.read()
    check("token file holds no token", all(t[4:].encode() not in raw for t in tokens.values()))

    log = open(os.path.join(tmp, "mgmtd.log"), "w")
    mgmtd = subprocess.Popen([MGMTD, "--config", cfg], stdout=log, stderr=subprocess.STDOUT)
    api = Api(port)
    root, viewer = tokens["root"], tokens["viewer1"]
    try:
        deadline = time.monotonic() + 15
        up = False
        while time.monotonic() < deadline and mgmtd.poll() is None:
            try:
                up = api.call("/api/v1/status", root)[0] == 200
            except OSError:
                up = False
            if up:
                break
            time.sleep(0.1)
        if not check("mgmtd serves the API", up, "see %s/mgmtd.log" % tmp):
            return
        feed(endpoint)
        check("fake sensors fed 300 alerts", True)
        run_checks(api, tokens, port, endpoint)
    except Exception:  # noqa: BLE001 - reported as a failure with its trace
        traceback.print_exc()
        check("no exception in the test", False)
    finally:
        mgmtd.send_signal(signal.SIGTERM)
        try:
            rc = mgmtd.wait(20)
        except subprocess.TimeoutExpired:
            mgmtd.kill()
            rc = mgmtd.wait()
        log.close()
        check("mgmtd stops cleanly on SIGTERM", rc == 0, "rc=%s" % rc)
        with open(os.path.join(tmp, "mgmtd.log")) as f:
            text = f.read()
        check("mgmtd log has no token", all(t not in text for t in tokens.values()))
        if FAILED:
            print("mgmtd log (%s):\n%s" % (tmp, text[-4000:]))
        else:
            subprocess.run(["rm", "-rf", tmp])


def tls_checks():
    """api.tls: HTTPS served, vigilctl verifies the certificate (--ca-file)."""
    openssl = "/usr/bin/openssl"
    if not os.path.exists(openssl):
        print("skip TLS checks: no %s" % openssl)
        return
    tmp = tempfile.mkdtemp(prefix="vigil-api-tls-")
    r = subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        os.path.join(tmp, "api.key"), "-out", os.path.join(tmp, "api.crt"),
                        "-days", "2", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                       capture_output=True, text=True)
    if not check("TLS: test certificate made", r.returncode == 0, r.stderr):
        return
    port = free_port()
    cfg = os.path.join(tmp, "mgmtd.yaml")
    with open(cfg, "w") as f:
        f.write('listen: "ipc://%s/m.sock"\nstore: {path: m.db}\n'
                'api: {listen: "127.0.0.1:%d", tokens: t.db, '
                'tls: {cert: api.crt, key: api.key}}\n' % (tmp, port))
    token = run_ctl("tokens", "add", "a", "--role", "viewer", "--config", cfg).stdout.strip()
    mgmtd = subprocess.Popen([MGMTD, "--config", cfg], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        url = "https://127.0.0.1:%d" % port
        r = None
        for _ in range(100):
            r = run_ctl("--api", url, "--ca-file", os.path.join(tmp, "api.crt"), "status",
                        env_token=token)
            if r.returncode == 0:
                break
            time.sleep(0.1)
        check("TLS: vigilctl --ca-file status over https", r.returncode == 0, r.stderr)
        r = run_ctl("--api", url, "status", env_token=token)
        check("TLS: an unverified certificate is refused (exit 1)",
              r.returncode == 1 and "certificate" in r.stderr, "rc=%d %s" % (r.returncode, r.stderr))
        r = run_ctl("--api", "http://127.0.0.1:%d" % port, "status", env_token=token)
        check("TLS: plain http to the https API fails (exit 1)", r.returncode == 1, r.stderr)
    finally:
        mgmtd.send_signal(signal.SIGTERM)
        mgmtd.wait(20)
        subprocess.run(["rm", "-rf", tmp])


def run_checks(api, tokens, port, endpoint):
    root, viewer, op = tokens["root"], tokens["viewer1"], tokens["op1"]

    # --- authentication and roles ---
    status, headers, _ = api.call("/api/v1/status")
    check("no token: 401 with WWW-Authenticate: Bearer",
          status == 401 and (headers.get("WWW-Authenticate") or "").startswith("Bearer"),
          "%d %s" % (status, headers.get("WWW-Authenticate")))
    status, headers, _ = api.call("/api/v1/status", "vgl_" + "0" * 64)
    check("unknown token: 401", status == 401 and headers.get("WWW-Authenticate"), str(status))
    status, _, _ = api.call("/api/v1/status", headers={"Authorization": "Basic cm9vdDpyb290"})
    check("basic auth: 401", status == 401, str(status))
    status, _ = api.error("/api/v1/status", tokens["gone"])
    check("revoked token: 401", status == 401, str(status))
    status, msg = api.error("/api/v1/tokens", viewer)
    check("viewer on /api/v1/tokens: 403", status == 403 and "admin" in msg, "%d %s" % (status, msg))
    status, msg = api.error("/api/v1/tokens", op)
    check("operator on /api/v1/tokens: 403", status == 403, "%d %s" % (status, msg))
    status, listed = api.json("/api/v1/tokens", root)
    check("admin on /api/v1/tokens: 200",
          status == 200 and {t["name"] for t in listed} >= {"root", "viewer1", "op1", "gone"}
          and all("token" not in t and "hash" not in t for t in listed), str(listed))
    gone = [t for t in listed if t["name"] == "gone"]
    check("revoked token listed as revoked", gone and gone[0]["revoked"] is not None, str(gone))
    status, _ = api.json("/api/v1/status", viewer)
    check("viewer on /api/v1/status: 200", status == 200)

    # Tokens through the API: made, used, revoked.
    status, made = api.json("/api/v1/tokens", root, method="POST",
                            body={"name": "api-made", "role": "viewer"})
    check("POST /api/v1/tokens: 201 with the token",
          status == 201 and made["name"] == "api-made" and made["role"] == "viewer"
          and re.fullmatch(r"vgl_[0-9a-f]{64}", made.get("token", "")), str(made))
    check("the new token works", api.call("/api/v1/status", made["token"])[0] == 200)
    status, msg = api.error("/api/v1/tokens", root, method="POST",
                            body={"name": "api-made", "role": "viewer"})
    check("POST a name in use: 409", status == 409, "%d %s" % (status, msg))
    status, msg = api.error("/api/v1/tokens", root, method="POST",
                            body={"name": "x y", "role": "viewer"})
    check("POST a bad name: 400 naming it", status == 400 and "name" in msg, msg)
    status, msg = api.error("/api/v1/tokens", root, method="POST",
                            body={"name": "z", "role": "root"})
    check("POST a bad role: 400 naming it", status == 400 and "role" in msg, msg)
    status, msg = api.error("/api/v1/tokens", root, method="POST", body=b"{not json",
                            headers={"Content-Type": "application/json"})
    check("POST a body that is not JSON: 400", status == 400, "%d %s" % (status, msg))
    status, msg = api.error("/api/v1/tokens", viewer, method="POST",
                            body={"name": "v2", "role": "admin"})
    check("viewer cannot make tokens: 403", status == 403, str(status))
    status, _ = api.json("/api/v1/tokens/api-made", root, method="DELETE")
    check("DELETE /api/v1/tokens/NAME: 200", status == 200, str(status))
    check("a revoked token: 401", api.call("/api/v1/status", made["token"])[0] == 401)
    status, msg = api.error("/api/v1/tokens/api-made", root, method="DELETE")
    check("DELETE a revoked token: 404", status == 404, "%d %s" % (status, msg))

    # --- status codes ---
    status, msg = api.error("/api/v1/tokens", root, method="POST", body=b"x" * 10000,
                            headers={"Content-Type": "application/json"})
    check("413 for a body over api.max-body", status == 413 and "max-body" in msg,
          "%d %s" % (status, msg))
    status, msg = api.error("/api/v1/nothing", root)
    check("404 for an unknown route, JSON error", status == 404 and "/api/v1/nothing" in msg,
          "%d %s" % (status, msg))
    status, msg = api.error("/api/v1/alerts/999999", root)
    check("404 for an absent alert", status == 404, "%d %s" % (status, msg))
    status, headers, body = api.call("/api/v1/status", root, method="PUT")
    check("405 for PUT /api/v1/status, with Allow",
          status == 405 and headers.get("Allow") == "GET" and b"error" in body,
          "%d %s" % (status, headers.get("Allow")))
    status, _ = api.error("/api/v1/alerts", root, method="DELETE")
    check("405 for DELETE /api/v1/alerts", status == 405, str(status))
    status, msg = api.error("/api/v1/alerts/abc", root)
    check("400 for a non-numeric alert id", status == 400 and "id" in msg, "%d %s" % (status, msg))
    status, msg = api.error("/api/v1/status?verbose=1", root)
    check("400 for a parameter on /api/v1/status", status == 400 and "verbose" in msg, msg)

    # --- bad filters: 400 naming the parameter ---
    for query, param in (("sid=abc", "sid"), ("sid=-1", "sid"), ("sid=4294967296", "sid"),
                         ("src=not-an-ip", "src"), ("dst=10.0.0.256", "dst"),
                         ("limit=0", "limit"), ("limit=5000", "limit"), ("limit=ten", "limit"),
                         ("cursor=garbage", "cursor"), ("cursor=djE6YXNjOjA", "cursor"),
                         ("bogus=1", "bogus"), ("limit=5&limit=5", "limit"),
                         ("since=yesterday", "since"), ("until=2024-13-01T00:00:00Z", "until"),
                         ("since=2024-01-01T00:00:00", "since"), ("order=up", "order"),
                         ("action=dropped", "action"), ("sensor=a%2Fb", "sensor"),
                         ("since=1700000100&until=1700000000", "since")):
        status, msg = api.error("/api/v1/alerts?" + query, viewer)
        check("400 for %s naming %s" % (query, param),
              status == 400 and param in msg, "%d %s" % (status, msg))
    status, page = api.json("/api/v1/alerts?order=asc&limit=1", viewer)
    desc_cursor_q = "/api/v1/alerts?order=desc&limit=1&cursor=%s" % page["next_cursor"]
    status, msg = api.error(desc_cursor_q, viewer)
    check("400 for an asc cursor with order=desc", status == 400 and "cursor" in msg, msg)

    # --- filters ---
    def ids(query):
        items, _ = all_pages(api, viewer, query, 1000)
        return keys_of(items)

    def a_seqs(pred):
        return sorted(("edge-a", i + 1) for i in range(100) if pred(i))

    check("sid filter", ids("sid=1002") == a_seqs(lambda i: i % 5 == 2))
    check("src filter", ids("src=10.0.0.3") == a_seqs(lambda i: i % 10 == 2))
    check("dst filter", ids("dst=10.1.0.2") == a_seqs(lambda i: i % 4 == 1))
    check("sensor filter", ids("sensor=edge-b") == sorted(("edge-b", i + 1) for i in range(199)))
    check("action filter", ids("action=blocked") == a_seqs(lambda i: i % 3 == 0))
    check("proto filter (case-insensitive)",
          ids("proto=udp") == sorted(("edge-b", i + 1) for i in range(199)))
    check("IPv6 src filter (compressed form matches EVE's)",
          ids("src=2001:db8::1") == [("edge-c", 1)])
    check("filters combine",
          ids("sensor=edge-a&sid=1000&action=blocked") == a_seqs(lambda i: i % 15 == 0))
    # edge-a alert i is at A_BASE + i seconds + i µs: since/until are inclusive.
    got = ids("sensor=edge-a&since=%d&until=2023-11-14T22:13:39.5Z" % (A_BASE + 10))
    check("since (epoch) / until (ISO Z)", got == a_seqs(lambda i: 10 <= i <= 19), str(got))
    got = ids("since=2023-11-14T22:14:10.000000%2B0000&until=2023-11-14T22:14:12.000012%2B0000")
    check("since / until in EVE's format", got == a_seqs(lambda i: 50 <= i <= 51), str(got))
    got = ids("since=2023-11-14T23:14:10%2B01:00&until=2023-11-14T22:14:11Z")
    check("since with an offset", got == a_seqs(lambda i: i == 50), str(got))
    check("type filter", ids("type=drop") == [])

    # --- paging ---
    for order in ("desc", "asc"):
        try:
            items, pages = all_pages(api, viewer, "sensor=edge-a&order=%s" % order, 7)
            id_list = [x["id"] for x in items]
            monotonic = id_list == sorted(id_list, reverse=(order == "desc"))
            check("paging by 7 (%s): every alert once" % order,
                  keys_of(items) == a_seqs(lambda i: True) and len(set(id_list)) == 100
                  and pages == 15 and monotonic,
                  "%d items, %d pages, monotonic=%s" % (len(items), pages, monotonic))
        except AssertionError as e:
            check("paging by 7 (%s): every alert once" % order, False, str(e))
    status, page = api.json("/api/v1/alerts", viewer)
    check("default page: 100 newest first, next_cursor set",
          status == 200 and len(page["alerts"]) == 100 and page["next_cursor"]
          and page["alerts"][0]["id"] > page["alerts"][-1]["id"])
    items, _ = all_pages(api, viewer, "order=asc", 1000)
    check("300 alerts in all", len(items) == 300, str(len(items)))

    # --- one alert; the EVE record is kept as the sensor sent it ---
    first_a = [x for x in items if x["sensor_id"] == "edge-a" and x["seq"] == 8][0]
    status, _, body = api.call("/api/v1/alerts/%d" % first_a["id"], viewer)
    one = json.loads(body)
    check("GET /api/v1/alerts/{id}",
          status == 200 and one["id"] == first_a["id"] and one["sensor_id"] == "edge-a"
          and one["seq"] == 8 and set(one) == {"id", "sensor_id", "seq", "eve"}, str(one))
    check("the EVE record is unchanged (bytes and key order)",
          json.dumps(one["eve"], separators=(",", ":")) == a_alert(7), body[:300])

    # --- status and sensors ---
    status, st = api.json("/api/v1/status", viewer)
    by_id = {s["sensor_id"]: s for s in st.get("sensors", [])}
    check("status: version, uptime, store, ingest, sensors",
          status == 200 and st["version"] and st["uptime_s"] > 0 and st["store"]["events"] >= 300
          and st["ingest"]["messages"] >= 300 and st["sensors_count"] == 3
          and by_id["edge-a"]["connected"] is True
          and 0 <= by_id["edge-a"]["heartbeat_age_s"] < 60
          and by_id["edge-b"]["heartbeat_age_s"] is None, json.dumps(st)[:600])
    status, sensors = api.json("/api/v1/sensors", viewer)
    sa = {s["sensor_id"]: s for s in sensors}.get("edge-a", {})
    check("sensors: fields and the heartbeat as an object",
          status == 200 and len(sensors) == 3 and sa.get("committed_seq") == 100
          and sa.get("events") == 100 and isinstance(sa.get("heartbeat"), dict)
          and sa["heartbeat"].get("rx_packets") == 123456
          and re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", sa.get("first_seen") or "")
          and re.match(r"\d{4}-\d\d-\d\dT", sa.get("last_heartbeat") or "")
          and {"version", "gap_records", "heartbeat_age_s"} <= set(sa), json.dumps(sa)[:600])

    # --- /metrics ---
    status, headers, body = api.call("/metrics", viewer)
    check("/metrics: 200, text format 0.0.4",
          status == 200 and "version=0.0.4" in (headers.get("Content-Type") or ""),
          str(headers.get("Content-Type")))
    status, _, _ = api.call("/metrics")
    check("/metrics needs a token", status == 401)
    try:
        series, types = parse_prometheus(body.decode())
        check("/metrics parses strictly", True)
    except ValueError as e:
        check("/metrics parses strictly", False, str(e))
        series, types = {}, {}

    def val(name, **labels):
        return series.get((name, tuple(sorted(labels.items()))))

    want = [
        ("vigil_up", {}, 1),
        ("vigil_alerts_stored", {"sensor": "edge-a"}, 100),
        ("vigil_alerts_stored", {"sensor": "edge-b"}, 199),
        ("vigil_alerts_stored", {"sensor": "edge-c"}, 1),
        ("vigil_sensor_rx_packets_total", {"sensor": "edge-a"}, 123456),
        ("vigil_sensor_capture_drops_total", {"sensor": "edge-a"}, 7),
        ("vigil_sensor_alerts_total", {"sensor": "edge-a"}, 100),
        ("vigil_sensor_blocks_active", {"sensor": "edge-a"}, 3),
        ("vigil_sensor_spool_records", {"sensor": "edge-a"}, 9),
        ("vigil_sensor_spool_dropped_total", {"sensor": "edge-a"}, 2),
        ("vigil_ingest_duplicates_total", {}, 0),
        ("vigil_ingest_commit_errors_total", {}, 0),
    ]
    for name, labels, expected in want:
        got = val(name, **labels)
        check("metric %s%s = %s" % (name, labels or "", expected), got == expected, str(got))
    age = val("vigil_sensor_last_heartbeat_age_seconds", sensor="edge-a")
    check("metric vigil_sensor_last_heartbeat_age_seconds", age is not None and 0 <= age < 60,
          str(age))
    check("metric vigil_store_events >= 300", (val("vigil_store_events") or 0) >= 300)
    check("metric vigil_store_bytes > 0", (val("vigil_store_bytes") or 0) > 0)
    check("metric vigil_ingest_messages_total >= 300",
          (val("vigil_ingest_messages_total") or 0) >= 300)
    check("metric families have their types",
          types.get("vigil_ingest_rejected_total") == "counter"
          and types.get("vigil_sensor_blocks_active") == "gauge"
          and types.get("vigil_up") == "gauge")

    # --- vigilctl ---
    url = "http://127.0.0.1:%d" % port
    r = run_ctl("--api", url, "alerts", "--json", "--limit", "250", env_token=viewer)
    try:
        arr = json.loads(r.stdout)
        distinct = {json.dumps(x, sort_keys=True) for x in arr}
        check("vigilctl alerts --json --limit 250: 250 distinct EVE records",
              r.returncode == 0 and isinstance(arr, list) and len(arr) == 250
              and len(distinct) == 250 and all(x.get("event_type") == "alert" for x in arr)
              and all("eve" not in x and "id" not in x for x in arr),
              "rc=%d n=%d distinct=%d" % (r.returncode, len(arr), len(distinct)))
    except ValueError as e:
        check("vigilctl alerts --json --limit 250: 250 distinct EVE records", False,
              "%s: %r %r" % (e, r.stdout[:200], r.stderr))
    r = run_ctl("--api", url, "alerts", "--json", "--limit", "100000", "--sensor", "edge-b",
                "--order", "asc", env_token=viewer)
    arr = json.loads(r.stdout) if r.returncode == 0 else []
    check("vigilctl alerts --json pages to the end",
          len(arr) == 199 and [x["flow_id"] for x in arr] == [1000 + i for i in range(199)],
          "rc=%d n=%d" % (r.returncode, len(arr)))
    r = run_ctl("--api", url, "alerts", "--sensor", "edge-a", "--sid", "1001", "--limit", "5",
                env_token=viewer)
    lines = r.stdout.rstrip("\n").split("\n")
    check("vigilctl alerts: a table",
          r.returncode == 0 and len(lines) == 6
          and re.match(r"TIME\s+SENSOR\s+ACTION\s+SID\s+SIGNATURE\s+SRC -> DST\s+PROTO$", lines[0])
          and all(re.search(r"edge-a\s+(allowed|blocked)\s+1001\s+test alert 1001\s+"
                            r"10\.0\.0\.\d+:\d+ -> 10\.1\.0\.\d:80\s+TCP$", ln)
                  for ln in lines[1:]),
          "rc=%d\n%s%s" % (r.returncode, r.stdout, r.stderr))
    r = run_ctl("--api", url, "alerts", "--src", "2001:db8::1", "--json", env_token=viewer)
    check("vigilctl alerts --src (IPv6)",
          r.returncode == 0 and len(json.loads(r.stdout)) == 1, r.stdout + r.stderr)
    r = run_ctl("--api", url, "sensors", "--json", env_token=viewer)
    check("vigilctl sensors --json",
          r.returncode == 0 and sorted(s["sensor_id"] for s in json.loads(r.stdout))
          == ["edge-a", "edge-b", "edge-c"], r.stdout + r.stderr)
    r = run_ctl("--api", url, "sensors", env_token=viewer)
    check("vigilctl sensors: a table",
          r.returncode == 0 and r.stdout.startswith("SENSOR") and "edge-c" in r.stdout,
          r.stdout + r.stderr)
    r = run_ctl("--api", url, "status", env_token=viewer)
    check("vigilctl status", r.returncode == 0 and "sensors: 3" in r.stdout
          and "edge-a" in r.stdout, r.stdout + r.stderr)
    tok_path = os.path.join(tempfile.mkdtemp(prefix="vigil-api-token-"), "token")
    with open(tok_path, "w") as f:
        f.write(root + "\n")
    r = run_ctl("--api", url, "--token-file", tok_path, "tokens", "add", "ctl-made", "--role",
                "operator")
    check("vigilctl tokens add (API) prints only the token",
          r.returncode == 0 and re.fullmatch(r"vgl_[0-9a-f]{64}\n", r.stdout), r.stdout + r.stderr)
    r = run_ctl("--api", url, "--token-file", tok_path, "tokens", "list", "--json")
    check("vigilctl tokens list --json",
          r.returncode == 0 and "ctl-made" in {t["name"] for t in json.loads(r.stdout)},
          r.stdout + r.stderr)
    r = run_ctl("--api", url, "--token-file", tok_path, "tokens", "revoke", "ctl-made")
    check("vigilctl tokens revoke (API)", r.returncode == 0, r.stderr)
    os.unlink(tok_path)
    os.rmdir(os.path.dirname(tok_path))

    # Exit codes.
    r = run_ctl("--api", url, "alerts", env_token="vgl_" + "1" * 64)
    check("vigilctl: 401 exits 2 with the API's message",
          r.returncode == 2 and "unknown or revoked token" in r.stderr,
          "rc=%d %s" % (r.returncode, r.stderr))
    r = run_ctl("--api", url, "tokens", "list", env_token=viewer)
    check("vigilctl: 403 exits 2", r.returncode == 2 and "admin" in r.stderr,
          "rc=%d %s" % (r.returncode, r.stderr))
    r = run_ctl("--api", url, "alerts", "--src", "nope", env_token=viewer)
    check("vigilctl: 400 exits 2 naming the parameter",
          r.returncode == 2 and "src" in r.stderr, "rc=%d %s" % (r.returncode, r.stderr))
    r = run_ctl("--api", "http://127.0.0.1:%d" % free_port(), "status", env_token=viewer)
    check("vigilctl: unreachable API exits 1", r.returncode == 1 and r.stderr,
          "rc=%d %s" % (r.returncode, r.stderr))
    r = run_ctl("alerts", "--bogus", env_token=viewer)
    check("vigilctl: unknown option exits 2 naming it",
          r.returncode == 2 and "--bogus" in r.stderr, "rc=%d %s" % (r.returncode, r.stderr))
    r = run_ctl("--help")
    check("vigilctl --help lists commands and exit codes",
          r.returncode == 0 and "Exit codes" in r.stdout and "alerts" in r.stdout
          and "tokens" in r.stdout and "keys" in r.stdout, r.stdout)

    # --follow: new alerts appear as they arrive.
    follow = subprocess.Popen([VIGILCTL, "--api", url, "alerts", "--follow", "--json",
                               "--interval", "0.2", "--sensor", "edge-f"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=dict(os.environ, VIGIL_TOKEN=viewer))
    time.sleep(1.0)
    s = vigilwire.FakeSensor(endpoint, "edge-f")
    s.hello()
    for i in range(3):
        s.send(vigilwire.RECORD, i + 1, vigilwire.alert(i, sid=4000 + i))
    s.wait_ack(3)
    s.close()
    time.sleep(1.5)
    follow.send_signal(signal.SIGINT)
    try:
        out, err = follow.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        follow.kill()
        out, err = follow.communicate()
    got = [json.loads(ln)["alert"]["signature_id"] for ln in out.splitlines() if ln.strip()]
    check("vigilctl alerts --follow prints new alerts, stops on SIGINT with 0",
          follow.returncode == 0 and got == [4000, 4001, 4002],
          "rc=%s got=%s err=%s" % (follow.returncode, got, err))


if __name__ == "__main__":
    main()
    tls_checks()
    if FAILED:
        print("%d check(s) failed: %s" % (len(FAILED), ", ".join(FAILED)))
        sys.exit(1)
    print("all checks passed")
