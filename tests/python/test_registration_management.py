"""RFC 7592 registration management and RFC 7591 `jwks_uri`, from Python.

No Python client library speaks RFC 7592 (Authlib's `rfc7592` module is the server
side), so the management round trip is plain `requests`, as a client would write it.
The `jwks_uri` test uses Authlib's `PrivateKeyJWT` against keys served by a small
`http.server` on 127.0.0.1 in this process.
"""

import http.server
import json
import threading

import pytest
import requests
from authlib.jose import JsonWebKey
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc.jwk import ECKey

from conftest import HTTP_TIMEOUT
from oauthflows import REDIRECT_URI, SECRETS, oauth2_session


def _register(provider, metadata):
    return requests.post(provider.metadata["registration_endpoint"], json=metadata, verify=provider.verify,
                         timeout=HTTP_TIMEOUT)


def _manage(provider, method, uri, token=None, body=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.request(method, uri, headers=headers, json=body, verify=provider.verify, timeout=HTTP_TIMEOUT)


def test_read_update_delete_a_registration_with_plain_requests(provider):
    r = _register(provider, {
        "client_name": "Python managed client",
        "grant_types": ["client_credentials"],
        "scope": "api.read",
    })
    assert r.status_code == 201, r.text
    reg = r.json()
    uri, token = reg["registration_client_uri"], reg["registration_access_token"]
    assert uri == provider.url(f"/register/{reg['client_id']}")

    read = _manage(provider, "GET", uri, token)
    assert read.status_code == 200, read.text
    assert read.json()["client_secret"] == reg["client_secret"]
    assert read.headers["Cache-Control"] == "no-store"

    update = {"client_id": reg["client_id"], "client_name": "Renamed from Python",
              "grant_types": ["client_credentials"], "scope": "api.read"}
    put = _manage(provider, "PUT", uri, token, update)
    assert put.status_code == 200, put.text
    assert put.json()["client_name"] == "Renamed from Python"

    s = oauth2_session(provider, reg["client_id"], reg["client_secret"], scope="api.read")
    access = s.fetch_token(grant_type="client_credentials")["access_token"]

    wrong = _manage(provider, "GET", uri, "not-the-token")
    assert wrong.status_code == 401, wrong.text
    assert 'error="invalid_token"' in wrong.headers["WWW-Authenticate"]

    assert _manage(provider, "DELETE", uri, token).status_code == 204
    gone = _manage(provider, "GET", uri, token)
    assert gone.status_code == 401 and gone.json()["error"] == "invalid_token"
    # The deleted client's token is no longer active (introspected by a seed client).
    intro = requests.post(provider.metadata["introspection_endpoint"], data={"token": access},
                          auth=("service", SECRETS["service"]), verify=provider.verify, timeout=HTTP_TIMEOUT)
    assert intro.status_code == 200, intro.text
    assert intro.json()["active"] is False


class _KeyServer(http.server.ThreadingHTTPServer):
    jwks: dict = {}
    fetches = 0


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        self.server.fetches += 1
        body = json.dumps(self.server.jwks).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/jwk-set+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def key_server():
    server = _KeyServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_private_key_jwt_with_keys_served_at_a_jwks_uri(provider, key_server):
    key = JsonWebKey.generate_key("EC", "P-256", is_private=True)
    public = {**key.as_dict(is_private=False), "kid": "py-1", "alg": "ES256", "use": "sig"}
    key_server.jwks = {"keys": [public]}
    jwks_uri = f"http://127.0.0.1:{key_server.server_address[1]}/jwks.json"

    r = _register(provider, {
        "client_name": "Python jwks_uri client",
        "token_endpoint_auth_method": "private_key_jwt",
        "grant_types": ["client_credentials"],
        "redirect_uris": [REDIRECT_URI],
        "scope": "api.read",
        "jwks_uri": jwks_uri,
    })
    assert r.status_code == 201, r.text
    assert r.json()["jwks_uri"] == jwks_uri
    assert key_server.fetches == 1

    token_endpoint = provider.metadata["token_endpoint"]
    # PrivateKeyJWT reads a PEM as an RSA key; an EC key is handed over as a key object.
    private = ECKey.import_key(key.as_pem(is_private=True))
    s = oauth2_session(provider, r.json()["client_id"], private,
                       token_endpoint_auth_method="private_key_jwt", scope="api.read")
    s.register_client_auth_method(PrivateKeyJWT(token_endpoint, headers={"kid": "py-1"}, alg="ES256"))
    token = s.fetch_token(grant_type="client_credentials")
    assert token["access_token"] and token["scope"] == "api.read"
    assert key_server.fetches == 1, "the keys fetched at registration are used"

    # A URL that serves no keys is refused at registration, naming the cause.
    bad = _register(provider, {
        "client_name": "Python bad jwks_uri",
        "token_endpoint_auth_method": "private_key_jwt",
        "grant_types": ["client_credentials"],
        "jwks_uri": f"http://127.0.0.1:{key_server.server_address[1]}/jwks.json#x",
    })
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_client_metadata", bad.text
    assert "fragment" in bad.json()["error_description"]
