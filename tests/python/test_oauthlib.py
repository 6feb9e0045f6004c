"""oauthlib's WebApplicationClient driven by plain requests (no integration layer)."""

import secrets
from urllib.parse import quote

import pytest
import requests
from oauthlib.oauth2 import WebApplicationClient
from oauthlib.oauth2.rfc6749.errors import InvalidGrantError

from conftest import HTTP_TIMEOUT
from oauthflows import REDIRECT_URI, SECRETS, follow_authorize, query_of

SCOPE = ["openid", "profile", "email"]


def _basic(client_id: str, secret: str) -> requests.auth.HTTPBasicAuth:
    # RFC 6749 §2.3.1: form-urlencode id and secret before the Basic encoding.
    return requests.auth.HTTPBasicAuth(quote(client_id, safe=""), quote(secret, safe=""))


def _authorize(provider, client: WebApplicationClient, **extra) -> tuple[str, str]:
    state = secrets.token_urlsafe(16)
    uri = client.prepare_request_uri(
        provider.metadata["authorization_endpoint"], redirect_uri=REDIRECT_URI, scope=SCOPE, state=state, **extra
    )
    location = follow_authorize(provider, uri)
    # oauthlib's parse_request_uri_response insists on an https redirect URI; this
    # loopback callback is http, and OAUTHLIB_INSECURE_TRANSPORT stays unset, so the
    # redirect is read here with the same checks (state, error, code).
    params = query_of(location)
    assert location.startswith(REDIRECT_URI + "?")
    assert "error" not in params, params
    assert params["state"] == state
    assert params["iss"] == provider.issuer
    return params["code"], location


def _exchange(provider, client: WebApplicationClient, code: str, **extra) -> requests.Response:
    body = client.prepare_request_body(code=code, redirect_uri=REDIRECT_URI, include_client_id=False, **extra)
    return requests.post(
        provider.metadata["token_endpoint"],
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
        auth=_basic("web-app", SECRETS["web-app"]),
        verify=provider.verify,
        timeout=HTTP_TIMEOUT,
    )


def test_web_application_client_code_flow_and_userinfo(provider):
    client = WebApplicationClient("web-app")
    code, _ = _authorize(provider, client)
    r = _exchange(provider, client, code)
    assert r.status_code == 200, r.text
    assert r.headers["Cache-Control"] == "no-store"
    token = client.parse_request_body_response(r.text, scope=SCOPE)
    assert token["token_type"].lower() == "bearer"
    assert client.access_token == token["access_token"]
    assert token["id_token"]

    uri, headers, body = client.add_token(provider.metadata["userinfo_endpoint"], http_method="GET")
    assert headers["Authorization"] == f"Bearer {token['access_token']}"
    info = requests.get(uri, headers=headers, verify=provider.verify, timeout=HTTP_TIMEOUT)
    assert info.status_code == 200, info.text
    claims = info.json()
    assert claims["sub"] == provider.subs["alice"]
    assert claims["name"] == "Alice Example" and claims["email"] == "alice@example.com"


def test_web_application_client_with_pkce(provider):
    client = WebApplicationClient("web-app")
    verifier = client.create_code_verifier(64)
    challenge = client.create_code_challenge(verifier, "S256")
    code, _ = _authorize(provider, client, code_challenge=challenge, code_challenge_method="S256")
    r = _exchange(provider, client, code, code_verifier=verifier)
    assert r.status_code == 200, r.text
    token = client.parse_request_body_response(r.text, scope=SCOPE)
    assert token["access_token"]


def test_replayed_code_is_invalid_grant_and_revokes_the_first_tokens(provider):
    """RFC 6749 §4.1.2: a code is single-use; a replay revokes what it issued."""
    client = WebApplicationClient("web-app")
    code, _ = _authorize(provider, client)
    first = _exchange(provider, client, code)
    assert first.status_code == 200, first.text
    access = first.json()["access_token"]

    replay = _exchange(provider, client, code)
    assert replay.status_code == 400
    with pytest.raises(InvalidGrantError):
        client.parse_request_body_response(replay.text)
    assert "already used" in replay.json()["error_description"]

    r = requests.get(provider.metadata["userinfo_endpoint"], headers={"Authorization": f"Bearer {access}"},
                     verify=provider.verify, timeout=HTTP_TIMEOUT)
    assert r.status_code == 401
    assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]


def test_userinfo_rejects_a_bad_token_with_a_bearer_challenge(provider):
    r = requests.get(provider.metadata["userinfo_endpoint"], headers={"Authorization": "Bearer nope"},
                     verify=provider.verify, timeout=HTTP_TIMEOUT)
    assert r.status_code == 401
    challenge = r.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ") and 'error="invalid_token"' in challenge


def test_bearer_token_in_the_form_body(provider):
    """RFC 6750 §2.2: the access token in a form-encoded POST body."""
    client = WebApplicationClient("web-app")
    code, _ = _authorize(provider, client)
    r = _exchange(provider, client, code)
    client.parse_request_body_response(r.text, scope=SCOPE)
    uri, headers, body = client.add_token(
        provider.metadata["userinfo_endpoint"], http_method="POST", body="",
        headers={"Content-Type": "application/x-www-form-urlencoded"}, token_placement="body",
    )
    assert "Authorization" not in headers and "access_token=" in body
    info = requests.post(uri, data=body, headers=headers, verify=provider.verify, timeout=HTTP_TIMEOUT)
    assert info.status_code == 200, info.text
    assert info.json()["sub"] == provider.subs["alice"]


def test_redirect_uri_mismatch_at_the_token_endpoint_is_invalid_grant(provider):
    client = WebApplicationClient("web-app")
    code, _ = _authorize(provider, client)
    body = client.prepare_request_body(code=code, redirect_uri="http://localhost:8765/callback", include_client_id=False)
    r = requests.post(provider.metadata["token_endpoint"], data=body,
                      headers={"Content-Type": "application/x-www-form-urlencoded"},
                      auth=_basic("web-app", SECRETS["web-app"]), verify=provider.verify, timeout=HTTP_TIMEOUT)
    assert r.status_code == 400
    with pytest.raises(InvalidGrantError):
        client.parse_request_body_response(r.text)
    assert "redirect_uri" in r.json()["error_description"]
