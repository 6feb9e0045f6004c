// Signing-key rotation as a resource server that caches the JWKS sees it: jose's
// createRemoteJWKSet (which caches the set and fetches it again when a token names an
// unknown kid) verifies a token from before a rotation made by `authdesk keys rotate`
// while serve runs, and one from after it; once the old key is retired
// (`authdesk keys retire`) and the cache is refreshed, the old key's token fails.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as jose from "jose";
import { startProvider } from "./support.mjs";

let provider;

before(async () => {
  provider = await startProvider();
});
after(() => provider?.stop());

async function serviceToken() {
  const res = await provider.fetch(`${provider.issuer}/token`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${Buffer.from("service:service-secret-with-at-least-32-bytes!!").toString("base64")}`,
    },
    body: new URLSearchParams({
      grant_type: "client_credentials",
      scope: "api.read",
    }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()).access_token;
}

const kidOf = (jwt) => jose.decodeProtectedHeader(jwt).kid;

/** Asks until `done(value)` holds: the running provider follows the CLI's change within
 * half a second. The bound is generous and measures nothing. */
async function until(what, get, done) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const value = await get();
    if (done(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`${what} never happened: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function servedKids() {
  const res = await provider.fetch(`${provider.issuer}/jwks`);
  return (await res.json()).keys.map((k) => k.kid);
}

test("jose's remote JWKS verifies tokens across a rotation and refuses a retired key's", async () => {
  // cooldownDuration 0: an unknown kid makes jose fetch the set again at once (its
  // default waits 30 s between fetches).
  const jwks = jose.createRemoteJWKSet(new URL(`${provider.issuer}/jwks`), {
    [jose.customFetch]: provider.fetch,
    cooldownDuration: 0,
  });
  const verify = (jwt) =>
    jose.jwtVerify(jwt, jwks, { issuer: provider.issuer, typ: "at+jwt" });

  const before = await serviceToken();
  const oldKid = kidOf(before);
  await verify(before);

  const rotated = JSON.parse(
    provider.cli("keys", "rotate", "--alg", "ES256", "--json"),
  );
  const newKid = rotated.rotated[0].kid;
  assert.notEqual(newKid, oldKid);
  const afterToken = await until(
    "a token signed by the new key",
    serviceToken,
    (t) => kidOf(t) === newKid,
  );

  // The cached set lacks the new kid: jose fetches it again, and both verify.
  const { payload } = await verify(afterToken);
  assert.equal(payload.client_id, "service");
  await verify(before);

  provider.cli("keys", "retire", oldKid);
  await until(
    "the old key leaving the JWKS",
    servedKids,
    (kids) => !kids.includes(oldKid),
  );
  // A resource server refreshes its cache (jose does when cacheMaxAge passes).
  await jwks.reload();
  await assert.rejects(verify(before), jose.errors.JWKSNoMatchingKey);
  await verify(afterToken);
});

test("the rotate-keys fault scenario drops the old key: a caching client fetches the new one", async () => {
  const jwks = jose.createRemoteJWKSet(new URL(`${provider.issuer}/jwks`), {
    [jose.customFetch]: provider.fetch,
    cooldownDuration: 0,
  });
  const verify = (jwt) =>
    jose.jwtVerify(jwt, jwks, { issuer: provider.issuer, typ: "at+jwt" });
  const before = await serviceToken();
  await verify(before); // the set is cached now
  const out = JSON.parse(
    provider.cli("faults", "add", "--scenario", "rotate-keys", "--json"),
  );
  assert.match(JSON.stringify(out.done), /rotated the signing keys/);
  // The running provider follows the CLI: the old kid leaves the JWKS.
  await until(
    "the old key's retirement",
    servedKids,
    (kids) => !kids.includes(kidOf(before)),
  );
  const after = await until(
    "a token with the new key",
    serviceToken,
    (t) => kidOf(t) !== kidOf(before),
  );
  // The cached set has no such kid: jose fetches the set again and verifies it.
  const { payload } = await verify(after);
  assert.equal(payload.client_id, "service");
  // A fresh cache (what a restarted client has) refuses the old key's token.
  const fresh = jose.createRemoteJWKSet(new URL(`${provider.issuer}/jwks`), {
    [jose.customFetch]: provider.fetch,
  });
  await assert.rejects(
    jose.jwtVerify(before, fresh, { issuer: provider.issuer }),
    {
      code: "ERR_JWKS_NO_MATCHING_KEY",
    },
  );
});
