"""Authlib's OAuth2Session with the other grants and endpoints: client credentials,
password, RFC 7009 revocation and RFC 7662 introspection, client_secret_post."""

import pytest
from authlib.integrations.base_client import OAuthError
from authlib.jose import JsonWebToken, JWTClaims

from oauthflows import SECRETS, authlib_code_flow, jwks, oauth2_session


def test_client_credentials_issues_an_rfc9068_jwt(provider):
    s = oauth2_session(provider, "service", SECRETS["service"], scope="api.read api.write")
    token = s.fetch_token(grant_type="client_credentials")
    assert token["token_type"].lower() == "bearer"
    assert set(token["scope"].split()) == {"api.read", "api.write"}
    assert "refresh_token" not in token and "id_token" not in token

    # RFC 9068: a JWT access token, typ at+jwt, signed with a key from the JWKS.
    claims = JsonWebToken(["ES256", "RS256"]).decode(
        token["access_token"],
        key=jwks(provider),
        claims_cls=JWTClaims,
        claims_options={
            "iss": {"essential": True, "value": provider.issuer},
            "exp": {"essential": True},
            "client_id": {"essential": True, "value": "service"},
        },
    )
    claims.validate(leeway=5)
    assert claims.header["typ"].lower() in ("at+jwt", "application/at+jwt")
    assert claims["sub"] == "service"

    me = s.get(provider.url("/api/me"))
    assert me.status_code == 200, me.text
    assert me.json()["sub"] == "service" and me.json()["username"] is None


def test_client_credentials_refuses_a_scope_beyond_the_client(provider):
    s = oauth2_session(provider, "service", SECRETS["service"], scope="openid")
    with pytest.raises(OAuthError) as e:
        s.fetch_token(grant_type="client_credentials")
    assert e.value.error == "invalid_scope"


def test_password_grant(provider):
    s = oauth2_session(provider, "legacy-cli", SECRETS["legacy-cli"], scope="openid profile offline_access")
    token = s.fetch_token(username="alice", password="password")
    assert token["access_token"] and token["refresh_token"] and token["id_token"]
    info = s.get(provider.metadata["userinfo_endpoint"])
    assert info.status_code == 200, info.text
    assert info.json()["sub"] == provider.subs["alice"]
    assert info.json()["name"] == "Alice Example"

    refreshed = s.refresh_token()
    assert refreshed["refresh_token"] != token["refresh_token"]


def test_password_grant_wrong_password_is_invalid_grant(provider):
    s = oauth2_session(provider, "legacy-cli", SECRETS["legacy-cli"], scope="openid")
    with pytest.raises(OAuthError) as e:
        s.fetch_token(username="alice", password="not-the-password")
    assert e.value.error == "invalid_grant"
    assert "alice" in e.value.description


def test_password_grant_is_off_for_clients_not_allowed_it(provider):
    s = oauth2_session(provider, "web-app", SECRETS["web-app"], scope="openid")
    with pytest.raises(OAuthError) as e:
        s.fetch_token(grant_type="password", username="alice", password="password")
    assert e.value.error == "unauthorized_client"


def test_revoke_then_introspect(provider):
    flow = authlib_code_flow(provider, "web-app", SECRETS["web-app"])
    s, access = flow.session, flow.token["access_token"]
    introspect = provider.metadata["introspection_endpoint"]

    before = s.introspect_token(introspect, token=access, token_type_hint="access_token")
    assert before.status_code == 200
    body = before.json()
    assert body["active"] is True
    assert body["client_id"] == "web-app" and body["sub"] == provider.subs["alice"]
    assert body["username"] == "alice" and body["iss"] == provider.issuer

    r = s.revoke_token(provider.metadata["revocation_endpoint"], token=access, token_type_hint="access_token")
    assert r.status_code == 200, r.text

    after = s.introspect_token(introspect, token=access, token_type_hint="access_token")
    assert after.status_code == 200
    assert after.json() == {"active": False}
    me = s.get(provider.url("/api/me"))
    assert me.status_code == 401
    assert 'error="invalid_token"' in me.headers["WWW-Authenticate"]


def test_revoking_the_refresh_token_revokes_the_grant(provider):
    flow = authlib_code_flow(provider, "web-app", SECRETS["web-app"])
    s = flow.session
    r = s.revoke_token(provider.metadata["revocation_endpoint"], token=flow.token["refresh_token"],
                       token_type_hint="refresh_token")
    assert r.status_code == 200, r.text
    gone = s.introspect_token(provider.metadata["introspection_endpoint"], token=flow.token["access_token"])
    assert gone.json() == {"active": False}
    with pytest.raises(OAuthError) as e:
        s.refresh_token()
    assert e.value.error == "invalid_grant"


def test_revoking_an_unknown_token_succeeds(provider):
    """RFC 7009 §2.2: an invalid token is not an error."""
    s = oauth2_session(provider, "web-app", SECRETS["web-app"])
    r = s.revoke_token(provider.metadata["revocation_endpoint"], token="never-issued")
    assert r.status_code == 200


def test_client_secret_post(provider):
    sent = []

    def record(resp, *args, **kwargs):
        if resp.request.url == provider.metadata["token_endpoint"]:
            sent.append(resp.request)

    s = oauth2_session(
        provider, "web-app-post", SECRETS["web-app-post"],
        scope="openid offline_access api.read",
        redirect_uri="http://127.0.0.1:8765/callback", code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_post",
    )
    s.hooks["response"].append(record)
    flow = authlib_code_flow(provider, "web-app-post", session=s)
    assert flow.token["access_token"] and flow.token["refresh_token"]
    s.refresh_token()

    assert len(sent) == 2
    for req in sent:
        assert "Authorization" not in req.headers, "client_secret_post must not use HTTP Basic"
        assert "client_secret=web-app-post-secret" in req.body
        assert "client_id=web-app-post" in req.body
