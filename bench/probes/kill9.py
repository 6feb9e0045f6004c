#!/usr/bin/env python3
"""kill -9 under load: is every token the provider answered still there after a crash?

Each round loads the token endpoint (client_credentials, keep-alive HTTPS connections)
and records every token it was answered; kills `authdesk serve` with SIGKILL in the
middle of the load; restarts it on the same data directory; and introspects every
answered token. All must be active. Prints answered vs still-active per round; exit
status 1 if any answered token was lost.

    python3 bench/probes/kill9.py [--bin PATH] [--rounds 5] [--connections 32]
"""

import asyncio
import random
import ssl
import sys
import time

import common


async def load(server, connections, stop):
    """Runs `connections` keep-alive clients until `stop`; returns the answered tokens
    and what went wrong before the kill."""
    ctx = server.ssl_context()
    request = common.request_bytes("POST", "/token", [
        f"Authorization: {common.basic(common.SERVICE_ID, common.SERVICE_SECRET)}",
        "Content-Type: application/x-www-form-urlencoded"], common.TOKEN_BODY)
    tokens, bad = [], []

    async def client():
        try:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", server.port, ssl=ctx, server_hostname="localhost")
        except (OSError, ssl.SSLError):
            return
        try:
            while not stop.is_set():
                writer.write(request)
                await writer.drain()
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length)
                if status == 200:
                    tokens.append(common.json.loads(body)["access_token"])
                else:
                    bad.append((status, body[:200]))
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError,
                ssl.SSLError, ValueError):
            pass  # the kill
        finally:
            writer.close()

    await asyncio.gather(*(client() for _ in range(connections)))
    return tokens, bad


async def introspect_all(server, tokens, connections=8):
    ctx = server.ssl_context()
    auth = common.basic(common.SERVICE_ID, common.SERVICE_SECRET)
    queue = list(enumerate(tokens))
    inactive = []

    async def client():
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", server.port, ssl=ctx, server_hostname="localhost")
        try:
            while queue:
                i, token = queue.pop()
                writer.write(common.request_bytes("POST", "/introspect", [
                    f"Authorization: {auth}",
                    "Content-Type: application/x-www-form-urlencoded"], f"token={token}"))
                await writer.drain()
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length)
                if int(head[9:12]) != 200 or not common.json.loads(body).get("active"):
                    inactive.append((i, token[:24] + "...", head[9:12].decode(), body[:120]))
        finally:
            writer.close()

    await asyncio.gather(*(client() for _ in range(connections)))
    return inactive


def main():
    p = common.base_args(__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--kill-after", type=float, nargs=2, default=(1.0, 3.0),
                   metavar=("MIN", "MAX"), help="seconds of load before the kill (uniform)")
    p.add_argument("--durability", choices=("normal", "full"), default=None,
                   help="pass --durability to serve")
    p.add_argument("--random-seed", type=int, default=None)
    a = p.parse_args()
    common.raise_fd_limit()
    seed = a.random_seed if a.random_seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    extra = ["--durability", a.durability] if a.durability else []
    print(f"kill -9 probe: {a.rounds} rounds, {a.connections} connections, "
          f"kill after {a.kill_after[0]}-{a.kill_after[1]} s, binary {a.bin}, "
          f"random seed {seed}")
    lost_total, answered_total = 0, 0
    with common.Server(a.bin, extra=extra, keep=a.keep) as server:
        server.start()
        for rnd in range(1, a.rounds + 1):
            if not server.alive():
                server.start()
            stop = asyncio.Event()
            delay = rng.uniform(*a.kill_after)

            async def round_():
                task = asyncio.ensure_future(load(server, a.connections, stop))
                await asyncio.sleep(delay)
                server.kill9()  # mid-load: requests are in flight
                stop.set()
                return await task

            started = time.time()
            tokens, bad = asyncio.run(round_())
            loaded = time.time() - started
            server.start()  # same data directory
            inactive = asyncio.run(introspect_all(server, tokens))
            active = len(tokens) - len(inactive)
            answered_total += len(tokens)
            lost_total += len(inactive)
            print(f"round {rnd}: killed after {delay:.2f} s of load "
                  f"({len(tokens) / max(loaded, 1e-9):.0f} tokens/s); answered {len(tokens)}, "
                  f"still active after restart {active}"
                  + (f", non-200 answers before the kill {len(bad)}: {bad[:3]}" if bad else ""))
            for row in inactive[:5]:
                print(f"  LOST: #{row[0]} {row[1]} -> {row[2]} {row[3]!r}")
        server.stop()
    print(f"total: answered {answered_total}, still active {answered_total - lost_total}, "
          f"lost {lost_total}")
    sys.exit(1 if lost_total else 0)


if __name__ == "__main__":
    main()
