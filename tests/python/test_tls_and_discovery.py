"""Trust comes from the exported CA and nothing else; discovery lists the endpoints."""

import pytest
import requests

from conftest import HTTP_TIMEOUT


def test_the_exported_bundle_and_pem_are_trusted(provider):
    url = provider.url("/.well-known/openid-configuration")
    for ca in (provider.bundle, provider.pem):
        r = requests.get(url, verify=str(ca), timeout=HTTP_TIMEOUT)
        assert r.status_code == 200

    pem = provider.pem.read_text()
    bundle = provider.bundle.read_text()
    assert pem.count("BEGIN CERTIFICATE") == 1, "--format pem is the CA alone"
    assert bundle.count("BEGIN CERTIFICATE") > 1, "--format bundle is the public roots plus the CA"
    assert pem.strip() in bundle


def test_tls_is_really_verified(provider):
    """Without the exported CA (system/certifi roots only) the connection is refused:
    the tests pass because the CA is trusted, not because verification is off."""
    import certifi

    with pytest.raises(requests.exceptions.SSLError):
        requests.get(provider.url("/jwks"), verify=certifi.where(), timeout=HTTP_TIMEOUT)


def test_discovery_document(provider):
    m = provider.metadata
    assert m["issuer"] == provider.issuer
    for key, path in [
        ("authorization_endpoint", "/authorize"),
        ("token_endpoint", "/token"),
        ("userinfo_endpoint", "/userinfo"),
        ("jwks_uri", "/jwks"),
        ("introspection_endpoint", "/introspect"),
        ("revocation_endpoint", "/revoke"),
        ("registration_endpoint", "/register"),
    ]:
        assert m[key] == provider.url(path), key
    assert m["authorization_response_iss_parameter_supported"] is True
    assert "S256" in m["code_challenge_methods_supported"]
    assert {"client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"} <= set(
        m["token_endpoint_auth_methods_supported"]
    )
    assert {"openid", "profile", "email", "offline_access", "api.read", "api.write"} <= set(m["scopes_supported"])
    assert "RS256" in m["id_token_signing_alg_values_supported"]
    rfc8414 = requests.get(
        provider.url("/.well-known/oauth-authorization-server"), verify=provider.verify, timeout=HTTP_TIMEOUT
    )
    assert rfc8414.status_code == 200 and rfc8414.json()["issuer"] == provider.issuer


def test_jwks_is_public_keys_only(provider):
    r = requests.get(provider.metadata["jwks_uri"], verify=provider.verify, timeout=HTTP_TIMEOUT)
    assert r.status_code == 200
    keys = r.json()["keys"]
    assert keys and all(k.get("kid") for k in keys)
    for k in keys:
        assert not ({"d", "p", "q", "dp", "dq", "qi"} & set(k)), f"private material in the JWKS: {k['kid']}"
