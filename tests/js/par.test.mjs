// Pushed authorization requests (RFC 9126) through oauth4webapi: the push, the
// authorization with only client_id and request_uri, the code exchange; a client and a
// provider that require PAR; and the misuse a request_uri must survive (used twice,
// pushed by another client, a wrong secret at the PAR endpoint).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as oauth from "oauth4webapi";
import { startProvider, authorize } from "./support.mjs";

const REDIRECT = "http://127.0.0.1:9/callback";
let provider;
let as;

async function discover(p) {
  const issuer = new URL(p.issuer);
  return oauth.processDiscoveryResponse(
    issuer,
    await oauth.discoveryRequest(issuer, { [oauth.customFetch]: p.fetch }),
  );
}

before(async () => {
  provider = await startProvider();
  as = await discover(provider);
});
after(() => provider?.stop());

function confidential(p, ...flags) {
  return p.createClient(
    "--name", "par app", "--redirect-uri", REDIRECT, "--auto-approve",
    "--scope", "openid", "--scope", "profile", ...flags,
  );
}

/** Pushes a code + PKCE request for `c` and returns the request_uri and the verifier. */
async function push(p, meta, c, secret, extra = {}) {
  const verifier = oauth.generateRandomCodeVerifier();
  const response = await oauth.pushedAuthorizationRequest(
    meta, c, oauth.ClientSecretBasic(secret),
    {
      redirect_uri: REDIRECT,
      response_type: "code",
      scope: "openid profile",
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      state: "st",
      login_hint: "alice",
      ...extra,
    },
    { [oauth.customFetch]: p.fetch },
  );
  const pushed = await oauth.processPushedAuthorizationResponse(meta, c, response);
  return { ...pushed, verifier };
}

function authorizationUrl(meta, clientId, requestUri) {
  const url = new URL(meta.authorization_endpoint);
  url.search = new URLSearchParams({ client_id: clientId, request_uri: requestUri });
  return url;
}

test("discovery advertises the PAR endpoint, not required provider-wide", () => {
  assert.equal(as.pushed_authorization_request_endpoint, `${provider.issuer}/par`);
  assert.equal(as.require_pushed_authorization_requests, false);
});

test("oauth4webapi: push, authorize with request_uri only, exchange the code", async () => {
  const created = confidential(provider, "--require-par");
  const c = { client_id: created.client_id };
  const pushed = await push(provider, as, c, created.client_secret);
  assert.match(pushed.request_uri, /^urn:ietf:params:oauth:request_uri:/);
  assert.equal(pushed.expires_in, 60);

  const callback = await authorize(provider, authorizationUrl(as, c.client_id, pushed.request_uri));
  const params = oauth.validateAuthResponse(as, c, callback, "st");
  const response = await oauth.authorizationCodeGrantRequest(
    as, c, oauth.ClientSecretBasic(created.client_secret), params, REDIRECT, pushed.verifier,
    { [oauth.customFetch]: provider.fetch },
  );
  const tokens = await oauth.processAuthorizationCodeResponse(as, c, response, {
    expectNoNonce: true, requireIdToken: true,
  });
  assert.equal(oauth.getValidatedIdTokenClaims(tokens).aud, c.client_id);
});

test("a request_uri used twice is refused with invalid_request_uri naming single use", async () => {
  const created = confidential(provider);
  const c = { client_id: created.client_id };
  const pushed = await push(provider, as, c, created.client_secret);
  const url = authorizationUrl(as, c.client_id, pushed.request_uri);
  await authorize(provider, url);
  const again = await provider.fetch(url, { redirect: "manual" });
  assert.equal(again.status, 400);
  const page = await again.text();
  assert.match(page, /invalid_request_uri/);
  assert.match(page, /already used/);
  assert.match(page, /single-use/);
});

test("a request_uri pushed by one client is refused for another", async () => {
  const a = confidential(provider);
  const b = confidential(provider);
  const pushed = await push(provider, as, { client_id: a.client_id }, a.client_secret);
  const res = await provider.fetch(authorizationUrl(as, b.client_id, pushed.request_uri), {
    redirect: "manual",
  });
  assert.equal(res.status, 400);
  const page = await res.text();
  assert.match(page, /invalid_request_uri/);
  assert.ok(page.includes(`pushed by client`) && page.includes(a.client_id), page);
});

test("a client that requires PAR is refused a plain authorization request", async () => {
  const created = confidential(provider, "--require-par");
  const c = { client_id: created.client_id };
  const url = new URL(as.authorization_endpoint);
  url.search = new URLSearchParams({
    client_id: c.client_id, redirect_uri: REDIRECT, response_type: "code", scope: "openid",
    state: "st", code_challenge: await oauth.calculatePKCECodeChallenge(oauth.generateRandomCodeVerifier()),
    code_challenge_method: "S256",
  });
  const callback = await authorize(provider, url);
  assert.throws(() => oauth.validateAuthResponse(as, c, callback, "st"), (err) => {
    assert.equal(err.error, "invalid_request");
    assert.match(err.error_description, /requires pushed authorization requests/);
    return true;
  });
});

test("the PAR endpoint authenticates the client: a wrong secret is invalid_client", async () => {
  const created = confidential(provider);
  const err = await push(provider, as, { client_id: created.client_id }, "not-the-secret").then(
    () => assert.fail("a wrong secret was accepted"),
    (e) => e,
  );
  // 401 with a Basic challenge (RFC 6749 section 5.2); the body names the cause.
  assert.ok(err instanceof oauth.WWWAuthenticateChallengeError, String(err));
  assert.equal(err.status, 401);
  assert.equal(err.cause[0].scheme, "basic");
  const body = await err.response.json();
  assert.equal(body.error, "invalid_client");
  assert.match(body.error_description, /client secret .* is wrong/);
});

test("the PAR endpoint validates the request: an unregistered redirect_uri is refused", async () => {
  const created = confidential(provider);
  await assert.rejects(
    push(provider, as, { client_id: created.client_id }, created.client_secret, {
      redirect_uri: "https://evil.example/cb",
    }),
    (err) => {
      assert.equal(err.error, "invalid_request");
      assert.match(err.error_description, /https:\/\/evil.example\/cb is not registered/);
      return true;
    },
  );
});

test("serve --require-par: advertised, and every client must push", async () => {
  const strict = await startProvider({ args: ["--require-par"] });
  try {
    const meta = await discover(strict);
    assert.equal(meta.require_pushed_authorization_requests, true);
    const created = confidential(strict);
    const c = { client_id: created.client_id };
    const url = new URL(meta.authorization_endpoint);
    url.search = new URLSearchParams({
      client_id: c.client_id, redirect_uri: REDIRECT, response_type: "code", scope: "openid", state: "st",
    });
    const refused = await authorize(strict, url);
    assert.throws(() => oauth.validateAuthResponse(meta, c, refused, "st"), (err) => {
      assert.equal(err.error, "invalid_request");
      assert.match(err.error_description, /--require-par/);
      return true;
    });
    const pushed = await push(strict, meta, c, created.client_secret);
    const callback = await authorize(strict, authorizationUrl(meta, c.client_id, pushed.request_uri));
    assert.ok(oauth.validateAuthResponse(meta, c, callback, "st").get("code"));
  } finally {
    await strict.stop();
  }
});
