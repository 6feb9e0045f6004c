// Request objects (RFC 9101 / OpenID Connect Core 6) made by oauth4webapi's
// issueRequestObject, signed with a key registered in the client's jwks: pushed (PAR)
// and sent as `request` at the authorization endpoint; and refused when signed by
// another key, addressed to another audience, or unsigned without the client's consent.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import * as oauth from "oauth4webapi";
import { startProvider, authorize } from "./support.mjs";

const REDIRECT = "http://127.0.0.1:9/callback";
let provider;
let as;
let n = 0;

before(async () => {
  provider = await startProvider();
  const issuer = new URL(provider.issuer);
  as = await oauth.processDiscoveryResponse(
    issuer,
    await oauth.discoveryRequest(issuer, { [oauth.customFetch]: provider.fetch }),
  );
});
after(() => provider?.stop());

/** A key pair, and a client whose jwks holds its public key (kid "k1"). */
async function clientWithKey(...flags) {
  const keys = await oauth.generateKeyPair("ES256", { extractable: true });
  const jwk = { ...(await crypto.subtle.exportKey("jwk", keys.publicKey)), kid: "k1", alg: "ES256", use: "sig" };
  const path = join(provider.dataDir, `jwks-${++n}.json`);
  writeFileSync(path, JSON.stringify({ keys: [jwk] }));
  const created = provider.createClient(
    "--name", "jar app", "--redirect-uri", REDIRECT, "--auto-approve", "--scope", "openid",
    "--jwks", path, ...flags,
  );
  return { created, c: { client_id: created.client_id }, privateKey: { key: keys.privateKey, kid: "k1" } };
}

const opts = () => ({ [oauth.customFetch]: provider.fetch });

async function requestParams() {
  const verifier = oauth.generateRandomCodeVerifier();
  return {
    verifier,
    params: {
      redirect_uri: REDIRECT,
      response_type: "code",
      scope: "openid",
      state: "st",
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
    },
  };
}

async function pushObject(created, c, request) {
  const res = await oauth.pushedAuthorizationRequest(
    as, c, oauth.ClientSecretBasic(created.client_secret), { request }, opts(),
  );
  return oauth.processPushedAuthorizationResponse(as, c, res);
}

test("discovery advertises request objects and their algorithms", () => {
  assert.equal(as.request_parameter_supported, true);
  assert.ok(as.request_object_signing_alg_values_supported.includes("ES256"));
  assert.ok(!as.request_object_signing_alg_values_supported.includes("none"));
});

test("oauth4webapi: a signed request object pushed to PAR, then the code flow", async () => {
  const { created, c, privateKey } = await clientWithKey();
  const { verifier, params } = await requestParams();
  const request = await oauth.issueRequestObject(as, c, params, privateKey);
  const pushed = await pushObject(created, c, request);
  const url = new URL(as.authorization_endpoint);
  url.search = new URLSearchParams({ client_id: c.client_id, request_uri: pushed.request_uri });
  const callback = await authorize(provider, url);
  const code = oauth.validateAuthResponse(as, c, callback, "st");
  const tokens = await oauth.processAuthorizationCodeResponse(
    as, c,
    await oauth.authorizationCodeGrantRequest(
      as, c, oauth.ClientSecretBasic(created.client_secret), code, REDIRECT, verifier, opts(),
    ),
    { expectNoNonce: true, requireIdToken: true },
  );
  assert.ok(tokens.access_token);
});

test("oauth4webapi: a signed request object as `request` at the authorization endpoint", async () => {
  const { c, privateKey } = await clientWithKey();
  const { params } = await requestParams();
  const request = await oauth.issueRequestObject(as, c, params, privateKey);
  const url = new URL(as.authorization_endpoint);
  // Only the object's parameters count: a state in the URL is ignored (RFC 9101 section 5).
  url.search = new URLSearchParams({ client_id: c.client_id, request, state: "not-this-one" });
  const callback = await authorize(provider, url);
  assert.ok(oauth.validateAuthResponse(as, c, callback, "st").get("code"));
});

test("a request object signed by another key is refused: invalid_request_object, signature", async () => {
  const { created, c } = await clientWithKey();
  const other = await oauth.generateKeyPair("ES256");
  const { params } = await requestParams();
  const request = await oauth.issueRequestObject(as, c, params, { key: other.privateKey, kid: "k1" });
  await assert.rejects(pushObject(created, c, request), (err) => {
    assert.equal(err.error, "invalid_request_object");
    assert.match(err.error_description, /signature does not verify/);
    return true;
  });
  // The same at the authorization endpoint, on the page (the redirect_uri inside is not trusted).
  const url = new URL(as.authorization_endpoint);
  url.search = new URLSearchParams({ client_id: c.client_id, request });
  const res = await provider.fetch(url, { redirect: "manual" });
  assert.equal(res.status, 400);
  const page = await res.text();
  assert.match(page, /invalid_request_object/);
  assert.match(page, /signature does not verify/);
});

test("a request object for another audience is refused, naming aud", async () => {
  const { created, c, privateKey } = await clientWithKey();
  const { params } = await requestParams();
  const request = await oauth.issueRequestObject(as, c, params, privateKey, {
    [oauth.modifyAssertion]: (_header, payload) => {
      payload.aud = "https://another-issuer.example";
    },
  });
  await assert.rejects(pushObject(created, c, request), (err) => {
    assert.equal(err.error, "invalid_request_object");
    assert.match(err.error_description, /aud must be the issuer/);
    assert.match(err.error_description, /another-issuer/);
    return true;
  });
});

function unsignedObject(c, params) {
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString("base64url");
  return `${b64({ alg: "none" })}.${b64({ ...params, client_id: c.client_id })}.`;
}

test("unsigned request objects are refused unless the client allows them", async () => {
  const { params } = await requestParams();
  const strict = await clientWithKey();
  await assert.rejects(pushObject(strict.created, strict.c, unsignedObject(strict.c, params)), (err) => {
    assert.equal(err.error, "invalid_request_object");
    assert.match(err.error_description, /unsigned \(alg none\)/);
    assert.match(err.error_description, /--allow-unsigned-request-objects/);
    return true;
  });
  const lenient = await clientWithKey("--allow-unsigned-request-objects");
  const pushed = await pushObject(lenient.created, lenient.c, unsignedObject(lenient.c, params));
  const url = new URL(as.authorization_endpoint);
  url.search = new URLSearchParams({ client_id: lenient.c.client_id, request_uri: pushed.request_uri });
  assert.ok(oauth.validateAuthResponse(as, lenient.c, await authorize(provider, url), "st").get("code"));
});
