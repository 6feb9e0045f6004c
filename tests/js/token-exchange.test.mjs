// Token exchange (RFC 8693) through oauth4webapi's genericTokenEndpointRequest: an API exchanges the
// access token a person's sign-in gave a web app for it, acting for that person with
// its own client_credentials token as the actor, and gets a token for the orders
// service that passes RFC 9068 validation with the `act` claim; a forbidden audience
// is refused with invalid_target.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as oauth from "oauth4webapi";
import { startProvider, authorize } from "./support.mjs";

const REDIRECT = "http://127.0.0.1:9/callback";
const API = "https://api.example.com";
const ORDERS = "https://orders.example.com";
const GRANT = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS = "urn:ietf:params:oauth:token-type:access_token";
let provider;
let as;
let opts;

before(async () => {
  provider = await startProvider();
  const issuer = new URL(provider.issuer);
  opts = { [oauth.customFetch]: provider.fetch };
  as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, opts));
});
after(() => provider?.stop());

/** Alice's access token for the API, from a public web app's code flow. */
async function personsToken() {
  const created = provider.createClient(
    "--name", "js web", "--type", "public", "--redirect-uri", REDIRECT, "--auto-approve",
    "--grant", "authorization_code", "--scope", "openid", "--scope", "profile", "--resource", API,
  );
  const c = { client_id: created.client_id };
  const verifier = oauth.generateRandomCodeVerifier();
  const url = new URL(as.authorization_endpoint);
  url.search = new URLSearchParams({
    client_id: c.client_id, redirect_uri: REDIRECT, response_type: "code", scope: "openid profile",
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: "S256",
    state: "st", resource: API, login_hint: "alice",
  });
  const params = oauth.validateAuthResponse(as, c, await authorize(provider, url), "st");
  const tokens = await oauth.processAuthorizationCodeResponse(
    as, c,
    await oauth.authorizationCodeGrantRequest(as, c, oauth.None(), params, REDIRECT, verifier, opts),
  );
  return tokens.access_token;
}

function apiClient() {
  const created = provider.createClient(
    "--name", "js api", "--grant", "token-exchange", "--grant", "client_credentials",
    "--scope", "openid", "--scope", "profile", "--resource", API, "--resource", ORDERS,
  );
  return { c: { client_id: created.client_id }, auth: oauth.ClientSecretBasic(created.client_secret) };
}

test("discovery lists the token exchange grant", () => {
  assert.ok(as.grant_types_supported.includes(GRANT));
});

test("oauth4webapi: delegation gives a token for the orders service with act, valid under RFC 9068", async () => {
  const subject = await personsToken();
  const { c, auth } = apiClient();
  const actor = await oauth.processClientCredentialsResponse(
    as, c, await oauth.clientCredentialsGrantRequest(as, c, auth, { scope: "profile" }, opts),
  );
  const exchanged = await oauth.processGenericTokenEndpointResponse(
    as, c,
    await oauth.genericTokenEndpointRequest(as, c, auth, GRANT, {
      subject_token: subject, subject_token_type: ACCESS,
      actor_token: actor.access_token, actor_token_type: ACCESS,
      audience: ORDERS, scope: "profile",
    }, opts),
  );
  assert.equal(exchanged.issued_token_type, ACCESS);
  assert.equal(exchanged.token_type, "bearer");
  const request = new Request(`${ORDERS}/orders`, {
    headers: { authorization: `Bearer ${exchanged.access_token}` },
  });
  const claims = await oauth.validateJwtAccessToken(as, request, ORDERS, opts);
  assert.equal(claims.aud, ORDERS);
  assert.equal(claims.scope, "profile");
  assert.deepEqual(claims.act, { sub: c.client_id, client_id: c.client_id });
  assert.notEqual(claims.sub, c.client_id, "the token is about the person, not the API");
});

test("oauth4webapi: an exchange for an audience the client may not ask for is invalid_target", async () => {
  const subject = await personsToken();
  const { c, auth } = apiClient();
  await assert.rejects(
    oauth.processGenericTokenEndpointResponse(
      as, c,
      await oauth.genericTokenEndpointRequest(as, c, auth, GRANT, {
        subject_token: subject, subject_token_type: ACCESS, audience: "https://payroll.example.com",
      }, opts),
    ),
    (err) => {
      assert.ok(err instanceof oauth.ResponseBodyError, String(err));
      assert.equal(err.error, "invalid_target");
      assert.match(err.error_description, /payroll\.example\.com/);
      return true;
    },
  );
});
