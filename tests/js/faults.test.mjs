// Bad tokens on purpose (issue 20), refused by the strictest JavaScript clients: an
// id_token with a wrong aud, a wrong nonce, alg none, or signed by a key that is not in
// the JWKS. Each rule is added with `authdesk faults add` while serve runs, applies to
// the next token request only, and the same flow then succeeds (so each refusal is the
// rule's doing, not the flow's).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as oauth from "oauth4webapi";
import * as client from "openid-client";
import { startProvider, authorize } from "./support.mjs";

const REDIRECT = "http://127.0.0.1:9/callback";
let provider;
let as;
let c;

before(async () => {
  provider = await startProvider();
  const issuer = new URL(provider.issuer);
  as = await oauth.processDiscoveryResponse(
    issuer,
    await oauth.discoveryRequest(issuer, { [oauth.customFetch]: provider.fetch }),
  );
  const created = provider.createClient(
    "--name", "js faults", "--type", "public", "--redirect-uri", REDIRECT, "--auto-approve",
    "--grant", "authorization_code", "--scope", "openid", "--scope", "profile",
  );
  c = { client_id: created.client_id };
});
after(() => provider?.stop());

const opts = () => ({ [oauth.customFetch]: provider.fetch });

/** Code + PKCE up to the token response (not processed yet). */
async function codeFlow() {
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const nonce = oauth.generateRandomNonce();
  const url = new URL(as.authorization_endpoint);
  url.search = new URLSearchParams({
    client_id: c.client_id,
    redirect_uri: REDIRECT,
    response_type: "code",
    scope: "openid profile",
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state,
    nonce,
  });
  const params = oauth.validateAuthResponse(as, c, await authorize(provider, url), state);
  const response = await oauth.authorizationCodeGrantRequest(
    as, c, oauth.None(), params, REDIRECT, verifier, opts(),
  );
  return { response, nonce };
}

async function processed({ response, nonce }) {
  return oauth.processAuthorizationCodeResponse(as, c, response, {
    expectedNonce: nonce,
    requireIdToken: true,
  });
}

function addRule(...args) {
  const out = JSON.parse(provider.cli("faults", "add", "--endpoint", "token", "--client",
    c.client_id, ...args, "--count", "1", "--json"));
  assert.equal(out.rules.length, 1);
  return out.rules[0];
}

/** Whether an error (or its causes: the claim oauth4webapi names) mentions `word`. */
function mentions(e, word) {
  for (let x = e; x; x = x.cause) {
    if (String(x.message ?? "").includes(word) || x.claim === word) return true;
    if (typeof x.cause === "object" && x.cause?.claim === word) return true;
  }
  return false;
}

function injected(id) {
  const rules = JSON.parse(provider.cli("faults", "list", "--json"));
  return rules.find((r) => r.id === id).injected;
}

test("oauth4webapi refuses an id_token whose aud is another client", async () => {
  const rule = addRule("--bad-token", "wrong-aud");
  await assert.rejects(processed(await codeFlow()), (e) => {
    assert.ok(mentions(e, "aud"), `${e.message}: the refusal names aud`);
    return true;
  });
  assert.equal(injected(rule.id), 1);
  const tokens = await processed(await codeFlow());
  assert.equal(oauth.getValidatedIdTokenClaims(tokens).aud, c.client_id);
});

test("oauth4webapi refuses an id_token with a nonce it did not send", async () => {
  addRule("--bad-token", "wrong-nonce");
  await assert.rejects(processed(await codeFlow()), (e) => {
    assert.ok(mentions(e, "nonce"), `${e.message}: the refusal names the nonce`);
    return true;
  });
  await processed(await codeFlow());
});

test("oauth4webapi refuses an unsigned id_token (alg none)", async () => {
  addRule("--bad-token", "alg-none");
  await assert.rejects(processed(await codeFlow()), /alg/);
  await processed(await codeFlow());
});

test("oauth4webapi finds no key in the JWKS for an id_token signed by an unknown key", async () => {
  addRule("--bad-token", "unknown-key");
  const bad = await codeFlow();
  await processed(bad);
  await assert.rejects(oauth.validateApplicationLevelSignature(as, bad.response, opts()));
  const good = await codeFlow();
  await processed(good);
  await oauth.validateApplicationLevelSignature(as, good.response, opts());
});

test("openid-client refuses an id_token whose aud is another client", async () => {
  const config = await client.discovery(
    new URL(provider.issuer), c.client_id, undefined, client.None(),
    { [client.customFetch]: provider.fetch },
  );
  const flow = async () => {
    const verifier = client.randomPKCECodeVerifier();
    const nonce = client.randomNonce();
    const state = client.randomState();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope: "openid profile",
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      nonce,
      state,
    });
    const callback = await authorize(provider, url);
    return client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: verifier,
      expectedNonce: nonce,
      expectedState: state,
      idTokenExpected: true,
    });
  };
  addRule("--bad-token", "wrong-aud");
  await assert.rejects(flow(), (e) => {
    assert.ok(mentions(e, "aud"), `${e.message}: the refusal names aud`);
    return true;
  });
  const tokens = await flow();
  assert.equal(tokens.claims().aud, c.client_id);
});
