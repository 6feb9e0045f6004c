"""Errors a client developer meets: an RFC error code plus an explanation of the cause."""

import pytest
import requests
from authlib.integrations.base_client import OAuthError

from conftest import HTTP_TIMEOUT
from oauthflows import SECRETS, authlib_code_flow, oauth2_session


def test_wrong_client_secret_is_invalid_client_naming_the_client(provider):
    # The raw answer: RFC 6749 §5.2 says 401 with a Basic challenge when Basic was used.
    r = requests.post(
        provider.metadata["token_endpoint"],
        data={"grant_type": "client_credentials", "scope": "api.read"},
        auth=("service", "wrong-secret"),
        verify=provider.verify,
        timeout=HTTP_TIMEOUT,
    )
    assert r.status_code == 401, r.text
    assert r.headers["WWW-Authenticate"].lower().startswith("basic")
    assert r.headers["Cache-Control"] == "no-store"
    body = r.json()
    assert body["error"] == "invalid_client"
    assert "'service'" in body["error_description"]
    assert "secret" in body["error_description"]

    # What Authlib makes of it.
    s = oauth2_session(provider, "service", "wrong-secret", scope="api.read")
    with pytest.raises(OAuthError) as e:
        s.fetch_token(grant_type="client_credentials")
    assert e.value.error == "invalid_client"
    assert "service" in e.value.description


def test_wrong_client_secret_post_is_invalid_client(provider):
    r = requests.post(
        provider.metadata["token_endpoint"],
        data={"grant_type": "refresh_token", "refresh_token": "x", "client_id": "web-app-post", "client_secret": "nope"},
        verify=provider.verify,
        timeout=HTTP_TIMEOUT,
    )
    assert r.status_code == 401, r.text
    assert r.json()["error"] == "invalid_client"
    assert "web-app-post" in r.json()["error_description"]


def test_unknown_client_is_invalid_client_naming_it(provider):
    s = oauth2_session(provider, "does-not-exist", "whatever", scope="api.read")
    with pytest.raises(OAuthError) as e:
        s.fetch_token(grant_type="client_credentials")
    assert e.value.error == "invalid_client"
    assert "does-not-exist" in e.value.description


def test_reused_refresh_token_revokes_the_grant(provider):
    flow = authlib_code_flow(provider, "web-app", SECRETS["web-app"])
    s = flow.session
    first_refresh = flow.token["refresh_token"]
    second = s.refresh_token(refresh_token=first_refresh)
    newest_refresh = second["refresh_token"]
    assert newest_refresh != first_refresh

    # Replaying the rotated-out refresh token: invalid_grant, explained.
    with pytest.raises(OAuthError) as e:
        s.refresh_token(refresh_token=first_refresh)
    assert e.value.error == "invalid_grant"
    assert "already" in e.value.description and "revoked" in e.value.description

    # ...and the whole grant is gone: the newest refresh token and access token too.
    with pytest.raises(OAuthError) as e:
        s.refresh_token(refresh_token=newest_refresh)
    assert e.value.error == "invalid_grant"
    assert "revoked" in e.value.description
    r = s.introspect_token(provider.metadata["introspection_endpoint"], token=second["access_token"])
    assert r.json() == {"active": False}


def test_unsupported_grant_type(provider):
    r = requests.post(
        provider.metadata["token_endpoint"],
        data={"grant_type": "urn:example:magic"},
        auth=("service", SECRETS["service"]),
        verify=provider.verify,
        timeout=HTTP_TIMEOUT,
    )
    assert r.status_code == 400
    assert r.json()["error"] == "unsupported_grant_type"
    assert "urn:example:magic" in r.json()["error_description"]
