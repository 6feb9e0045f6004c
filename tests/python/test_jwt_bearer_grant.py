"""The JWT bearer grant (RFC 7523 §2.1) through Authlib's AssertionSession: assertions
signed by a trusted issuer (an ES256 key made here, its JWK Set registered with
`authdesk clients create --trusted-issuer`) and by the client itself (HS256 with its
secret, no client authentication), used to call userinfo; a wrong audience is refused
with invalid_grant naming the aud."""

import json
import uuid

import pytest
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.requests_client import AssertionSession
from authlib.jose import JsonWebKey
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from conftest import HTTP_TIMEOUT

IDP = "https://idp.assertions.test"


@pytest.fixture(scope="module")
def idp_key():
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = JsonWebKey.import_key(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        {"kty": "EC", "kid": "idp-1", "use": "sig", "alg": "ES256"},
    ).as_dict()
    return pem, {"keys": [public]}


@pytest.fixture(scope="module")
def assertion_client(provider, idp_key, tmp_path_factory):
    jwks = tmp_path_factory.mktemp("idp") / "jwks.json"
    jwks.write_text(json.dumps(idp_key[1]))
    client_id = f"assertions-{uuid.uuid4().hex[:8]}"
    done = provider.cli(
        "clients", "create", "--name", "Assertion client", "--id", client_id,
        "--type", "confidential", "--grant", "jwt-bearer",
        "--client-secret", "assertion-client-secret-long-enough-for-hs256",
        "--scope", "openid", "--scope", "profile", "--scope", "email",
        "--trusted-issuer", f"{IDP}={jwks}", "--json",
    )
    assert done.returncode == 0, done.stderr
    created = json.loads(done.stdout)
    assert created["trusted_issuers"][0]["issuer"] == IDP
    return created["client_id"], created["client_secret"]


def _session(provider, issuer, subject, key, alg, kid=None, audience=None, auth=None):
    token_endpoint = provider.metadata["token_endpoint"]
    header = {"alg": alg, **({"kid": kid} if kid else {})}
    s = AssertionSession(
        token_endpoint=token_endpoint,
        issuer=issuer,
        subject=subject,
        audience=audience or token_endpoint,
        scope="openid profile",
        key=key,
        header=header,
        default_timeout=HTTP_TIMEOUT,
    )
    s.verify = provider.verify
    if auth:
        s.auth = auth
    return s


def test_discovery_lists_the_grant(provider):
    assert "urn:ietf:params:oauth:grant-type:jwt-bearer" in provider.metadata["grant_types_supported"]


def test_a_trusted_issuers_assertion_calls_userinfo_as_its_persona(provider, idp_key, assertion_client):
    s = _session(provider, IDP, "alice", idp_key[0], "ES256", kid="idp-1", auth=assertion_client)
    me = s.get(provider.metadata["userinfo_endpoint"])
    assert me.status_code == 200, me.text
    assert me.json()["sub"] == provider.subs["alice"]
    assert s.token["token_type"] == "Bearer"
    assert "refresh_token" not in s.token, "assertion grants issue no refresh token"


def test_a_client_signs_its_own_assertion_without_other_authentication(provider, assertion_client):
    client_id, secret = assertion_client
    s = _session(provider, client_id, "bob", secret.encode(), "HS256")
    me = s.get(provider.metadata["userinfo_endpoint"])
    assert me.status_code == 200, me.text
    assert me.json()["sub"] == provider.subs["bob"]


def test_an_assertion_for_another_audience_is_invalid_grant(provider, idp_key, assertion_client):
    s = _session(
        provider, IDP, "alice", idp_key[0], "ES256", kid="idp-1",
        audience="https://api.example.com", auth=assertion_client,
    )
    with pytest.raises(AuthlibBaseError) as e:
        s.refresh_token()
    assert e.value.error == "invalid_grant"
    assert "aud" in e.value.description and "https://api.example.com" in e.value.description
