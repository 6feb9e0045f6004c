"""What every probe needs: an `authdesk serve` of a built binary on a temporary data
directory, on loopback, trusted through the CA it generated (`authdesk ca export`),
and a few HTTP/1.1-over-TLS helpers. Standard library only (Python >= 3.9).

Nothing here touches the user's data directory: every server gets `--data-dir` in a
temporary directory, and HOME / XDG_* point inside it.
"""

import argparse
import base64
import json
import os
import re
import resource
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEED = os.path.join(ROOT, "examples", "seed.yaml")

# The sample seed's backend client (client_credentials, client_secret_basic).
SERVICE_ID = "service"
SERVICE_SECRET = "service-secret-with-at-least-32-bytes!!"
TOKEN_BODY = "grant_type=client_credentials&scope=api.read%20api.write"

# This machine (and many CI images) point these at the system bundle; the probes trust
# the provider's CA and nothing else, so none of them may leak into a client.
for var in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR", "CURL_CA_BUNDLE",
            "NODE_EXTRA_CA_CERTS", "NIX_SSL_CERT_FILE", "AWS_CA_BUNDLE"):
    os.environ.pop(var, None)


def default_binary():
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "authdesk", "target")
    return os.path.join(target, "release", "authdesk")


def base_args(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--bin", default=os.environ.get("AUTHDESK_BIN") or default_binary(),
                   help="the authdesk binary (default: $AUTHDESK_BIN, else "
                        "$CARGO_TARGET_DIR/release/authdesk, else "
                        "~/.cache/authdesk/target/release/authdesk)")
    p.add_argument("--keep", action="store_true", help="keep the temporary data directory")
    return p


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def b64(s):
    return base64.b64encode(s.encode()).decode()


def basic(client_id, secret):
    q = urllib.parse.quote_plus
    return "Basic " + b64(f"{q(client_id)}:{q(secret)}")


class Server:
    """`authdesk serve --port 0` on a data directory of its own (or a given one)."""

    def __init__(self, binary, workdir=None, extra=(), seed=True, keep=False):
        if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
            sys.exit(f"no authdesk binary at {binary}: build it with "
                     f"`cargo build -p authdesk --release`, or pass --bin PATH")
        self.binary = os.path.abspath(binary)
        self.owned = workdir is None
        self.work = workdir or tempfile.mkdtemp(prefix="authdesk-probe-")
        self.keep = keep
        self.data = os.path.join(self.work, "data")
        self.home = os.path.join(self.work, "home")
        os.makedirs(self.home, exist_ok=True)
        self.extra = list(extra)
        self.seed = seed
        self.proc = None
        self.port = None
        self.issuer = None
        self.ca_file = os.path.join(self.work, "authdesk-ca.pem")
        self.starts = 0

    def env(self):
        env = dict(os.environ)
        env.update({
            "HOME": self.home,
            "XDG_DATA_HOME": os.path.join(self.home, ".local", "share"),
            "XDG_CONFIG_HOME": os.path.join(self.home, ".config"),
            "XDG_CACHE_HOME": os.path.join(self.home, ".cache"),
        })
        env.pop("AUTHDESK_DATA_DIR", None)
        env.setdefault("AUTHDESK_LOG", "warn")
        return env

    def cli(self, *args):
        return subprocess.run([self.binary, "--data-dir", self.data, *args], env=self.env(),
                              capture_output=True, text=True, timeout=120, check=True).stdout

    def start(self, port=0, timeout=120):
        args = [self.binary, "--data-dir", self.data, "serve", "--port", str(port)]
        if self.seed:
            args += ["--seed", SEED, "--auto-approve", "alice"]
        args += self.extra
        self.stderr = open(os.path.join(self.work, f"serve-{self.starts}.log"), "w")
        self.starts += 1
        self.proc = subprocess.Popen(args, env=self.env(), stdout=subprocess.PIPE,
                                     stderr=self.stderr, text=True)
        deadline = time.time() + timeout
        line = ""
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if line.startswith("issuer "):
                break
            if not line and self.proc.poll() is not None:
                raise RuntimeError(f"authdesk serve exited ({self.proc.returncode}); "
                                   f"see {self.stderr.name}")
        else:
            raise RuntimeError("authdesk serve printed no issuer line")
        self.issuer = line.split(" ", 1)[1].strip()
        self.port = int(self.issuer.rsplit(":", 1)[1])
        if not os.path.exists(self.ca_file):
            self.cli("ca", "export", "--out", self.ca_file)
        return self

    @property
    def pid(self):
        return self.proc.pid

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def close(self):
        self.stop()
        if self.owned and not self.keep:
            shutil.rmtree(self.work, ignore_errors=True)
        elif self.owned:
            print(f"kept {self.work}")

    def ssl_context(self, alpn=("http/1.1",)):
        ctx = ssl.create_default_context(cafile=self.ca_file)  # this CA only
        if alpn:
            ctx.set_alpn_protocols(list(alpn))
        return ctx

    def connect(self, timeout=30, alpn=("http/1.1",)):
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        return self.ssl_context(alpn).wrap_socket(sock, server_hostname="localhost")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def proc_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def proc_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def mib(kib):
    return f"{kib / 1024:.1f} MiB"


def request_bytes(method, path, headers=(), body=b"", host="localhost"):
    if isinstance(body, str):
        body = body.encode()
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    names = {h.split(":", 1)[0].strip().lower() for h in headers}
    lines += list(headers)
    if body and "content-length" not in names and "transfer-encoding" not in names:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace") + body


class Response:
    def __init__(self, status, reason, headers, body):
        self.status, self.reason, self.headers, self.body = status, reason, headers, body

    def header(self, name):
        return self.headers.get(name.lower())

    def json(self):
        return json.loads(self.body)


class Dropped(Exception):
    """The server closed the connection without a complete answer."""


def _recv(sock):
    """`sock.recv`, with a connection closed without TLS's close_notify or reset read
    as the end of the stream."""
    try:
        return sock.recv(65536)
    except (ssl.SSLEOFError, ssl.SSLZeroReturnError, ConnectionResetError, BrokenPipeError):
        return b""


def read_response(sock, method="GET"):
    """Reads one HTTP/1.1 response from a blocking socket (after any 100 Continue)."""
    buf = b""
    while True:
        res, buf = _read_one(sock, method, buf)
        if not (100 <= res.status < 200 and res.status != 101):
            return res


def _read_one(sock, method, buf):
    """One response, and what followed it."""
    while b"\r\n\r\n" not in buf:
        chunk = _recv(sock)
        if not chunk:
            raise Dropped(f"closed after {len(buf)} bytes of the head")
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    m = re.match(r"HTTP/1\.[01] (\d{3}) ?(.*)", lines[0])
    if not m:
        raise Dropped(f"not an HTTP status line: {lines[0]!r}")
    status = int(m.group(1))
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return Response(status, m.group(2), headers, b""), rest
    if "content-length" in headers:
        n = int(headers["content-length"])
        while len(rest) < n:
            chunk = _recv(sock)
            if not chunk:
                raise Dropped("closed inside the body")
            rest += chunk
        return Response(status, m.group(2), headers, rest[:n]), rest[n:]
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            while b"\r\n" not in rest:
                chunk = _recv(sock)
                if not chunk:
                    raise Dropped("closed inside a chunk")
                rest += chunk
            size_line, rest = rest.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0], 16)
            while len(rest) < size + 2:
                chunk = _recv(sock)
                if not chunk:
                    raise Dropped("closed inside a chunk")
                rest += chunk
            body += rest[:size]
            rest = rest[size + 2:]
            if size == 0:
                return Response(status, m.group(2), headers, body), rest
    # Until the server closes.
    while True:
        chunk = _recv(sock)
        if not chunk:
            return Response(status, m.group(2), headers, rest), b""
        rest += chunk


def exchange(server, method, path, headers=(), body=b"", timeout=30):
    """One request on a new connection (`Connection: close`)."""
    sock = server.connect(timeout=timeout)
    try:
        sock.sendall(request_bytes(method, path, list(headers) + ["Connection: close"], body))
        return read_response(sock, method)
    finally:
        try:
            sock.close()
        except OSError:
            pass


def fetch_token(server):
    r = exchange(server, "POST", "/token",
                 [f"Authorization: {basic(SERVICE_ID, SERVICE_SECRET)}",
                  "Content-Type: application/x-www-form-urlencoded"], TOKEN_BODY)
    if r.status != 200:
        raise RuntimeError(f"token: {r.status} {r.body[:300]!r}")
    return r.json()["access_token"]
