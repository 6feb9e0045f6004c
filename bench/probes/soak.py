#!/usr/bin/env python3
"""Soak: N keep-alive HTTPS connections for T seconds against `authdesk serve`, a mix of
tokens, introspections, JWKS and discovery (`--mix` picks some), sampling the server's
RSS and open file descriptors from /proc every second. Reports min/max of both, the
counts of answers, 5xx and socket errors, and RSS and descriptors a few seconds after
the load (`--settle`). Exit status 1 on any 5xx or socket error.

    python3 bench/probes/soak.py [--bin PATH] [--seconds 60] [--connections 64]
                                 [--mix token,introspect,jwks,discovery] [--settle 3]
"""

import asyncio
import json
import ssl
import sys
import time

import common


def requests_mix():
    auth = f"Authorization: {common.basic(common.SERVICE_ID, common.SERVICE_SECRET)}"
    form = "Content-Type: application/x-www-form-urlencoded"
    token = common.request_bytes("POST", "/token", [auth, form], common.TOKEN_BODY)
    jwks = common.request_bytes("GET", "/jwks")
    discovery = common.request_bytes("GET", "/.well-known/openid-configuration")
    return auth, form, token, jwks, discovery


KINDS = ("token", "introspect", "jwks", "discovery")


async def soak(server, connections, seconds, stats, mix=KINDS):
    ctx = server.ssl_context()
    auth, form, token_req, jwks_req, disco_req = requests_mix()
    deadline = time.monotonic() + seconds

    async def client(n):
        try:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", server.port, ssl=ctx, server_hostname="localhost")
        except (OSError, ssl.SSLError) as e:
            stats["socket_errors"].append(f"connect: {e!r}")
            return
        last_token = None
        kind = "first request"
        i = n
        try:
            while time.monotonic() < deadline:
                i += 1
                kind = mix[i % len(mix)]
                if kind == "token" or (kind == "introspect" and not last_token):
                    kind, req = "token", token_req
                elif kind == "introspect":
                    req = common.request_bytes("POST", "/introspect", [auth, form],
                                               f"token={last_token}")
                elif kind == "jwks":
                    req = jwks_req
                else:
                    req = disco_req
                writer.write(req)
                await writer.drain()
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length)
                stats["answers"] += 1
                if status >= 500:
                    stats["5xx"].append((kind, status, body[:200]))
                elif status != 200:
                    stats["other"].append((kind, status, body[:200]))
                elif kind == "token":
                    last_token = json.loads(body)["access_token"]
                elif kind == "introspect" and b'"active":true' not in body:
                    stats["other"].append((kind, status, body[:200]))
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError,
                ssl.SSLError, ValueError) as e:
            stats["socket_errors"].append(f"{kind}: {e!r}")
        finally:
            writer.close()

    await asyncio.gather(*(client(n) for n in range(connections)))


def main():
    p = common.base_args(__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--settle", type=float, default=3, help="seconds after the load")
    p.add_argument("--mix", default=",".join(KINDS),
                   help="request kinds, in turn on each connection (default: all four)")
    a = p.parse_args()
    mix = tuple(k for k in a.mix.split(",") if k)
    if not mix or set(mix) - set(KINDS):
        p.error(f"--mix takes some of {','.join(KINDS)}")
    common.raise_fd_limit()
    stats = {"answers": 0, "5xx": [], "other": [], "socket_errors": []}
    samples = []
    with common.Server(a.bin, keep=a.keep) as server:
        server.start()
        time.sleep(1)
        start_rss, start_fds = common.proc_rss_kib(server.pid), common.proc_fds(server.pid)

        async def run():
            task = asyncio.ensure_future(soak(server, a.connections, a.seconds, stats, mix))
            while not task.done():
                samples.append((common.proc_rss_kib(server.pid), common.proc_fds(server.pid)))
                await asyncio.wait([task], timeout=1.0)
            await task

        began = time.monotonic()
        asyncio.run(run())
        took = time.monotonic() - began
        time.sleep(a.settle)
        after_rss, after_fds = common.proc_rss_kib(server.pid), common.proc_fds(server.pid)
        alive = server.alive()
        server.stop()
    rss = [s[0] for s in samples] or [0]
    fds = [s[1] for s in samples] or [0]
    print(f"soak: {a.connections} connections for {a.seconds:.0f} s ({','.join(mix)}), "
          f"binary {a.bin}")
    print(f"answers {stats['answers']} ({stats['answers'] / took:.0f}/s), "
          f"5xx {len(stats['5xx'])}, other non-200 {len(stats['other'])}, "
          f"socket errors {len(stats['socket_errors'])}")
    print(f"RSS: idle before {common.mib(start_rss)}; during load min {common.mib(min(rss))}, "
          f"max {common.mib(max(rss))} ({len(samples)} samples); "
          f"{a.settle:.0f} s after {common.mib(after_rss)}")
    print(f"open fds: idle before {start_fds}; during load min {min(fds)}, max {max(fds)}; "
          f"{a.settle:.0f} s after {after_fds}")
    for what in ("5xx", "other", "socket_errors"):
        for row in stats[what][:5]:
            print(f"  {what}: {row}")
    if not alive:
        print("the server died during the soak")
    sys.exit(1 if stats["5xx"] or stats["socket_errors"] or not alive else 0)


if __name__ == "__main__":
    main()
