"""Failures on demand (issue 20) met by real Python clients: Authlib's automatic
refresh meets an injected invalid_grant; requests with urllib3's Retry honours a 503's
Retry-After and succeeds once the rule is used up; the consent-denied scenario comes
back as a real error redirect with state and iss. Each rule is added with the CLI while
`serve` runs, on a provider of this module's own (rules must not leak into other tests).
"""

from __future__ import annotations

import json
import time

import pytest
import requests
from authlib.integrations.base_client import OAuthError
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from conftest import HTTP_TIMEOUT, start_provider, stop_provider
from oauthflows import REDIRECT_URI, SECRETS, authlib_code_flow, follow_authorize, oauth2_session, query_of


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory):
    p = start_provider("faulty", tmp_path_factory.mktemp("authdesk-faults"), auto_approve="alice")
    try:
        yield p
    finally:
        stop_provider(p)


@pytest.fixture(autouse=True)
def no_rules_left(faulty):
    yield
    r = faulty.cli("faults", "clear")
    assert r.returncode == 0, r.stderr


def add(p, *args: str) -> dict:
    r = p.cli("faults", "add", *args, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def rules(p) -> list[dict]:
    r = p.cli("faults", "list", "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_authlib_auto_refresh_meets_an_injected_invalid_grant_and_raises(faulty):
    flow = authlib_code_flow(faulty, "web-app", SECRETS["web-app"])
    s = flow.session
    assert flow.token["refresh_token"]
    added = add(faulty, "--scenario", "next-refresh-fails", "--client", "web-app")
    rule = added["rules"][0]["id"]

    # The access token looks expired to Authlib, so the next call refreshes first.
    s.token["expires_at"] = int(time.time()) - 10
    with pytest.raises(OAuthError) as e:
        s.get(faulty.url("/api/me"), timeout=HTTP_TIMEOUT)
    assert e.value.error == "invalid_grant"
    assert "revoked" in e.value.description

    listed = {r["id"]: r for r in rules(faulty)}
    assert listed[rule]["remaining"] == 0 and listed[rule]["injected"] == 1
    # Only the next refresh failed; the refresh token was not used up by it.
    refreshed = s.refresh_token()
    assert refreshed["access_token"] and refreshed["refresh_token"] != flow.token["refresh_token"]


def test_a_client_retrying_on_503_with_retry_after_succeeds_once_the_rule_is_used_up(faulty):
    add(faulty, "--endpoint", "token", "--client", "service", "--status", "503",
        "--retry-after", "1", "--count", "2")
    retry = Retry(total=5, status_forcelist=[503], allowed_methods=None,
                  respect_retry_after_header=True, raise_on_status=False)
    seen_retry_after = []

    class Watching(HTTPAdapter):
        def build_response(self, req, resp):
            if resp.status == 503:
                seen_retry_after.append(resp.headers.get("Retry-After"))
            return super().build_response(req, resp)

    http = requests.Session()
    http.verify = faulty.verify
    http.mount("https://", Watching(max_retries=retry))
    r = http.post(
        faulty.metadata["token_endpoint"],
        data={"grant_type": "client_credentials", "scope": "api.read"},
        auth=("service", SECRETS["service"]),
        timeout=HTTP_TIMEOUT,
    )
    assert r.status_code == 200, r.text
    assert r.json()["access_token"]
    assert r.raw.retries.history, "urllib3 retried"
    assert [h.status for h in r.raw.retries.history] == [503, 503]
    listed = rules(faulty)
    assert listed[0]["injected"] == 2 and listed[0]["active"] is False


def test_consent_denied_is_a_real_error_redirect_with_state_and_iss(faulty):
    add(faulty, "--scenario", "consent-denied")
    s = oauth2_session(faulty, "web-app", SECRETS["web-app"], scope="openid",
                       redirect_uri=REDIRECT_URI, code_challenge_method="S256")
    url, state = s.create_authorization_url(
        faulty.metadata["authorization_endpoint"], code_verifier="v" * 64, nonce="n-1"
    )
    params = query_of(follow_authorize(faulty, url))
    assert params["error"] == "access_denied"
    assert params["state"] == state
    assert params["iss"] == faulty.issuer
    # Cleared: the same request is approved again.
    assert faulty.cli("faults", "clear").returncode == 0
    params = query_of(follow_authorize(faulty, url))
    assert "code" in params and "error" not in params
