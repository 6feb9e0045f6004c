#!/usr/bin/env python3
"""A bounded fuzzer over every endpoint of `authdesk serve`.

Sends malformed and odd requests to every endpoint the discovery document lists (and
the pages beside them): broken form and percent encodings, invalid UTF-8, huge and
repeated parameters, bad and deeply nested JSON, odd methods, headers and credentials,
unregistered and lookalike redirect URIs, and a list of malformed HTTP/1.1 messages.
Each request goes on a new TLS connection trusting only the provider's CA. A case
fails on:
- a 5xx answer;
- a dropped connection (closed or reset without an HTTP answer);
- input reflected unescaped in an HTML page (a marker with `<`, `"` and `'`);
- a redirect (`Location`, or a form_post page's form) to a URI that is not registered
  for any client (the provider's own pages excepted);
- and, at the end, a server that died or logged a panic.
Bounded by --cases and --seconds; the random seed is printed for a rerun. Exit status
1 on any failure.

    python3 bench/probes/fuzz.py [--bin PATH] [--cases 20000] [--seconds 240] [--random-seed N]
"""

import html
import json
import os
import random
import re
import socket
import ssl
import sys
import time
import urllib.parse

import common

MARK = "fzQ"
MARKER = MARK + "<i>\"'"

PARAMS = ["response_type", "client_id", "redirect_uri", "scope", "state", "nonce",
          "code_challenge", "code_challenge_method", "prompt", "max_age", "login_hint",
          "response_mode", "grant_type", "code", "refresh_token", "code_verifier", "token",
          "token_type_hint", "client_secret", "client_assertion", "client_assertion_type",
          "id_token_hint", "post_logout_redirect_uri", "device_code", "user_code", "username",
          "password", "access_token", "request", "request_uri", "csrf", "decision", "user",
          "persona", "claims", "ui_locales", "display", "acr_values", "audience", "resource"]

# Requests larger than this may be reset by TCP when the server answers early (above).
BIG = 64 * 1024

METHODS = ["GET"] * 7 + ["POST"] * 9 + ["HEAD", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE",
                                        "FOO", "get", "CONNECT"]


class Fuzzer:
    def __init__(self, server, rng):
        self.server = server
        self.rng = rng
        self.failures = []
        self.statuses = {}
        self.cases = 0
        self.big_resets = 0
        disco = common.exchange(server, "GET", "/.well-known/openid-configuration").json()
        origin = server.issuer
        self.paths = sorted({urllib.parse.urlsplit(v).path for k, v in disco.items()
                             if isinstance(v, str) and v.startswith(origin) and k != "issuer"}
                            | {"/", "/device", "/api/me", "/authorize",
                               "/.well-known/oauth-authorization-server", "/nope",
                               "//token", "/token/", "/authorize/../token", "/%2e%2e/token"})
        # RFC 7592 client management: a client registered here (with the token that
        # manages it), and an id nobody registered.
        self.registration_token = MARKER
        if "registration_endpoint" in disco:
            r = common.exchange(server, "POST", "/register", ["Content-Type: application/json"],
                                json.dumps({"redirect_uris": ["http://127.0.0.1:8765/fuzz"],
                                            "client_name": "fuzz"}).encode())
            if r.status == 201:
                answer = r.json()
                self.registration_token = answer["registration_access_token"]
                self.paths += ["/register/" + answer["client_id"], "/register/no-such-client"]
        self.refresh_clients()
        self.token = common.fetch_token(server)

    def refresh_clients(self):
        clients = json.loads(self.server.cli("clients", "list", "--json"))
        self.clients = clients
        self.client_ids = [c["client_id"] for c in clients]
        self.registered = set()
        for c in clients:
            self.registered.update(c.get("redirect_uris") or [])
            self.registered.update(c.get("post_logout_redirect_uris") or [])

    # -- values

    def redirect_value(self):
        r = self.rng
        good = r.choice(sorted(self.registered)) if self.registered else "http://127.0.0.1:8765/callback"
        return r.choice([
            good, good + "?x=1", good + "#frag", good + "/../evil", good.upper(),
            good.replace("127.0.0.1", "127.1"), good.replace("127.0.0.1", "0x7f.1"),
            good.replace("http://", "http://evil@"), good.replace(":8765", ":9999"),
            good.replace("http://", "https://"), good + "%00", good + "\\evil",
            "https://evil.example/cb", "//evil.example/cb", "javascript:alert(1)",
            "data:text/html,<script>alert(1)</script>", "http://localhost.evil.example/cb",
            "http://127.0.0.1:8765/callback@evil.example", MARKER, "",
            "http://[::1]:8765/callback", "com.example.app:/cb",
        ])

    def value(self, name):
        r = self.rng
        pick = r.random()
        if name in ("redirect_uri", "post_logout_redirect_uri") and pick < 0.7:
            return self.redirect_value()
        if name == "client_id" and pick < 0.7:
            return r.choice(self.client_ids + [MARKER, "", "nope", "a" * 300])
        if name in ("token", "access_token", "refresh_token", "id_token_hint") and pick < 0.4:
            t = self.token
            return r.choice([t, t[:-3], t + "x", t.replace(".", "..", 1), "." * 3,
                             "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", MARKER])
        if name == "response_type" and pick < 0.6:
            return r.choice(["code", "token", "id_token", "code id_token", "none", "code code",
                             "", MARKER])
        if name == "grant_type" and pick < 0.7:
            return r.choice(["client_credentials", "authorization_code", "refresh_token",
                             "password", "implicit", "urn:ietf:params:oauth:grant-type:device_code",
                             "urn:ietf:params:oauth:grant-type:jwt-bearer", "", MARKER])
        if name == "scope" and pick < 0.6:
            return r.choice(["openid", "openid profile email offline_access", "api.read",
                             "admin", "openid " * 500, "\u00e9", MARKER])
        return r.choice([
            MARKER, "", "0", "-1", "99999999999999999999999", "1e309", "true", "null",
            "a" * r.choice([10, 1000, 70000]), "\u00e9\u4e2d\U0001F600", "\x00", "\r\n",
            "%00", "%", "%zz", "..%2f..%2f", "<script>alert(1)</script>", "' OR 1=1 --",
            "{\"a\":1}", "\ud800".encode("utf-8", "surrogatepass").decode("latin-1"),
        ])

    # -- bodies

    def form(self):
        r = self.rng
        pairs = []
        for _ in range(r.choice([0, 1, 2, 3, 5, 8, 20])):
            name = r.choice(PARAMS) if r.random() < 0.85 else r.choice([MARKER, "", "a[]", "%"])
            pairs.append((name, self.value(name)))
            if r.random() < 0.1:
                pairs.append((name, self.value(name)))  # repeated
        style = r.random()
        if style < 0.7:
            return urllib.parse.urlencode(pairs, quote_via=urllib.parse.quote).encode()
        if style < 0.85:
            # Raw, unencoded (spaces, '<', '&' and all), as latin-1 bytes.
            return "&".join(f"{k}={v}" for k, v in pairs).encode("latin-1", "replace")
        return r.choice([b"%", b"%zz=1", b"a=%FF%FE%00", b"&&&=&=", b"=x", b"a=1&a",
                         b"\xff\xfe\x00\x01", b"a=" + b"%41" * 50000,
                         b"&".join(b"k%d=v" % i for i in range(20000)),
                         b"grant_type=client_credentials&" * 1000])

    def json_body(self):
        r = self.rng
        return r.choice([
            b"{", b"[]", b"null", b"\"x\"", b"{\"redirect_uris\": 5}",
            b"[" * 5000 + b"]" * 5000, b"{\"a\":" * 3000 + b"1" + b"}" * 3000,
            b"{\"redirect_uris\": [\"\\ud800\"]}", b"\xff\xfe{}",
            json.dumps({"redirect_uris": [self.redirect_value() for _ in range(r.randint(0, 3))],
                        "client_name": self.value("client_name"),
                        "grant_types": r.choice([["authorization_code"], ["client_credentials"],
                                                 ["implicit"], [MARKER], "code", None]),
                        "token_endpoint_auth_method": r.choice(["none", "client_secret_basic",
                                                                "private_key_jwt", MARKER, 5]),
                        "jwks": r.choice([None, {"keys": [{"kty": "RSA", "n": MARKER}]}, "x"]),
                        "scope": self.value("scope")}).encode(),
            json.dumps({"redirect_uris": ["http://127.0.0.1/cb"] * 10000}).encode(),
        ])

    def headers(self, method, body_kind):
        r = self.rng
        h = []
        if body_kind == "form" and r.random() < 0.85:
            h.append(r.choice(["Content-Type: application/x-www-form-urlencoded",
                               "Content-Type: application/x-www-form-urlencoded; charset=utf-16",
                               "Content-Type: APPLICATION/X-WWW-FORM-URLENCODED",
                               "Content-Type: text/plain", "Content-Type: multipart/form-data; boundary=x",
                               "Content-Type: application/json", "Content-Type: ;;;"]))
        if body_kind == "json":
            h.append(r.choice(["Content-Type: application/json", "Content-Type: application/jwt",
                               "Content-Type: application/x-www-form-urlencoded"]))
        if r.random() < 0.5:
            good = common.basic(common.SERVICE_ID, common.SERVICE_SECRET)
            h.append("Authorization: " + r.choice([
                good, "Basic", "Basic " + "A" * 9, "Basic Og==", "Basic " + common.b64(MARKER),
                "Basic " + common.b64("a%zz:b"), "Basic ////", "Bearer", "Bearer " + self.token,
                "Bearer " + MARKER, "Bearer " + "x" * 8000, "Digest x", "basic " + good[6:],
                "Bearer " + self.token + " extra", "Basic " + common.b64("web-app:web-app-secret"),
                "Bearer " + self.registration_token,
            ]))
        if r.random() < 0.2:
            h.append("Cookie: authdesk_session=" + r.choice([MARKER, "x" * 4000, "", "%00"]))
        if r.random() < 0.15:
            h.append("Origin: " + r.choice(["http://localhost:5173", "null", MARKER]))
        if r.random() < 0.1:
            h.append("X-Long: " + "x" * r.choice([4000, 20000, 70000]))
        if r.random() < 0.1:
            h.append(r.choice(["Accept: text/html", "Accept: */*", "Accept-Encoding: gzip",
                               "Expect: 100-continue", "Connection: keep-alive, Upgrade",
                               "Upgrade: h2c", "X-Forwarded-Host: evil.example",
                               "Host: evil.example"]))
        return h

    # -- one case

    def random_case(self):
        r = self.rng
        method = r.choice(METHODS)
        path = r.choice(self.paths)
        body = b""
        kind = None
        query = ""
        if method in ("GET", "HEAD", "get") or r.random() < 0.2:
            q = self.form()
            query = "?" + q.decode("latin-1") if q else ""
        if method not in ("GET", "HEAD", "get"):
            if path.startswith("/register") and r.random() < 0.8:
                kind, body = "json", self.json_body()
            elif r.random() < 0.9:
                kind, body = "form", self.form()
        target = path + query.replace(" ", "%20").replace("\r", "%0D").replace("\n", "%0A")
        headers = self.headers(method, kind)
        raw = common.request_bytes(method, target, headers + ["Connection: close"], body)
        return f"{method} {target[:200]}", raw, method

    def structured_case(self):
        """A valid request of a flow, with one to three parameters changed, dropped or
        repeated: reaches the checks behind the first one (and the redirects)."""
        r = self.rng
        verifier_challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        flow = r.choice(["authorize"] * 5 + ["end_session"] * 2 + ["token", "device"])
        headers = []
        if flow == "authorize":
            client = r.choice([c for c in self.clients if c.get("redirect_uris")])
            params = {"response_type": "code", "client_id": client["client_id"],
                      "redirect_uri": r.choice(client["redirect_uris"]),
                      "scope": "openid profile", "state": MARKER, "nonce": "n-" + MARK,
                      "code_challenge": verifier_challenge, "code_challenge_method": "S256"}
            path = "/authorize"
        elif flow == "end_session":
            client = r.choice([c for c in self.clients if c.get("post_logout_redirect_uris")]
                              or self.clients)
            params = {"client_id": client["client_id"], "state": MARKER,
                      "post_logout_redirect_uri": r.choice(client.get("post_logout_redirect_uris")
                                                           or ["http://127.0.0.1:8765/"])}
            path = "/end_session"
        elif flow == "token":
            params = {"grant_type": "client_credentials", "scope": "api.read"}
            headers.append(f"Authorization: {common.basic(common.SERVICE_ID, common.SERVICE_SECRET)}")
            path = "/token"
        else:
            params = {"client_id": "spa", "scope": "openid"}
            path = "/device_authorization"
        pairs = list(params.items())
        for _ in range(r.randint(1, 3)):
            op = r.random()
            name = r.choice(list(params) + PARAMS[:12])
            if op < 0.6:
                pairs = [(k, v) for k, v in pairs if k != name] + [(name, self.value(name))]
            elif op < 0.8:
                pairs = [(k, v) for k, v in pairs if k != name]
            else:
                pairs.append((name, self.value(name)))
        body = urllib.parse.urlencode(pairs, quote_via=urllib.parse.quote)
        method = "GET" if flow in ("authorize", "end_session") and r.random() < 0.7 else "POST"
        if method == "GET":
            raw = common.request_bytes("GET", f"{path}?{body}", headers + ["Connection: close"])
        else:
            raw = common.request_bytes("POST", path, headers + [
                "Content-Type: application/x-www-form-urlencoded", "Connection: close"], body)
        return f"{method} {path} {body[:160]}", raw, method

    def raw_cases(self):
        conn = "Connection: close\r\n"
        yield from [
            ("garbage request line", b"HELLO\r\n\r\n"),
            ("HTTP/1.0 without Host", b"GET /jwks HTTP/1.0\r\n\r\n"),
            ("absolute-form target", b"GET https://evil.example/jwks HTTP/1.1\r\nHost: localhost\r\n" + conn.encode() + b"\r\n"),
            ("asterisk target", b"OPTIONS * HTTP/1.1\r\nHost: localhost\r\n" + conn.encode() + b"\r\n"),
            ("no Host", b"GET /jwks HTTP/1.1\r\n" + conn.encode() + b"\r\n"),
            ("two Hosts", b"GET /jwks HTTP/1.1\r\nHost: a\r\nHost: b\r\n" + conn.encode() + b"\r\n"),
            ("header without colon", b"GET /jwks HTTP/1.1\r\nHost: localhost\r\nnocolon\r\n\r\n"),
            ("obs-fold", b"GET /jwks HTTP/1.1\r\nHost: localhost\r\nX: a\r\n b\r\n\r\n"),
            ("bare LF", b"GET /jwks HTTP/1.1\nHost: localhost\nConnection: close\n\n"),
            ("NUL in header", b"GET /jwks HTTP/1.1\r\nHost: local\x00host\r\n\r\n"),
            ("100 KB target", b"GET /authorize?state=" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: localhost\r\n\r\n"),
            ("100 KB header", b"GET /jwks HTTP/1.1\r\nHost: localhost\r\nX: " + b"a" * 100_000 + b"\r\n\r\n"),
            ("500 headers", b"GET /jwks HTTP/1.1\r\nHost: localhost\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(500)) + b"\r\n"),
            ("bad chunk size", b"POST /token HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"),
            ("chunked form", b"POST /token HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nContent-Type: application/x-www-form-urlencoded\r\n" + conn.encode() + b"\r\n5\r\ngrant\r\n0\r\n\r\n"),
            ("CL and TE", b"POST /token HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
            ("negative CL", b"POST /token HTTP/1.1\r\nHost: localhost\r\nContent-Length: -1\r\n\r\n"),
            ("two CLs", b"POST /token HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"),
            ("huge CL", b"POST /token HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 99999999999\r\n\r\nabc"),
            ("3 MB form", b"POST /token HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\n" + conn.encode() + b"Content-Length: 3000000\r\n\r\n" + b"a" * 3_000_000),
            ("HTTP/3.0 version", b"GET /jwks HTTP/3.0\r\nHost: localhost\r\n\r\n"),
            ("percent in path", b"GET /%zz HTTP/1.1\r\nHost: localhost\r\n" + conn.encode() + b"\r\n"),
            ("UTF-8 in path", "GET /é HTTP/1.1\r\nHost: localhost\r\n".encode() + conn.encode() + b"\r\n"),
            ("0x80 in target", b"GET /authorize?a=\x80 HTTP/1.1\r\nHost: localhost\r\n" + conn.encode() + b"\r\n"),
        ]

    def send(self, label, raw, method="GET", allow_no_answer=False):
        self.cases += 1
        try:
            sock = self.server.connect(timeout=30)
        except (OSError, ssl.SSLError) as e:
            self.fail(label, raw, f"cannot connect: {e!r}")
            return
        try:
            try:
                sock.sendall(raw)
            except (OSError, ssl.SSLError):
                pass  # the server may answer (and close) before reading it all
            try:
                res = common.read_response(sock, method.upper())
            except common.Dropped as e:
                if len(raw) > BIG:
                    # The server answered (an error) and closed without reading the
                    # whole request; the unread bytes make the kernel reset the
                    # connection, which can discard the answer before it is read.
                    self.big_resets += 1
                elif not allow_no_answer:
                    self.fail(label, raw, f"dropped connection: {e}")
                return
            except socket.timeout:
                self.fail(label, raw, "no answer within 30 s")
                return
            except (OSError, ssl.SSLError, ValueError) as e:
                self.fail(label, raw, f"dropped connection: {e!r}")
                return
        finally:
            try:
                sock.close()
            except OSError:
                pass
        self.statuses[res.status] = self.statuses.get(res.status, 0) + 1
        self.check(label, raw, res)

    def check(self, label, raw, res):
        if res.status >= 500:
            self.fail(label, raw, f"{res.status}: {res.body[:300]!r}")
        ctype = (res.header("content-type") or "").lower()
        body = res.body.decode("utf-8", "replace")
        if "html" in ctype:
            for m in re.finditer(re.escape(MARK), body):
                after = body[m.end():m.end() + 12]
                if after.startswith("<i>") or re.match(r"&lt;i&gt;[\"']", after):
                    self.fail(label, raw, f"unescaped reflection in HTML: ...{body[max(0, m.start() - 60):m.end() + 20]!r}")
                    break
            for action in re.findall(r"<form[^>]*action=\"([^\"]*)\"", body):
                self.check_target(label, raw, html.unescape(action), "form action")
        loc = res.header("location")
        if loc is not None:
            self.check_target(label, raw, loc, f"{res.status} Location")

    def check_target(self, label, raw, target, what):
        issuer = urllib.parse.urlsplit(self.server.issuer)
        t = urllib.parse.urlsplit(target)
        if not t.scheme and not t.netloc and target.startswith("/") and not target.startswith("//"):
            return  # the provider's own page
        if (t.scheme, t.netloc) == (issuer.scheme, issuer.netloc):
            return
        base = urllib.parse.urlunsplit((t.scheme, t.netloc, t.path, "", ""))
        if self.registered_base(base, t):
            return
        self.refresh_clients()  # registered by a /register case?
        if self.registered_base(base, t):
            return
        self.fail(label, raw, f"{what} to a URI not registered: {target[:300]!r}")

    def registered_base(self, base, t):
        for reg in self.registered:
            r = urllib.parse.urlsplit(reg)
            reg_base = urllib.parse.urlunsplit((r.scheme, r.netloc, r.path, "", ""))
            if base in (reg_base, reg_base.rstrip("/")) or base.rstrip("/") == reg_base:
                return True
            # RFC 8252: a loopback redirect URI of a public client, on any port.
            if (t.scheme == r.scheme == "http" and t.hostname == r.hostname
                    and t.hostname in ("127.0.0.1", "::1", "localhost") and t.path == r.path):
                return True
        return False

    def fail(self, label, raw, why):
        self.failures.append((label, why, raw[:300]))
        print(f"FAIL {label[:120]}: {why}")


def main():
    p = common.base_args(__doc__.split("\n\n")[0])
    p.add_argument("--cases", type=int, default=20000)
    p.add_argument("--seconds", type=float, default=240)
    p.add_argument("--random-seed", type=int, default=None)
    a = p.parse_args()
    common.raise_fd_limit()
    seed = a.random_seed if a.random_seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    with common.Server(a.bin, keep=a.keep) as server:
        server.start()
        fz = Fuzzer(server, rng)
        print(f"fuzz: up to {a.cases} cases or {a.seconds:.0f} s over {len(fz.paths)} paths "
              f"({', '.join(fz.paths)}); random seed {seed}; binary {a.bin}")
        started = time.monotonic()
        for label, raw in fz.raw_cases():
            fz.send("raw: " + label, raw, raw.split(b" ", 1)[0].decode("latin-1"))
        while fz.cases < a.cases and time.monotonic() - started < a.seconds:
            make = fz.structured_case if rng.random() < 0.5 else fz.random_case
            label, raw, method = make()
            fz.send(label, raw, method)
            if not server.alive():
                fz.fail(label, raw, "the server died")
                break
        took = time.monotonic() - started
        alive = server.alive()
        if alive:
            r = common.exchange(server, "GET", "/.well-known/openid-configuration")
            if r.status != 200:
                fz.fail("final discovery", b"", f"{r.status}")
        server.stop()
        with open(server.stderr.name) as f:
            log = f.read()
        if "panicked" in log:
            fz.fail("server log", b"", "a panic: " + log[log.index("panicked") - 200:][:600])
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(fz.statuses.items()))
    print(f"{fz.cases} cases in {took:.0f} s; answers by status: {statuses}; "
          f"requests over {BIG // 1024} KiB reset before their answer could be read: "
          f"{fz.big_resets}")
    print(f"failures: {len(fz.failures)}" + ("" if alive else " (the server died)"))
    sys.exit(1 if fz.failures or not alive else 0)


if __name__ == "__main__":
    main()
