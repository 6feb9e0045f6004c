// The classic flows through oauth4webapi and openid-client, the strictest JavaScript
// clients: discovery, authorization code + PKCE with an id_token and userinfo, refresh,
// client credentials, and the JWT access token under RFC 9068's rules.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as oauth from "oauth4webapi";
import * as client from "openid-client";
import { startProvider, authorize } from "./support.mjs";

const REDIRECT = "http://127.0.0.1:9/callback";
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

test("oauth4webapi: code + PKCE as a public client, id_token, userinfo, refresh", async () => {
  const created = provider.createClient(
    "--name", "js public", "--type", "public", "--redirect-uri", REDIRECT, "--auto-approve",
    "--grant", "authorization_code", "--grant", "refresh_token",
    "--scope", "openid", "--scope", "profile", "--scope", "email", "--scope", "offline_access",
  );
  const c = { client_id: created.client_id };
  const opts = { [oauth.customFetch]: provider.fetch };
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const nonce = oauth.generateRandomNonce();
  const url = new URL(as.authorization_endpoint);
  url.search = new URLSearchParams({
    client_id: c.client_id,
    redirect_uri: REDIRECT,
    response_type: "code",
    scope: "openid profile email offline_access",
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state,
    nonce,
    login_hint: "bob",
  });
  const callback = await authorize(provider, url);
  const params = oauth.validateAuthResponse(as, c, callback, state);
  const response = await oauth.authorizationCodeGrantRequest(
    as, c, oauth.None(), params, REDIRECT, verifier, opts,
  );
  const tokens = await oauth.processAuthorizationCodeResponse(as, c, response, {
    expectedNonce: nonce,
    requireIdToken: true,
  });
  const claims = oauth.getValidatedIdTokenClaims(tokens);
  assert.equal(claims.iss, provider.issuer);
  assert.equal(claims.aud, c.client_id);
  assert.ok(tokens.refresh_token, "offline_access gives a refresh token");

  const info = await oauth.processUserInfoResponse(
    as, c, claims.sub, await oauth.userInfoRequest(as, c, tokens.access_token, opts),
  );
  assert.equal(info.sub, claims.sub);
  assert.equal(info.email, "bob@example.com");

  const refreshed = await oauth.processRefreshTokenResponse(
    as, c, await oauth.refreshTokenGrantRequest(as, c, oauth.None(), tokens.refresh_token, opts),
  );
  assert.notEqual(refreshed.access_token, tokens.access_token);
});

test("openid-client: client credentials, and the access token validates under RFC 9068", async () => {
  const config = await client.discovery(
    new URL(provider.issuer), "web-app", "web-app-secret", undefined,
    { [client.customFetch]: provider.fetch },
  );
  provider.cli("clients", "update", "web-app", "--grant", "authorization_code",
    "--grant", "refresh_token", "--grant", "client_credentials");
  const tokens = await client.clientCredentialsGrant(config, { scope: "api.read" });
  assert.equal(tokens.token_type.toLowerCase(), "bearer");

  const request = new Request("https://api.example/", {
    headers: { authorization: `Bearer ${tokens.access_token}` },
  });
  const claims = await oauth.validateJwtAccessToken(as, request, "web-app", {
    [oauth.customFetch]: provider.fetch,
  });
  assert.equal(claims.client_id, "web-app");
  assert.equal(claims.scope, "api.read");
});
