// Claims and audiences (issue 18) through real JavaScript clients: an RFC 8707
// `resource` makes the JWT access token's audience, which oauth4webapi validates under
// RFC 9068 with a client's custom claim present; and the OIDC Core 5.5 `claims`
// request parameter, through openid-client, releases the claim it names into the
// id_token (and only there).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as oauth from "oauth4webapi";
import * as client from "openid-client";
import { startProvider, authorize } from "./support.mjs";

const REDIRECT = "http://127.0.0.1:9/callback";
const API = "https://api.example";
let provider;
let as;

before(async () => {
  provider = await startProvider();
  const issuer = new URL(provider.issuer);
  as = await oauth.processDiscoveryResponse(
    issuer,
    await oauth.discoveryRequest(issuer, { [oauth.customFetch]: provider.fetch }),
  );
});
after(() => provider?.stop());

test("oauth4webapi: a code flow with resource gets a JWT access token for it that passes RFC 9068", async () => {
  const created = provider.createClient(
    "--name", "js resource", "--type", "public", "--redirect-uri", REDIRECT, "--auto-approve",
    "--grant", "authorization_code", "--scope", "openid", "--scope", "profile",
    "--resource", API, "--claim", "tenant=acme@access_token",
  );
  const c = { client_id: created.client_id };
  const opts = { [oauth.customFetch]: provider.fetch };
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const url = new URL(as.authorization_endpoint);
  url.search = new URLSearchParams({
    client_id: c.client_id,
    redirect_uri: REDIRECT,
    response_type: "code",
    scope: "openid profile",
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state,
    resource: API,
  });
  const params = oauth.validateAuthResponse(as, c, await authorize(provider, url), state);
  const tokens = await oauth.processAuthorizationCodeResponse(
    as, c,
    await oauth.authorizationCodeGrantRequest(as, c, oauth.None(), params, REDIRECT, verifier, opts),
  );
  const request = new Request(`${API}/orders`, {
    headers: { authorization: `Bearer ${tokens.access_token}` },
  });
  const claims = await oauth.validateJwtAccessToken(as, request, API, opts);
  assert.equal(claims.aud, API);
  assert.equal(claims.tenant, "acme", "the client's custom claim");
  assert.equal(claims.client_id, c.client_id);
  assert.equal(claims.iss, provider.issuer);

  // The client id is not an audience of this token: a resource server for the client
  // (not the API) refuses it.
  const wrongAudience = new Request(`${API}/orders`, {
    headers: { authorization: `Bearer ${tokens.access_token}` },
  });
  await assert.rejects(oauth.validateJwtAccessToken(as, wrongAudience, c.client_id, opts));
});

test("openid-client: the claims request parameter puts the named claim in the id_token", async () => {
  const created = provider.createClient(
    "--name", "js claims", "--type", "public", "--redirect-uri", REDIRECT, "--auto-approve",
    "--grant", "authorization_code", "--scope", "openid", "--scope", "email",
  );
  const config = await client.discovery(
    new URL(provider.issuer), created.client_id, undefined, client.None(),
    { [client.customFetch]: provider.fetch },
  );
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT,
    // openid only: without the claims request, no email would be released.
    scope: "openid",
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state,
    nonce,
    login_hint: "bob",
    claims: JSON.stringify({ id_token: { email: { essential: true } }, userinfo: { name: null } }),
  });
  const callback = await authorize(provider, url);
  const tokens = await client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  assert.equal(claims.email, "bob@example.com");
  assert.equal(claims.name, undefined, "name was asked for userinfo only");

  const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  assert.equal(info.name, "Bob Example");
  assert.equal(info.email, undefined, "email was asked for the id_token only");
});
