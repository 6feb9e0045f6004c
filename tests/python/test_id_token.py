"""OpenID Connect id_token validation with authlib.jose and the JWKS from jwks_uri:
signature, iss, aud, exp, nonce, azp, at_hash (CodeIDToken) and sub."""

import time

import pytest
from authlib.jose.errors import BadSignatureError
from joserfc.errors import InvalidClaimError as JoseRfcInvalidClaimError

from oauthflows import SECRETS, authlib_code_flow, decode_id_token, jwks


@pytest.fixture(scope="module")
def flow(provider):
    return authlib_code_flow(provider, "web-app", SECRETS["web-app"], scope="openid profile email")


def test_id_token_validates(provider, flow):
    claims = decode_id_token(
        provider, flow.token["id_token"], "web-app", nonce=flow.nonce, access_token=flow.token["access_token"]
    )
    assert claims["iss"] == provider.issuer
    assert claims["aud"] == "web-app"
    assert claims["nonce"] == flow.nonce
    assert claims["sub"] == provider.subs["alice"], "sub must be alice's (from `authdesk users list --json`)"
    assert claims["at_hash"]
    now = time.time()
    assert claims["iat"] <= now + 5 < claims["exp"]
    assert claims["auth_time"] <= now + 5
    # profile and email were granted: their claims are released.
    assert claims["name"] == "Alice Example"
    assert claims["email"] == "alice@example.com" and claims["email_verified"] is True


def test_id_token_header_names_a_jwks_key(provider, flow):
    claims = decode_id_token(provider, flow.token["id_token"], "web-app", nonce=flow.nonce)
    assert claims.header["alg"] == "RS256", "RS256 is the default id_token algorithm"
    kids = {k.kid for k in jwks(provider).keys}
    assert claims.header["kid"] in kids


def test_userinfo_sub_matches_the_id_token(provider, flow):
    info = flow.session.get(provider.metadata["userinfo_endpoint"])
    assert info.status_code == 200, info.text
    assert info.json()["sub"] == provider.subs["alice"]
    assert info.json()["email"] == "alice@example.com"


def test_a_different_nonce_fails_validation(provider, flow):
    with pytest.raises(JoseRfcInvalidClaimError, match="nonce"):
        decode_id_token(provider, flow.token["id_token"], "web-app", nonce="some-other-nonce")


def test_at_hash_binds_the_id_token_to_its_access_token(provider, flow):
    other = authlib_code_flow(provider, "web-app", SECRETS["web-app"], scope="openid")
    with pytest.raises(JoseRfcInvalidClaimError, match="at_hash"):
        decode_id_token(
            provider, flow.token["id_token"], "web-app", nonce=flow.nonce, access_token=other.token["access_token"]
        )


def test_wrong_audience_fails_validation(provider, flow):
    with pytest.raises(JoseRfcInvalidClaimError, match="aud"):
        decode_id_token(provider, flow.token["id_token"], "web-app-post", nonce=flow.nonce)


def test_a_tampered_id_token_fails_signature_verification(provider, flow):
    header, payload, signature = flow.token["id_token"].split(".")
    tampered = ".".join([header, payload, signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")])
    with pytest.raises(BadSignatureError):
        decode_id_token(provider, tampered, "web-app", nonce=flow.nonce)


def test_refreshed_id_token_keeps_sub_and_auth_time(provider):
    """OIDC Core §12.2: an id_token from a refresh has the same iss, sub, aud and auth_time."""
    first = authlib_code_flow(provider, "web-app", SECRETS["web-app"], scope="openid offline_access")
    original = decode_id_token(provider, first.token["id_token"], "web-app", nonce=first.nonce)
    refreshed = first.session.refresh_token()
    assert refreshed["id_token"]
    claims = decode_id_token(provider, refreshed["id_token"], "web-app", access_token=refreshed["access_token"])
    assert claims["sub"] == original["sub"] == provider.subs["alice"]
    assert claims["auth_time"] == original["auth_time"]
    assert claims.get("nonce") in (None, first.nonce)


def test_es256_id_tokens_for_a_client_that_asks(provider):
    """A client registered (RFC 7591) with id_token_signed_response_alg ES256 gets ES256
    id_tokens whose at_hash still validates."""
    import requests

    from conftest import HTTP_TIMEOUT
    from oauthflows import REDIRECT_URI

    r = requests.post(
        provider.metadata["registration_endpoint"],
        json={
            "client_name": "ES256 SPA",
            "token_endpoint_auth_method": "none",
            "redirect_uris": [REDIRECT_URI],
            "grant_types": ["authorization_code"],
            "scope": "openid email",
            "id_token_signed_response_alg": "ES256",
        },
        verify=provider.verify,
        timeout=HTTP_TIMEOUT,
    )
    assert r.status_code == 201, r.text
    reg = r.json()
    assert "client_secret" not in reg, "a public client gets no secret"
    flow = authlib_code_flow(provider, reg["client_id"], scope="openid email")
    claims = decode_id_token(
        provider, flow.token["id_token"], reg["client_id"], nonce=flow.nonce,
        access_token=flow.token["access_token"], algorithms=("ES256",),
    )
    assert claims.header["alg"] == "ES256"
    assert claims["sub"] == provider.subs["alice"] and claims["email"] == "alice@example.com"


def test_an_expired_id_token_fails_validation(provider, flow):
    from authlib.jose import JsonWebToken
    from authlib.oidc.core import CodeIDToken
    from joserfc.errors import ExpiredTokenError

    claims = JsonWebToken(["RS256"]).decode(
        flow.token["id_token"], key=jwks(provider), claims_cls=CodeIDToken,
        claims_options={"iss": {"essential": True, "value": provider.issuer}, "aud": {"essential": True, "value": "web-app"}},
    )
    claims.validate(now=int(time.time()))
    with pytest.raises(ExpiredTokenError):
        claims.validate(now=claims["exp"] + 60)
