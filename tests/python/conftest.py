"""Fixtures: the real `authdesk serve`, started on port 0 with a fresh data directory.

Every provider runs with its own temporary data dir, HOME and XDG directories, so the
developer's real Authdesk data can never be touched. TLS is trusted through the CA the
provider exports (`authdesk ca export`), never by turning verification off.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
SEED = REPO_ROOT / "examples" / "seed.yaml"
STARTUP_TIMEOUT = float(os.environ.get("AUTHDESK_STARTUP_TIMEOUT", "30"))
STOP_TIMEOUT = 15.0
HTTP_TIMEOUT = 15.0

# The host environment may point requests at the system CA bundle
# (REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE). requests lets those variables override a
# Session's `verify`, which would make the tests trust the wrong roots (and fail, or
# worse, pass for the wrong reason). Every request here passes `verify=<exported CA>`.
for _var in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
    os.environ.pop(_var, None)
# The provider is on loopback: never send its traffic through a proxy.
_no_proxy = ",".join(filter(None, [os.environ.get("NO_PROXY", ""), "localhost,127.0.0.1,::1"]))
os.environ["NO_PROXY"] = os.environ["no_proxy"] = _no_proxy


def default_binary() -> Path:
    target = os.environ.get("CARGO_TARGET_DIR") or str(Path.home() / ".cache" / "authdesk" / "target")
    return Path(target) / "debug" / "authdesk"


def authdesk_binary() -> Path:
    return Path(os.environ.get("AUTHDESK_BIN") or default_binary())


def pytest_sessionstart(session: pytest.Session) -> None:
    binary = authdesk_binary()
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        pytest.exit(
            f"the authdesk binary {binary} does not exist or is not executable; build it with "
            "`CARGO_TARGET_DIR=$HOME/.cache/authdesk/target cargo build` or set AUTHDESK_BIN",
            returncode=4,
        )
    if not SEED.is_file():
        pytest.exit(f"the seed file {SEED} is missing", returncode=4)


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"authdesk binary: {authdesk_binary()}", f"seed: {SEED}"]


@dataclass
class Provider:
    """A running `authdesk serve` and the trust material it exported."""

    name: str
    binary: Path
    root: Path
    data_dir: Path
    env: dict[str, str]
    process: subprocess.Popen
    stderr_path: Path
    issuer: str = ""
    bundle: Path = Path()
    pem: Path = Path()
    metadata: dict = field(default_factory=dict)
    subs: dict[str, str] = field(default_factory=dict)

    # -- helpers used by the tests --

    def url(self, path: str) -> str:
        return self.issuer + path

    @property
    def verify(self) -> str:
        """The `verify=` argument for requests: the exported CA bundle."""
        return str(self.bundle)

    def http(self) -> requests.Session:
        s = requests.Session()
        s.verify = self.verify
        return s

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        """Runs `authdesk --data-dir DIR ARGS…` with the provider's isolated environment."""
        return subprocess.run(
            [str(self.binary), "--data-dir", str(self.data_dir), *args],
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.stderr_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def _isolated_env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHDESK_")}
    for var, sub in [
        ("HOME", "home"),
        ("XDG_DATA_HOME", "xdg-data"),
        ("XDG_CONFIG_HOME", "xdg-config"),
        ("XDG_CACHE_HOME", "xdg-cache"),
        ("XDG_STATE_HOME", "xdg-state"),
    ]:
        d = root / sub
        d.mkdir(parents=True, exist_ok=True)
        env[var] = str(d)
    env["AUTHDESK_LOG"] = os.environ.get("AUTHDESK_LOG", "info")
    env["NO_COLOR"] = "1"
    return env


def _read_lines(stream, out: queue.Queue) -> None:
    for line in stream:
        out.put(line)
    out.put(None)


def start_provider(name: str, root: Path, auto_approve: str | None) -> Provider:
    binary = authdesk_binary()
    env = _isolated_env(root)
    data_dir = root / "data"
    stderr_path = root / "authdesk.log"
    cmd = [str(binary), "serve", "--data-dir", str(data_dir), "--port", "0", "--seed", str(SEED)]
    if auto_approve:
        cmd += ["--auto-approve", auto_approve]
    stderr = open(stderr_path, "wb")
    proc = subprocess.Popen(
        cmd,
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    stderr.close()
    p = Provider(name=name, binary=binary, root=root, data_dir=data_dir, env=env, process=proc, stderr_path=stderr_path)

    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_read_lines, args=(proc.stdout, lines), daemon=True).start()
    deadline = time.monotonic() + STARTUP_TIMEOUT
    issuer = None
    while issuer is None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            _kill(proc)
            pytest.fail(
                f"{name}: `authdesk serve` printed no `issuer https://localhost:PORT` line within "
                f"{STARTUP_TIMEOUT:g}s (raise AUTHDESK_STARTUP_TIMEOUT if the machine is slow).\n"
                f"command: {' '.join(cmd)}\nlog:\n{p.log_tail()}",
                pytrace=False,
            )
        try:
            line = lines.get(timeout=min(remaining, 0.2))
        except queue.Empty:
            continue
        if line is None:
            proc.wait(timeout=5)
            pytest.fail(
                f"{name}: `authdesk serve` exited with {proc.returncode} before printing its issuer.\n"
                f"command: {' '.join(cmd)}\nlog:\n{p.log_tail()}",
                pytrace=False,
            )
        m = re.fullmatch(r"issuer (https://localhost:(\d+))", line.strip())
        if m:
            issuer = m.group(1)
            assert int(m.group(2)) > 0, f"port 0 must be resolved to the real port: {line!r}"
    p.issuer = issuer

    try:
        for fmt, path in (("bundle", root / "ca-bundle.pem"), ("pem", root / "ca.pem")):
            r = p.cli("ca", "export", "--format", fmt, "--out", str(path))
            assert r.returncode == 0, f"ca export --format {fmt} failed: {r.stderr}"
            assert path.is_file() and path.stat().st_size > 0
        p.bundle, p.pem = root / "ca-bundle.pem", root / "ca.pem"

        r = p.cli("users", "list", "--json")
        assert r.returncode == 0, f"users list --json failed: {r.stderr}"
        p.subs = {u["username"]: u["sub"] for u in json.loads(r.stdout)}

        resp = requests.get(p.url("/.well-known/openid-configuration"), verify=p.verify, timeout=HTTP_TIMEOUT)
        resp.raise_for_status()
        p.metadata = resp.json()
    except BaseException:
        _kill(proc)
        raise
    return p


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=STOP_TIMEOUT)


def stop_provider(p: Provider) -> None:
    """SIGTERM by PID, then the exit code must be 0 (a clean shutdown)."""
    proc = p.process
    if proc.poll() is not None:
        pytest.fail(f"{p.name}: the provider died during the tests (exit {proc.returncode}).\nlog:\n{p.log_tail()}")
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        _kill(proc)
        pytest.fail(f"{p.name}: the provider did not stop within {STOP_TIMEOUT:.0f}s of SIGTERM.\nlog:\n{p.log_tail()}")
    assert rc == 0, f"{p.name}: the provider exited with {rc} after SIGTERM (expected 0).\nlog:\n{p.log_tail()}"


@pytest.fixture(scope="session")
def provider(tmp_path_factory: pytest.TempPathFactory):
    """`authdesk serve --auto-approve alice`: every authorization request is approved as alice."""
    p = start_provider("provider", tmp_path_factory.mktemp("authdesk-auto"), auto_approve="alice")
    try:
        yield p
    finally:
        stop_provider(p)


@pytest.fixture(scope="session")
def manual_provider(tmp_path_factory: pytest.TempPathFactory):
    """`authdesk serve` without --auto-approve: browsers get the consent page."""
    p = start_provider("manual_provider", tmp_path_factory.mktemp("authdesk-manual"), auto_approve=None)
    try:
        yield p
    finally:
        stop_provider(p)
