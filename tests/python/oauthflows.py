"""Shared steps of the flows: what a client application does, with real libraries."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, JsonWebToken
from authlib.oidc.core import CodeIDToken

from conftest import HTTP_TIMEOUT, Provider

# Registered for web-app, web-app-post, spa and ci-opaque in examples/seed.yaml. Nothing
# listens there: the tests read the redirect from the Location header.
REDIRECT_URI = "http://127.0.0.1:8765/callback"

SECRETS = {
    "web-app": "web-app-secret",
    "web-app-post": "web-app-post-secret",
    "service": "service-secret-with-at-least-32-bytes!!",
    "service-jwt": "service-jwt-secret-with-at-least-32-bytes",
    "legacy-cli": "legacy-cli-secret",
    "ci-opaque": "ci-opaque-secret",
}


def query_of(url: str) -> dict[str, str]:
    """The query parameters of a redirect, each present exactly once."""
    parsed = parse_qs(urlsplit(url).query, keep_blank_values=True)
    for k, v in parsed.items():
        assert len(v) == 1, f"parameter {k} appears {len(v)} times in {url}"
    return {k: v[0] for k, v in parsed.items()}


def follow_authorize(p: Provider, url: str, expect_status: int = 302) -> str:
    """GETs an authorization URL as a browser would and returns the redirect Location."""
    r = requests.get(url, allow_redirects=False, verify=p.verify, timeout=HTTP_TIMEOUT)
    assert r.status_code == expect_status, (
        f"GET {url} answered {r.status_code}, expected {expect_status}:\n{r.text[:2000]}"
    )
    location = r.headers.get("Location")
    assert location, f"no Location header in the {r.status_code} answer to {url}"
    return location


AuthlibSession = OAuth2Session


def oauth2_session(p: Provider, client_id: str, client_secret=None, **kwargs) -> OAuth2Session:
    """An Authlib OAuth2Session trusting the provider's exported CA."""
    s = AuthlibSession(
        client_id,
        client_secret,
        token_endpoint=p.metadata["token_endpoint"],
        default_timeout=HTTP_TIMEOUT,
        **kwargs,
    )
    s.verify = p.verify
    return s


@dataclass
class CodeFlow:
    session: OAuth2Session
    token: dict
    state: str
    nonce: str
    location: str
    verifier: str


def authlib_code_flow(
    p: Provider,
    client_id: str,
    client_secret=None,
    scope: str = "openid profile email offline_access api.read",
    session: OAuth2Session | None = None,
    **session_kwargs,
) -> CodeFlow:
    """Authorization code + PKCE (S256) with Authlib, approved by --auto-approve."""
    s = session or oauth2_session(
        p,
        client_id,
        client_secret,
        scope=scope,
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
        **session_kwargs,
    )
    verifier = generate_token(64)
    nonce = generate_token(20)
    url, state = s.create_authorization_url(
        p.metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    q = query_of(url)
    assert q["code_challenge_method"] == "S256" and q["code_challenge"], url
    location = follow_authorize(p, url)
    assert location.startswith(REDIRECT_URI + "?"), location
    params = query_of(location)
    assert "error" not in params, params
    assert params["state"] == state, "the redirect must carry the request's state back"
    assert params["iss"] == p.issuer, "RFC 9207: the redirect must carry iss = the issuer"
    token = s.fetch_token(
        p.metadata["token_endpoint"], authorization_response=location, code_verifier=verifier
    )
    return CodeFlow(session=s, token=dict(token), state=state, nonce=nonce, location=location, verifier=verifier)


def jwks(p: Provider):
    r = requests.get(p.metadata["jwks_uri"], verify=p.verify, timeout=HTTP_TIMEOUT)
    r.raise_for_status()
    return JsonWebKey.import_key_set(r.json())


def decode_id_token(
    p: Provider,
    id_token: str,
    client_id: str,
    nonce: str | None = None,
    access_token: str | None = None,
    algorithms=("RS256", "ES256"),
) -> CodeIDToken:
    """Verifies an id_token's signature with the provider's JWKS and validates its
    claims the way an OIDC relying party does (iss, aud, exp, iat, nonce, azp, at_hash)."""
    claims = JsonWebToken(list(algorithms)).decode(
        id_token,
        key=jwks(p),
        claims_cls=CodeIDToken,
        claims_options={
            "iss": {"essential": True, "value": p.issuer},
            "aud": {"essential": True, "value": client_id},
            "exp": {"essential": True},
            "sub": {"essential": True},
        },
        claims_params={"nonce": nonce, "client_id": client_id, "access_token": access_token},
    )
    claims.validate(leeway=5)
    return claims


def parse_form(html: str, form_id: str) -> tuple[str | None, dict[str, str]]:
    """The action and hidden inputs of the form with `form_id` in an HTML page."""
    from html.parser import HTMLParser

    class Form(HTMLParser):
        action, fields, inside = None, {}, False

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag == "form":
                self.inside = a.get("id") == form_id
                if self.inside:
                    self.action = a.get("action")
            elif tag == "input" and self.inside and a.get("type") == "hidden":
                self.fields[a["name"]] = a.get("value", "")

        def handle_endtag(self, tag):
            if tag == "form":
                self.inside = False

    f = Form()
    f.fields = {}
    f.feed(html)
    return f.action, f.fields
