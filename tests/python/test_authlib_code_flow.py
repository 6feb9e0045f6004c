"""Authlib's OAuth2Session through the authorization code flow: PKCE, state and RFC 9207
`iss`, refresh with rotation, automatic refresh with the update_token callback."""

import time

import pytest
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError

from conftest import HTTP_TIMEOUT
from oauthflows import REDIRECT_URI, SECRETS, authlib_code_flow, follow_authorize, oauth2_session, query_of


def test_code_flow_with_pkce_state_and_iss(provider):
    flow = authlib_code_flow(provider, "web-app", SECRETS["web-app"])
    token = flow.token
    assert token["token_type"].lower() == "bearer"
    assert token["access_token"] and token["refresh_token"] and token["id_token"]
    assert token["expires_at"] > time.time() + 60
    assert set(token["scope"].split()) == {"openid", "profile", "email", "offline_access", "api.read"}

    # The access token works at the provider's sample resource, for alice.
    me = flow.session.get(provider.url("/api/me"))
    assert me.status_code == 200, me.text
    assert me.json()["username"] == "alice"
    assert me.json()["sub"] == provider.subs["alice"]
    assert me.json()["client_id"] == "web-app"


def test_public_client_spa_with_pkce(provider):
    """A public client (token_endpoint_auth_method none) gets tokens with PKCE alone."""
    flow = authlib_code_flow(provider, "spa", scope="openid offline_access")
    assert flow.session.token_endpoint_auth_method == "none"
    assert flow.token["access_token"] and flow.token["refresh_token"]
    refreshed = flow.session.refresh_token(provider.metadata["token_endpoint"])
    assert refreshed["refresh_token"] != flow.token["refresh_token"]


def test_wrong_code_verifier_is_invalid_grant(provider):
    s = oauth2_session(
        provider, "web-app", SECRETS["web-app"], scope="openid", redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
    )
    verifier = generate_token(64)
    url, state = s.create_authorization_url(provider.metadata["authorization_endpoint"], code_verifier=verifier)
    location = follow_authorize(provider, url)
    with pytest.raises(OAuthError) as e:
        s.fetch_token(authorization_response=location, code_verifier=generate_token(64))
    assert e.value.error == "invalid_grant"
    assert "code_verifier" in e.value.description


def test_public_client_without_pkce_is_refused(provider):
    """RFC 7636 / the spec: PKCE is required for public clients; the error goes back to
    the redirect URI with state and iss."""
    s = oauth2_session(provider, "spa", scope="openid", redirect_uri=REDIRECT_URI)
    url, state = s.create_authorization_url(provider.metadata["authorization_endpoint"])
    assert "code_challenge" not in url
    params = query_of(follow_authorize(provider, url))
    assert params["error"] == "invalid_request"
    assert "PKCE" in params["error_description"]
    assert params["state"] == state
    assert params["iss"] == provider.issuer


def test_refresh_token_rotates(provider):
    flow = authlib_code_flow(provider, "web-app", SECRETS["web-app"])
    old = flow.token
    new = flow.session.refresh_token(provider.metadata["token_endpoint"])
    assert new["access_token"] != old["access_token"]
    assert new["refresh_token"] and new["refresh_token"] != old["refresh_token"], "refresh tokens rotate on use"
    assert flow.session.token["access_token"] == new["access_token"]
    me = flow.session.get(provider.url("/api/me"))
    assert me.status_code == 200 and me.json()["username"] == "alice"


def test_automatic_refresh_through_update_token(provider):
    updates = []

    def update_token(token, refresh_token=None, access_token=None):
        updates.append((dict(token), refresh_token))

    s = oauth2_session(
        provider, "web-app", SECRETS["web-app"],
        scope="openid profile email offline_access api.read",
        redirect_uri=REDIRECT_URI, code_challenge_method="S256", update_token=update_token,
    )
    flow = authlib_code_flow(provider, "web-app", session=s)
    first = flow.token

    # Make the stored token look expired: Authlib must refresh before the next request.
    s.token = {**first, "expires_at": int(time.time()) - 30}
    me = s.get(provider.url("/api/me"))

    assert len(updates) == 1, "update_token must fire exactly once, for the automatic refresh"
    new, old_refresh = updates[0]
    assert old_refresh == first["refresh_token"]
    assert new["refresh_token"] and new["refresh_token"] != first["refresh_token"], "rotation: a new refresh token"
    assert new["access_token"] != first["access_token"]
    assert me.status_code == 200, me.text
    assert me.request.headers["Authorization"] == f"Bearer {new['access_token']}"
    assert me.json()["username"] == "alice"

    # The rotated-out refresh token is no longer active.
    r = s.introspect_token(provider.metadata["introspection_endpoint"], token=first["refresh_token"])
    assert r.status_code == 200 and r.json() == {"active": False}


def test_opaque_client_tokens_are_opaque_and_introspectable(provider):
    """ci-opaque issues opaque access tokens: not a JWT, but introspection knows them."""
    flow = authlib_code_flow(provider, "ci-opaque", SECRETS["ci-opaque"], scope="openid profile")
    access = flow.token["access_token"]
    assert access.count(".") != 2, "an opaque access token must not be a JWT"
    r = flow.session.introspect_token(provider.metadata["introspection_endpoint"], token=access)
    body = r.json()
    assert body["active"] is True
    assert body["client_id"] == "ci-opaque" and body["username"] == "alice"
    me = flow.session.get(provider.url("/api/me"), timeout=HTTP_TIMEOUT)
    assert me.status_code == 200 and me.json()["username"] == "alice"


def test_refresh_may_narrow_but_not_widen_scopes(provider):
    flow = authlib_code_flow(provider, "web-app", SECRETS["web-app"], scope="openid offline_access api.read")
    narrowed = flow.session.refresh_token(scope="openid offline_access")
    assert set(narrowed["scope"].split()) == {"openid", "offline_access"}
    with pytest.raises(OAuthError) as e:
        flow.session.refresh_token(scope="openid offline_access api.write")
    assert e.value.error == "invalid_scope"
    assert "api.write" in e.value.description


def test_authorization_request_by_post(provider):
    """OIDC Core §3.1.2.1: the authorization endpoint accepts POST (form) as well as GET."""
    import requests

    s = oauth2_session(provider, "spa", scope="openid", redirect_uri=REDIRECT_URI, code_challenge_method="S256")
    verifier = generate_token(64)
    url, state = s.create_authorization_url(provider.metadata["authorization_endpoint"], code_verifier=verifier)
    r = requests.post(provider.metadata["authorization_endpoint"], data=query_of(url), allow_redirects=False,
                      verify=provider.verify, timeout=HTTP_TIMEOUT)
    assert r.status_code == 302, r.text[:500]
    params = query_of(r.headers["Location"])
    assert params["state"] == state and params["iss"] == provider.issuer
    token = s.fetch_token(authorization_response=r.headers["Location"], code_verifier=verifier)
    assert token["access_token"]


def test_loopback_redirect_port_may_vary_for_a_native_app(provider):
    """RFC 8252 §7.3: a public client's loopback redirect URI matches on any port."""
    redirect = "http://127.0.0.1:53117/callback"
    s = oauth2_session(provider, "spa", scope="openid", redirect_uri=redirect, code_challenge_method="S256")
    verifier = generate_token(64)
    url, state = s.create_authorization_url(provider.metadata["authorization_endpoint"], code_verifier=verifier)
    location = follow_authorize(provider, url)
    assert location.startswith(redirect + "?"), location
    token = s.fetch_token(authorization_response=location, code_verifier=verifier)
    assert token["access_token"]


def test_loopback_port_is_exact_for_a_confidential_client(provider):
    """Only public (native) clients get RFC 8252's port leeway; web-app's URIs match exactly."""
    s = oauth2_session(provider, "web-app", SECRETS["web-app"], scope="openid",
                       redirect_uri="http://127.0.0.1:53117/callback")
    url, _ = s.create_authorization_url(provider.metadata["authorization_endpoint"])
    r = provider.http().get(url, allow_redirects=False, timeout=HTTP_TIMEOUT)
    assert r.status_code == 400 and "Location" not in r.headers
    assert "redirect_uri" in r.text


def test_form_post_response_mode(provider):
    """OAuth 2.0 Form Post Response Mode: the code, state and iss arrive as a form
    that the page posts to the redirect URI."""
    from oauthflows import parse_form

    s = oauth2_session(provider, "web-app", SECRETS["web-app"], scope="openid", redirect_uri=REDIRECT_URI,
                       code_challenge_method="S256")
    verifier = generate_token(64)
    url, state = s.create_authorization_url(provider.metadata["authorization_endpoint"], code_verifier=verifier,
                                            response_mode="form_post")
    page = provider.http().get(url, allow_redirects=False, timeout=HTTP_TIMEOUT)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    action, fields = parse_form(page.text, "f")
    assert action == REDIRECT_URI
    assert fields["state"] == state and fields["iss"] == provider.issuer and fields["code"]
    token = s.fetch_token(code=fields["code"], code_verifier=verifier, state=state)
    assert token["access_token"]
