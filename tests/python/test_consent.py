"""The consent page of a provider started without --auto-approve: read the form like a
browser, approve as bob or deny."""

import re
from html.parser import HTMLParser
from urllib.parse import urljoin

from authlib.common.security import generate_token

from conftest import HTTP_TIMEOUT
from oauthflows import REDIRECT_URI, SECRETS, decode_id_token, follow_authorize, oauth2_session, query_of


class ConsentForm(HTMLParser):
    """Collects the consent form: its action, hidden inputs and persona choices."""

    def __init__(self):
        super().__init__()
        self.action = None
        self.hidden = {}
        self.personas = []
        self.buttons = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and a.get("id") == "consent":
            self.action = a.get("action")
        elif tag == "input" and a.get("type") == "hidden":
            self.hidden[a["name"]] = a.get("value", "")
        elif tag == "input" and a.get("type") == "radio" and a.get("name") == "username":
            self.personas.append(a.get("value"))
        elif tag == "button" and a.get("name") == "action":
            self.buttons.append(a.get("value"))


def _start(p, scope="openid profile email offline_access"):
    """Starts an authorization request for web-app and returns the session, the
    browser (a requests.Session), the parsed consent form and the request's values."""
    s = oauth2_session(
        p, "web-app", SECRETS["web-app"], scope=scope, redirect_uri=REDIRECT_URI, code_challenge_method="S256"
    )
    verifier, nonce = generate_token(64), generate_token(20)
    url, state = s.create_authorization_url(p.metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce)
    browser = p.http()
    page = browser.get(url, allow_redirects=False, timeout=HTTP_TIMEOUT)
    assert page.status_code == 200, f"expected the consent page, got {page.status_code}: {page.text[:500]}"
    assert page.headers["Content-Type"].startswith("text/html")
    form = ConsentForm()
    form.feed(page.text)
    assert form.action, "no consent form on the page"
    assert form.hidden.get("request_id") and form.hidden.get("csrf"), form.hidden
    assert {"alice", "bob"} <= set(form.personas)
    assert {"approve", "deny"} <= set(form.buttons)
    return s, browser, form, state, verifier, nonce


def _decide(p, browser, form, **fields):
    return browser.post(
        urljoin(p.issuer + "/", form.action),
        data={**form.hidden, **fields},
        allow_redirects=False,
        timeout=HTTP_TIMEOUT,
    )


def test_approve_as_bob(manual_provider):
    p = manual_provider
    s, browser, form, state, verifier, nonce = _start(p)
    r = _decide(p, browser, form, action="approve", username="bob")
    assert r.status_code == 303, r.text[:500]
    location = r.headers["Location"]
    params = query_of(location)
    assert location.startswith(REDIRECT_URI + "?")
    assert params["state"] == state and params["iss"] == p.issuer and params["code"]

    token = s.fetch_token(authorization_response=location, code_verifier=verifier)
    claims = decode_id_token(p, token["id_token"], "web-app", nonce=nonce, access_token=token["access_token"])
    assert claims["sub"] == p.subs["bob"]
    assert claims["sub"] != p.subs["alice"]
    assert claims["name"] == "Bob Example"

    # The decision is taken once: the same form again is refused.
    again = _decide(p, browser, form, action="approve", username="bob")
    assert again.status_code == 400
    assert "no longer pending" in again.text


def test_deny_is_access_denied(manual_provider):
    p = manual_provider
    s, browser, form, state, _verifier, _nonce = _start(p)
    r = _decide(p, browser, form, action="deny")
    assert r.status_code == 303, r.text[:500]
    params = query_of(r.headers["Location"])
    assert params["error"] == "access_denied"
    assert params["state"] == state and params["iss"] == p.issuer
    assert "code" not in params


def test_wrong_csrf_is_refused_and_the_request_stays_pending(manual_provider):
    p = manual_provider
    s, browser, form, state, verifier, _nonce = _start(p, scope="openid")
    bad = browser.post(
        urljoin(p.issuer + "/", form.action),
        data={**form.hidden, "csrf": "forged", "action": "approve", "username": "bob"},
        allow_redirects=False,
        timeout=HTTP_TIMEOUT,
    )
    assert bad.status_code == 400
    assert "Location" not in bad.headers
    assert "CSRF" in bad.text

    ok = _decide(p, browser, form, action="approve", username="alice")
    assert ok.status_code == 303
    token = s.fetch_token(authorization_response=ok.headers["Location"], code_verifier=verifier)
    assert token["access_token"]


def test_auto_approve_client_skips_the_consent_page(manual_provider):
    """ci-opaque is set to auto-approve: no page, a redirect at once (as the first persona)."""
    p = manual_provider
    s = oauth2_session(p, "ci-opaque", SECRETS["ci-opaque"], scope="openid", redirect_uri=REDIRECT_URI,
                       code_challenge_method="S256")
    verifier = generate_token(64)
    url, state = s.create_authorization_url(p.metadata["authorization_endpoint"], code_verifier=verifier,
                                            login_hint="bob")
    location = follow_authorize(p, url)
    assert query_of(location)["state"] == state
    token = s.fetch_token(authorization_response=location, code_verifier=verifier)
    me = s.get(p.url("/api/me"))
    assert me.json()["username"] == "bob", "the login_hint persona is used for auto-approval"
    assert token["access_token"].count(".") != 2


def test_unknown_client_is_reported_on_the_page_not_redirected(manual_provider):
    p = manual_provider
    client_id = "no-such-client"
    url = (
        f"{p.metadata['authorization_endpoint']}?response_type=code&client_id={client_id}"
        f"&redirect_uri={REDIRECT_URI}&state=x"
    )
    r = p.http().get(url, allow_redirects=False, timeout=HTTP_TIMEOUT)
    assert r.status_code == 400
    assert "Location" not in r.headers
    assert client_id in r.text


def test_unregistered_redirect_uri_is_never_redirected_to(manual_provider):
    p = manual_provider
    url = (
        f"{p.metadata['authorization_endpoint']}?response_type=code&client_id=web-app"
        "&redirect_uri=https://attacker.example/cb&state=x"
    )
    r = p.http().get(url, allow_redirects=False, timeout=HTTP_TIMEOUT)
    assert r.status_code == 400
    assert "Location" not in r.headers
    assert "redirect_uri" in r.text


def test_prompt_none_without_auto_approval_is_login_required(manual_provider):
    """OIDC Core §3.1.2.6: prompt=none cannot show a page; the error goes to the client."""
    p = manual_provider
    s = oauth2_session(p, "web-app", SECRETS["web-app"], scope="openid", redirect_uri=REDIRECT_URI)
    url, state = s.create_authorization_url(p.metadata["authorization_endpoint"], prompt="none")
    params = query_of(follow_authorize(p, url))
    assert params["error"] == "login_required"
    assert params["state"] == state and params["iss"] == p.issuer


def test_login_hint_preselects_the_persona(manual_provider):
    p = manual_provider
    s = oauth2_session(p, "web-app", SECRETS["web-app"], scope="openid", redirect_uri=REDIRECT_URI)
    url, _ = s.create_authorization_url(p.metadata["authorization_endpoint"], login_hint="bob")
    page = p.http().get(url, allow_redirects=False, timeout=HTTP_TIMEOUT)
    assert page.status_code == 200
    checked = re.findall(r'<input type="radio" name="username" value="([^"]+)"\s*checked', page.text)
    assert checked == ["bob"], checked
