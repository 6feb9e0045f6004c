"""requests-oauthlib's OAuth2Session: client credentials (BackendApplicationClient),
the password grant (LegacyApplicationClient) and its automatic refresh."""

import time

from oauthlib.oauth2 import BackendApplicationClient, LegacyApplicationClient
from requests.auth import HTTPBasicAuth
import requests_oauthlib

from conftest import HTTP_TIMEOUT
from oauthflows import SECRETS

OAuth2Session = requests_oauthlib.OAuth2Session


def test_backend_application_client(provider):
    s = OAuth2Session(client=BackendApplicationClient(client_id="service", scope=["api.read"]))
    token = s.fetch_token(
        provider.metadata["token_endpoint"],
        auth=HTTPBasicAuth("service", SECRETS["service"]),
        verify=provider.verify,
        timeout=HTTP_TIMEOUT,
    )
    assert token["scope"] == ["api.read"]
    me = s.get(provider.url("/api/me"), verify=provider.verify, timeout=HTTP_TIMEOUT)
    assert me.status_code == 200 and me.json()["client_id"] == "service"


def test_legacy_application_client_with_auto_refresh(provider):
    saved = []
    token_endpoint = provider.metadata["token_endpoint"]
    s = OAuth2Session(
        client=LegacyApplicationClient(client_id="legacy-cli", scope=["openid", "offline_access"]),
        scope=["openid", "offline_access"],
        auto_refresh_url=token_endpoint,
        auto_refresh_kwargs={"client_id": "legacy-cli", "client_secret": SECRETS["legacy-cli"]},
        token_updater=saved.append,
    )
    s.verify = provider.verify
    first = s.fetch_token(
        token_endpoint, username="bob", password="password",
        auth=HTTPBasicAuth("legacy-cli", SECRETS["legacy-cli"]), timeout=HTTP_TIMEOUT,
    )
    assert first["refresh_token"]

    # Expire it locally: requests-oauthlib refreshes (client_secret_post here) and
    # hands the rotated token to token_updater.
    s.token = {**first, "expires_at": time.time() - 10, "expires_in": -10}
    me = s.get(provider.url("/api/me"), timeout=HTTP_TIMEOUT)
    assert me.status_code == 200, me.text
    assert me.json()["username"] == "bob"
    assert len(saved) == 1
    assert saved[0]["refresh_token"] != first["refresh_token"]
    assert saved[0]["access_token"] != first["access_token"]
