#!/usr/bin/env python3
"""Slow clients: how long until `authdesk serve` closes connections that hold it up.

Opens, all at once, groups of connections that stop at different points:
- `no-hello`: TCP connected, never a TLS ClientHello;
- `silent`: TLS handshake done (ALPN h2 and http/1.1 offered), then nothing;
- `half-head`: TLS done, half an HTTP/1.1 request head;
- `half-preface`: TLS with ALPN h2, half of the HTTP/2 connection preface;
- `slow-body`: TLS done, a complete head announcing a 1,000-byte form body, 10 bytes
  of it, then nothing;
then waits up to --max-wait seconds for the server to close each, and checks that a
normal request is still answered meanwhile. Reports, per group, how many were closed
and when (min / median / max seconds after the client stopped sending), and how many
got an HTTP answer first. Exit status 1 if a connection is still open at the end.

    python3 bench/probes/slow_clients.py [--bin PATH] [--count 256] [--max-wait 60]
"""

import selectors
import socket
import ssl
import statistics
import sys
import time

import common

GROUPS = ("no-hello", "silent", "half-head", "half-preface", "slow-body")


def open_group(server, kind, count):
    conns = []
    for _ in range(count):
        raw = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        if kind == "no-hello":
            conns.append([kind, raw, time.monotonic(), None])
            continue
        alpn = {"silent": ("h2", "http/1.1"), "half-preface": ("h2",)}.get(kind, ("http/1.1",))
        tls = server.ssl_context(alpn).wrap_socket(raw, server_hostname="localhost")
        if kind == "half-head":
            tls.sendall(b"GET /jwks HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n")
        elif kind == "half-preface":
            tls.sendall(b"PRI * HTTP/2.0\r\n")
        elif kind == "slow-body":
            tls.sendall(b"POST /token HTTP/1.1\r\nHost: localhost\r\n"
                        b"Content-Type: application/x-www-form-urlencoded\r\n"
                        b"Content-Length: 1000\r\n\r\ngrant_type")
        conns.append([kind, tls, time.monotonic(), None])
    return conns


def main():
    p = common.base_args(__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=256, help="connections per group")
    p.add_argument("--max-wait", type=float, default=60)
    p.add_argument("--groups", default=",".join(GROUPS))
    a = p.parse_args()
    common.raise_fd_limit()
    groups = [g for g in a.groups.split(",") if g]
    with common.Server(a.bin, keep=a.keep) as server:
        server.start()
        fds_before = common.proc_fds(server.pid)
        opened = time.monotonic()
        conns = []
        for g in groups:
            conns += open_group(server, g, a.count)
        sent = time.monotonic()
        fds_held = common.proc_fds(server.pid)
        print(f"slow clients: {a.count} connections per group, opened in {sent - opened:.1f} s; "
              f"server fds {fds_before} before, {fds_held} with them open; binary {a.bin}")
        # A normal request while they are held.
        t = time.monotonic()
        r = common.exchange(server, "GET", "/.well-known/openid-configuration")
        print(f"a normal request meanwhile: {r.status} in {(time.monotonic() - t) * 1000:.0f} ms")
        # Each connection: [group, socket, when it last sent, seconds until closed].
        sel = selectors.DefaultSelector()
        for c in conns:
            c[1].setblocking(False)
            sel.register(c[1], selectors.EVENT_READ, c)
        open_count = len(conns)
        answered = {g: 0 for g in groups}
        while open_count and time.monotonic() - sent < a.max_wait:
            for key, _ in sel.select(timeout=0.5):
                c = key.data
                try:
                    while True:
                        data = c[1].recv(65536)
                        if not data:
                            raise EOFError
                        if data.startswith(b"HTTP/"):
                            answered[c[0]] += 1
                except (ssl.SSLWantReadError, BlockingIOError):
                    continue
                except (EOFError, OSError, ssl.SSLError):
                    c[3] = time.monotonic() - c[2]
                    sel.unregister(c[1])
                    c[1].close()
                    open_count -= 1
        still = 0
        for g in groups:
            times = [c[3] for c in conns if c[0] == g and c[3] is not None]
            left = sum(1 for c in conns if c[0] == g and c[3] is None)
            still += left
            spread = (f"closed after min {min(times):.1f} / median {statistics.median(times):.1f}"
                      f" / max {max(times):.1f} s") if times else "none closed"
            print(f"  {g:13} {len(times):4} of {a.count} closed, {left} still open after "
                  f"{a.max_wait:.0f} s; {spread}"
                  + (f"; {answered[g]} got an HTTP answer first" if answered[g] else ""))
        for c in conns:
            if c[3] is None:
                c[1].close()
        time.sleep(1)
        fds_after = common.proc_fds(server.pid)
        print(f"server fds after the clients closed the rest: {fds_after}")
        alive = server.alive()
        server.stop()
    if not alive:
        print("the server died")
    sys.exit(1 if still or not alive else 0)


if __name__ == "__main__":
    main()
