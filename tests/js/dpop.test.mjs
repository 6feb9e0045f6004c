// DPoP (RFC 9449) through oauth4webapi: tokens bound at the token endpoint (token_type
// DPoP, cnf.jkt in the JWT access token, validated by validateJwtAccessToken), userinfo
// and /api/me with proofs, a public client's refresh token bound, server nonces
// (use_dpop_nonce, retried by the library), a client that requires DPoP; and misuse:
// a bound token as Bearer, a replayed proof, a proof for another URL.

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

/** A public client's code flow with DPoP; returns the tokens, the client and its DPoP handle. */
async function signIn(p, meta, { flags = [], retryNonce = false } = {}) {
  const created = p.createClient(
    "--name", "dpop spa", "--type", "public", "--redirect-uri", REDIRECT, "--auto-approve",
    "--grant", "authorization_code", "--grant", "refresh_token",
    "--scope", "openid", "--scope", "profile", "--scope", "offline_access", ...flags,
  );
  const c = { client_id: created.client_id };
  const keyPair = await oauth.generateKeyPair("ES256");
  const DPoP = oauth.DPoP(c, keyPair);
  const opts = { DPoP, [oauth.customFetch]: p.fetch };
  const verifier = oauth.generateRandomCodeVerifier();
  const url = new URL(meta.authorization_endpoint);
  url.search = new URLSearchParams({
    client_id: c.client_id, redirect_uri: REDIRECT, response_type: "code",
    scope: "openid profile offline_access", state: "st", login_hint: "alice",
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: "S256",
  });
  const params = oauth.validateAuthResponse(meta, c, await authorize(p, url), "st");
  const exchange = () =>
    oauth.authorizationCodeGrantRequest(meta, c, oauth.None(), params, REDIRECT, verifier, opts);
  let tokens;
  try {
    tokens = await oauth.processAuthorizationCodeResponse(meta, c, await exchange(), {
      expectNoNonce: true,
    });
    assert.ok(!retryNonce, "the provider asked for no nonce");
  } catch (err) {
    if (!retryNonce || !oauth.isDPoPNonceError(err)) throw err;
    tokens = await oauth.processAuthorizationCodeResponse(meta, c, await exchange(), {
      expectNoNonce: true,
    });
  }
  return { tokens, c, keyPair, DPoP, opts };
}

test("discovery advertises the DPoP algorithms", () => {
  assert.ok(as.dpop_signing_alg_values_supported.includes("ES256"));
  assert.ok(!as.dpop_signing_alg_values_supported.includes("HS256"));
});

test("oauth4webapi: DPoP-bound tokens, cnf.jkt validated, userinfo and /api/me with proofs", async () => {
  const { tokens, c, opts } = await signIn(provider, as);
  assert.equal(tokens.token_type, "dpop");

  const info = await oauth.processUserInfoResponse(
    as, c, oauth.skipSubjectCheck, await oauth.userInfoRequest(as, c, tokens.access_token, opts),
  );
  assert.ok(info.sub);

  // /api/me through protectedResourceRequest; the request it sent is kept so the JWT
  // access token can be validated as a resource server would (RFC 9068 + RFC 9449).
  let sent;
  const res = await oauth.protectedResourceRequest(
    tokens.access_token, "GET", new URL(`${provider.issuer}/api/me`), undefined, undefined,
    {
      ...opts,
      [oauth.customFetch]: (url, init) => {
        sent = new Request(url, init);
        return provider.fetch(url, init);
      },
    },
  );
  assert.equal(res.status, 200, await res.clone().text());
  assert.equal((await res.json()).client_id, c.client_id);
  const claims = await oauth.validateJwtAccessToken(as, sent, c.client_id, {
    requireDPoP: true,
    [oauth.customFetch]: provider.fetch,
  });
  assert.ok(claims.cnf.jkt);

  const intro = await provider.fetch(as.introspection_endpoint, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${Buffer.from("web-app:web-app-secret").toString("base64")}`,
    },
    body: new URLSearchParams({ token: tokens.access_token }),
  });
  const body = await intro.json();
  assert.equal(body.token_type, "DPoP");
  assert.equal(body.cnf.jkt, claims.cnf.jkt);
});

test("a DPoP-bound access token is refused as a plain Bearer token, naming the cause", async () => {
  const { tokens } = await signIn(provider, as);
  for (const path of ["/userinfo", "/api/me"]) {
    const res = await provider.fetch(`${provider.issuer}${path}`, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    assert.equal(res.status, 401, path);
    const challenge = res.headers.get("www-authenticate");
    assert.match(challenge, /^DPoP /);
    assert.match(challenge, /error="invalid_token"/);
    assert.match(challenge, /bound to a DPoP key/);
  }
});

test("a replayed DPoP proof and a proof for another URL are refused with invalid_dpop_proof", async () => {
  const { tokens, opts } = await signIn(provider, as);
  let proof;
  const url = new URL(`${provider.issuer}/api/me`);
  await oauth.protectedResourceRequest(tokens.access_token, "GET", url, undefined, undefined, {
    ...opts,
    [oauth.customFetch]: (u, init) => {
      proof = new Headers(init.headers).get("dpop");
      return provider.fetch(u, init);
    },
  });
  const send = (target) =>
    provider.fetch(target, {
      headers: { authorization: `DPoP ${tokens.access_token}`, dpop: proof },
    });
  const replayed = await send(url);
  assert.equal(replayed.status, 401);
  assert.match(replayed.headers.get("www-authenticate"), /error="invalid_dpop_proof"/);
  assert.match(replayed.headers.get("www-authenticate"), /was already used/);

  const elsewhere = await send(`${provider.issuer}/userinfo`);
  assert.equal(elsewhere.status, 401);
  assert.match(elsewhere.headers.get("www-authenticate"), /error="invalid_dpop_proof"/);
  assert.match(elsewhere.headers.get("www-authenticate"), /is for URL .*\/api\/me, but this request went to .*\/userinfo/);
});

test("a public client's refresh token is bound: refreshed with its key, refused without", async () => {
  const { tokens, c, opts } = await signIn(provider, as);
  assert.ok(tokens.refresh_token);
  // Without a proof.
  await assert.rejects(
    oauth.processRefreshTokenResponse(
      as, c,
      await oauth.refreshTokenGrantRequest(as, c, oauth.None(), tokens.refresh_token, {
        [oauth.customFetch]: provider.fetch,
      }),
    ),
    (err) => {
      assert.equal(err.error, "invalid_grant");
      assert.match(err.error_description, /refresh token is bound to a DPoP key/);
      return true;
    },
  );
  // With another key.
  const other = oauth.DPoP(c, await oauth.generateKeyPair("ES256"));
  await assert.rejects(
    oauth.processRefreshTokenResponse(
      as, c,
      await oauth.refreshTokenGrantRequest(as, c, oauth.None(), tokens.refresh_token, {
        DPoP: other, [oauth.customFetch]: provider.fetch,
      }),
    ),
    (err) => {
      assert.equal(err.error, "invalid_grant");
      assert.match(err.error_description, /another DPoP key/);
      return true;
    },
  );
  const refreshed = await oauth.processRefreshTokenResponse(
    as, c, await oauth.refreshTokenGrantRequest(as, c, oauth.None(), tokens.refresh_token, opts),
  );
  assert.equal(refreshed.token_type, "dpop");
});

test("a client that requires DPoP is refused a token request without a proof", async () => {
  const created = provider.createClient(
    "--name", "dpop service", "--grant", "client_credentials", "--scope", "api.read", "--require-dpop",
  );
  const c = { client_id: created.client_id };
  const request = (options) =>
    oauth.clientCredentialsGrantRequest(
      as, c, oauth.ClientSecretBasic(created.client_secret), { scope: "api.read" },
      { [oauth.customFetch]: provider.fetch, ...options },
    );
  await assert.rejects(oauth.processClientCredentialsResponse(as, c, await request({})), (err) => {
    assert.equal(err.error, "invalid_dpop_proof");
    assert.match(err.error_description, /requires DPoP-bound tokens/);
    return true;
  });
  const DPoP = oauth.DPoP(c, await oauth.generateKeyPair("ES256"));
  const tokens = await oauth.processClientCredentialsResponse(as, c, await request({ DPoP }));
  assert.equal(tokens.token_type, "dpop");
});

test("serve --dpop-nonce: use_dpop_nonce at the token endpoint and userinfo, retried by oauth4webapi", async () => {
  const strict = await startProvider({ args: ["--dpop-nonce"] });
  try {
    const meta = await discover(strict);
    const { tokens, c, opts } = await signIn(strict, meta, { retryNonce: true });
    assert.equal(tokens.token_type, "dpop");
    // The handle keeps the nonce it was given: userinfo works at once.
    const info = await oauth.processUserInfoResponse(
      meta, c, oauth.skipSubjectCheck,
      await oauth.userInfoRequest(meta, c, tokens.access_token, opts),
    );
    assert.ok(info.sub);
    // A fresh key without a nonce is asked for one, with the reason.
    const res = await strict.fetch(meta.token_endpoint, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: c.client_id }),
    });
    assert.equal(res.status, 400);
    // Without any proof the refresh token's binding refuses first; the nonce refusal
    // needs a proof: make one through a new handle and read the first answer.
    const fresh = oauth.DPoP(c, await oauth.generateKeyPair("ES256"));
    const first = await oauth.refreshTokenGrantRequest(meta, c, oauth.None(), tokens.refresh_token, {
      DPoP: fresh, [oauth.customFetch]: strict.fetch,
    });
    assert.equal(first.status, 400);
    assert.ok(first.headers.get("dpop-nonce"));
    const body = await first.json();
    assert.equal(body.error, "use_dpop_nonce");
    assert.match(body.error_description, /serve --dpop-nonce/);
  } finally {
    await strict.stop();
  }
});
