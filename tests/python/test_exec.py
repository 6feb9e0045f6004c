"""`authdesk exec`: a real Python client that knows nothing but the variables exec
exports (no CA path of its own) gets a token with requests and with Authlib."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import _isolated_env, authdesk_binary

SEED = """\
clients:
  - client_id: ci-service
    name: CI service
    client_secret: ci-secret
    grant_types: [client_credentials]
    scopes: [api.read]
scopes:
  - name: api.read
    description: Read the API
"""

CLIENT = textwrap.dedent(
    """\
    import os, sys
    import requests
    from authlib.integrations.requests_client import OAuth2Session

    issuer = os.environ["AUTHDESK_ISSUER"]
    # requests finds the CA through REQUESTS_CA_BUNDLE, which exec set: no verify=.
    doc = requests.get(issuer + "/.well-known/openid-configuration", timeout=10).json()
    assert doc["issuer"] == issuer, doc
    session = OAuth2Session(
        os.environ["AUTHDESK_CLIENT_CI_SERVICE_ID"],
        os.environ["AUTHDESK_CLIENT_CI_SERVICE_SECRET"],
        scope="api.read",
    )
    token = session.fetch_token(doc["token_endpoint"], grant_type="client_credentials")
    assert token["token_type"] == "Bearer" and token["scope"] == "api.read", token
    print("token", token["access_token"][:16])
    sys.exit(int(sys.argv[1]))
    """
)


def run_exec(tmp_path: Path, status: int) -> subprocess.CompletedProcess:
    seed = tmp_path / "ci.yaml"
    seed.write_text(SEED)
    script = tmp_path / "client.py"
    script.write_text(CLIENT)
    env = _isolated_env(tmp_path)
    # What this machine points TLS clients at must not help: exec sets its own.
    for var in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS"):
        env[var] = "/nonexistent/ca.pem"
    return subprocess.run(
        [str(authdesk_binary()), "exec", "--seed", str(seed), "--", sys.executable, str(script), str(status)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_client_using_only_the_exported_variables_gets_a_token(tmp_path: Path) -> None:
    done = run_exec(tmp_path, 0)
    assert done.returncode == 0, done.stderr
    assert "token " in done.stdout


def test_the_command_status_comes_back(tmp_path: Path) -> None:
    done = run_exec(tmp_path, 5)
    assert done.returncode == 5, done.stderr
    assert "token " in done.stdout
