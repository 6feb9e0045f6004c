"""Concurrency: refresh-token rotation under a concurrent load of other requests.
This once answered 500 (SQLITE_BUSY_SNAPSHOT in a deferred transaction)."""

import threading

import pytest
import requests

from conftest import HTTP_TIMEOUT
from oauthflows import SECRETS, authlib_code_flow

REFRESHES = 500


def test_refresh_chain_never_answers_500(provider):
    """A client refreshing in a loop (each refresh right after the previous response)
    while another client introspects tokens: an ordinary local-dev load. Every refresh
    must succeed."""
    flow = authlib_code_flow(provider, "web-app", SECRETS["web-app"], scope="openid offline_access")
    refresh_token = flow.token["refresh_token"]
    stop = threading.Event()

    def other_client():
        # Any request the provider logs; the request log is written on its own connection.
        with requests.Session() as other:
            other.verify = provider.verify
            while not stop.is_set():
                other.post(provider.metadata["introspection_endpoint"], data={"token": "not-a-token"},
                           auth=("service", SECRETS["service"]), timeout=HTTP_TIMEOUT)

    background = threading.Thread(target=other_client, daemon=True)
    background.start()
    http = requests.Session()  # no retry workaround here: every answer counts
    http.verify = provider.verify
    try:
        for i in range(REFRESHES):
            r = http.post(
                provider.metadata["token_endpoint"],
                data={"grant_type": "refresh_token", "refresh_token": refresh_token},
                auth=("web-app", SECRETS["web-app"]),
                timeout=HTTP_TIMEOUT,
            )
            assert r.status_code == 200, f"refresh #{i + 1} of a rotation chain answered {r.status_code}: {r.text}"
            refresh_token = r.json()["refresh_token"]
    finally:
        stop.set()
        background.join(timeout=HTTP_TIMEOUT)
