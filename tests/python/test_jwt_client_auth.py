"""RFC 7523 client authentication with Authlib: client_secret_jwt (the seed's
service-jwt) and private_key_jwt (a client registered at runtime through RFC 7591
dynamic registration with an RSA key made in this test session)."""

import pytest
import requests
from authlib.integrations.base_client import OAuthError
from authlib.jose import JsonWebKey
from authlib.oauth2.rfc7523 import ClientSecretJWT, PrivateKeyJWT
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from conftest import HTTP_TIMEOUT
from oauthflows import REDIRECT_URI, SECRETS, authlib_code_flow, oauth2_session

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def _token_requests(s, token_endpoint):
    sent = []

    def record(resp, *args, **kwargs):
        if resp.request.url == token_endpoint:
            sent.append(resp)

    s.hooks["response"].append(record)
    return sent


def _form(body: str) -> dict:
    from urllib.parse import parse_qs

    return {k: v[0] for k, v in parse_qs(body).items()}


def test_client_secret_jwt(provider):
    token_endpoint = provider.metadata["token_endpoint"]
    s = oauth2_session(
        provider, "service-jwt", SECRETS["service-jwt"], scope="api.read",
        token_endpoint_auth_method="client_secret_jwt",
    )
    s.register_client_auth_method(ClientSecretJWT(token_endpoint))
    sent = _token_requests(s, token_endpoint)

    token = s.fetch_token(grant_type="client_credentials")
    assert token["access_token"] and token["scope"] == "api.read"

    (resp,) = sent
    form = _form(resp.request.body)
    assert "Authorization" not in resp.request.headers
    assert "client_secret" not in form, "the secret itself must not be sent"
    assert form["client_assertion_type"] == ASSERTION_TYPE

    # RFC 7523 §3: each assertion is single-use (jti); a replay is invalid_client.
    replay = requests.post(token_endpoint, data=form, verify=provider.verify, timeout=HTTP_TIMEOUT)
    assert replay.status_code == 401, replay.text
    assert replay.json()["error"] == "invalid_client"
    assert "jti" in replay.json()["error_description"]


def test_client_secret_jwt_with_the_wrong_secret_is_invalid_client(provider):
    token_endpoint = provider.metadata["token_endpoint"]
    s = oauth2_session(
        provider, "service-jwt", "not-the-secret-but-long-enough-for-hs256!!", scope="api.read",
        token_endpoint_auth_method="client_secret_jwt",
    )
    s.register_client_auth_method(ClientSecretJWT(token_endpoint))
    with pytest.raises(OAuthError) as e:
        s.fetch_token(grant_type="client_credentials")
    assert e.value.error == "invalid_client"


def test_client_secret_jwt_client_refuses_a_plain_secret(provider):
    """client_secret_jwt clients must sign: Basic with the right secret is refused."""
    s = oauth2_session(provider, "service-jwt", SECRETS["service-jwt"], scope="api.read")
    with pytest.raises(OAuthError) as e:
        s.fetch_token(grant_type="client_credentials")
    assert e.value.error == "invalid_client"
    assert "service-jwt" in e.value.description


def _rsa_key():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    jwk = JsonWebKey.import_key(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        {"kty": "RSA", "use": "sig", "alg": "RS256"},
    )
    public = {**jwk.as_dict(), "kid": jwk.thumbprint()}
    return pem, public


@pytest.fixture(scope="module")
def registered_private_key_client(provider):
    """RFC 7591: POST /register with the public JWKS (registration is open)."""
    pem, public_jwk = _rsa_key()
    assert "d" not in public_jwk, "only the public key is registered"
    metadata = {
        "client_name": "Python private_key_jwt client",
        "token_endpoint_auth_method": "private_key_jwt",
        "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
        "redirect_uris": [REDIRECT_URI],
        "scope": "openid profile offline_access api.read",
        "jwks": {"keys": [public_jwk]},
    }
    r = requests.post(provider.metadata["registration_endpoint"], json=metadata, verify=provider.verify,
                      timeout=HTTP_TIMEOUT)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["token_endpoint_auth_method"] == "private_key_jwt"
    assert body["client_id"]
    assert body["jwks"]["keys"][0]["kid"] == public_jwk["kid"]
    return body["client_id"], pem, public_jwk["kid"]


def _private_key_session(provider, client_id, pem, kid, **kwargs):
    token_endpoint = provider.metadata["token_endpoint"]
    s = oauth2_session(provider, client_id, pem, token_endpoint_auth_method="private_key_jwt", **kwargs)
    s.register_client_auth_method(PrivateKeyJWT(token_endpoint, headers={"kid": kid}))
    return s


def test_private_key_jwt_client_credentials(provider, registered_private_key_client):
    client_id, pem, kid = registered_private_key_client
    s = _private_key_session(provider, client_id, pem, kid, scope="api.read")
    sent = _token_requests(s, provider.metadata["token_endpoint"])
    token = s.fetch_token(grant_type="client_credentials")
    assert token["access_token"] and token["scope"] == "api.read"
    form = _form(sent[0].request.body)
    assert form["client_assertion_type"] == ASSERTION_TYPE
    assert "Authorization" not in sent[0].request.headers
    me = s.get(provider.url("/api/me"))
    assert me.status_code == 200 and me.json()["client_id"] == client_id


def test_private_key_jwt_code_flow_and_refresh(provider, registered_private_key_client):
    client_id, pem, kid = registered_private_key_client
    s = _private_key_session(
        provider, client_id, pem, kid, scope="openid profile offline_access",
        redirect_uri=REDIRECT_URI, code_challenge_method="S256",
    )
    flow = authlib_code_flow(provider, client_id, session=s)
    assert flow.token["id_token"] and flow.token["refresh_token"]
    refreshed = s.refresh_token()
    assert refreshed["refresh_token"] != flow.token["refresh_token"]


def test_private_key_jwt_signed_by_another_key_is_invalid_client(provider, registered_private_key_client):
    client_id, _pem, kid = registered_private_key_client
    other_pem, _ = _rsa_key()
    s = _private_key_session(provider, client_id, other_pem, kid, scope="api.read")
    with pytest.raises(OAuthError) as e:
        s.fetch_token(grant_type="client_credentials")
    assert e.value.error == "invalid_client"
    assert "signature" in e.value.description
