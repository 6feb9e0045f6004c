// The consent page in a real Chromium: a person picks a persona and approves, and the
// page follows a decision taken elsewhere by itself. Started by run.sh, which runs the
// provider and gives Chromium its CA through an NSS database (never by ignoring
// certificate errors).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, createPublicKey, randomBytes, verify } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, mkdtempSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { chromium } from "playwright-core";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set; run this test through tests/browser/run.sh`);
  return v;
};
const ISSUER = env("AUTHDESK_TEST_ISSUER");
const DATA_DIR = env("AUTHDESK_TEST_DATA_DIR");
const CA = readFileSync(env("AUTHDESK_TEST_CA"));
const TMP = env("AUTHDESK_TEST_TMP");
const BIN = env("AUTHDESK_BIN");
const SHOTS = env("AUTHDESK_TEST_SCREENSHOTS");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

// From examples/seed.yaml.
const CLIENT_ID = "web-app";
const CLIENT_SECRET = "web-app-secret";
const REDIRECT_URI = "http://127.0.0.1:8765/callback";
const SCOPE = "openid profile email";
// Bounds for waiting on the browser; exceeding one fails the test, it measures nothing.
const TIMEOUT = 30_000;

const b64url = (buf) => Buffer.from(buf).toString("base64url");

let subs;
before(() => {
  mkdirSync(SHOTS, { recursive: true });
  const users = JSON.parse(
    execFileSync(BIN, ["users", "list", "--json", "--data-dir", DATA_DIR], { encoding: "utf8" }),
  );
  subs = Object.fromEntries(users.map((u) => [u.username, u.sub]));
  assert.ok(subs.bob && subs.alice, `personas from the seed: ${JSON.stringify(users)}`);
});

const contexts = [];
after(async () => {
  for (const c of contexts) await c.close().catch(() => {});
});

/** A fresh Chromium profile (its own --user-data-dir) in light mode. */
async function browser() {
  const profile = mkdtempSync(join(TMP, "profile-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    colorScheme: "light",
    viewport: { width: 640, height: 900 },
    ignoreHTTPSErrors: false,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    timeout: TIMEOUT,
  });
  contexts.push(context);
  context.setDefaultTimeout(TIMEOUT);
  const page = context.pages()[0] ?? (await context.newPage());
  // Anything the page logs as an error (a CSP violation of its own script or style, a
  // failed request) fails the test.
  const problems = [];
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(m.text());
  });
  page.on("pageerror", (e) => problems.push(String(e)));
  // The client's redirect URI: answered here instead of by a server on port 8765, so
  // the test needs no fixed port. The browser still navigates there for real.
  const callbacks = [];
  let reached;
  const callback = new Promise((resolve) => (reached = resolve));
  await context.route(`${REDIRECT_URI}**`, (route) => {
    callbacks.push(route.request().url());
    reached(route.request().url());
    return route.fulfill({ status: 200, contentType: "text/html", body: "<p>callback reached</p>" });
  });
  return { context, page, callbacks, callback, problems };
}

/** Bounded wait for a promise; exceeding it fails the test (it measures nothing). */
function within(promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${TIMEOUT} ms`)), TIMEOUT);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** An authorization request of web-app with state, nonce and PKCE S256. */
function authorization(extra = {}) {
  const verifier = b64url(randomBytes(48));
  const challenge = b64url(createHash("sha256").update(verifier).digest());
  const state = b64url(randomBytes(12));
  const nonce = b64url(randomBytes(12));
  const url = new URL("/authorize", ISSUER);
  for (const [k, v] of Object.entries({
    response_type: "code",
    client_id: CLIENT_ID,
    redirect_uri: REDIRECT_URI,
    scope: SCOPE,
    state,
    nonce,
    code_challenge: challenge,
    code_challenge_method: "S256",
    ...extra,
  })) {
    url.searchParams.set(k, v);
  }
  return { url: url.toString(), verifier, state, nonce };
}

/** HTTPS to the provider, trusting only its CA. */
function https(method, path, { body, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, ISSUER),
      { method, ca: CA, headers, timeout: TIMEOUT },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, text }));
      },
    );
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error(`${method} ${path}: timed out`)));
    if (body) req.write(body);
    req.end();
  });
}

/** The code of a redirect to the client, after checking state and iss. */
function codeOf(location, auth) {
  const url = new URL(location);
  assert.equal(`${url.origin}${url.pathname}`, REDIRECT_URI, location);
  const q = url.searchParams;
  assert.equal(q.get("error"), null, `an error came back: ${location}`);
  assert.equal(q.get("state"), auth.state, "state");
  assert.equal(q.get("iss"), ISSUER, "iss");
  assert.ok(q.get("code"), `no code in ${location}`);
  return q.get("code");
}

/** Exchanges a code (client_secret_basic) and returns the verified id_token's claims. */
async function exchange(code, auth) {
  const form = new URLSearchParams({
    grant_type: "authorization_code",
    code,
    redirect_uri: REDIRECT_URI,
    code_verifier: auth.verifier,
  }).toString();
  const basic = Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString("base64");
  const res = await https("POST", "/token", {
    body: form,
    headers: {
      authorization: `Basic ${basic}`,
      "content-type": "application/x-www-form-urlencoded",
    },
  });
  assert.equal(res.status, 200, res.text);
  const tokens = JSON.parse(res.text);
  assert.ok(tokens.id_token, res.text);

  const [h, p, s] = tokens.id_token.split(".");
  const header = JSON.parse(Buffer.from(h, "base64url"));
  const jwks = JSON.parse((await https("GET", "/jwks")).text);
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  assert.ok(jwk, `kid ${header.kid} is not in the JWKS`);
  assert.equal(header.alg, "RS256");
  const valid = verify(
    "sha256",
    Buffer.from(`${h}.${p}`),
    createPublicKey({ key: jwk, format: "jwk" }),
    Buffer.from(s, "base64url"),
  );
  assert.ok(valid, "the id_token signature does not verify against the JWKS");
  const claims = JSON.parse(Buffer.from(p, "base64url"));
  assert.equal(claims.iss, ISSUER);
  assert.equal(claims.aud, CLIENT_ID);
  assert.equal(claims.nonce, auth.nonce);
  return claims;
}

test("a person picks bob on the consent page, approves, and the app gets bob's id_token", async () => {
  const { page, callbacks, callback } = await browser();
  const auth = authorization();
  const response = await page.goto(auth.url);
  assert.equal(response.status(), 200);
  assert.equal(await page.locator("h1").textContent(), "Sign in to Sample web app");
  for (const scope of SCOPE.split(" ")) {
    assert.equal(
      await page.locator("ul.scopes code", { hasText: scope }).count(),
      1,
      `scope ${scope} is not listed`,
    );
  }
  assert.ok(await page.locator('input[name="username"][value="alice"]').isChecked(), "first persona");
  await page.screenshot({ path: join(SHOTS, "consent-page.png"), fullPage: true });

  await page.getByTestId("persona-bob").click();
  assert.ok(await page.locator('input[name="username"][value="bob"]').isChecked());
  assert.ok(!(await page.locator('input[name="username"][value="alice"]').isChecked()));
  await page.screenshot({ path: join(SHOTS, "consent-page-bob.png"), fullPage: true });

  await page.getByTestId("approve").click();
  const landed = await within(callback, "the redirect to the client");
  await page.waitForURL((u) => u.href.startsWith(REDIRECT_URI));
  assert.equal(page.url(), landed);
  assert.equal(callbacks.length, 1, `the client was reached more than once: ${callbacks}`);
  const code = codeOf(landed, auth);
  const claims = await exchange(code, auth);
  assert.equal(claims.sub, subs.bob);
  assert.notEqual(claims.sub, subs.alice);
  assert.equal(claims.name, "Bob Example");
  assert.equal(claims.email, "bob@example.com");
});

test("the page waits live and follows a decision taken elsewhere by itself", async () => {
  const { page, callbacks, callback, problems } = await browser();
  const auth = authorization();
  // The page's long-poll is in flight before the decision is taken.
  const polling = page.waitForRequest((r) => r.url().includes("/authorize/wait?request_id="));
  await page.goto(auth.url);
  await polling;
  const html = await page.content();
  const hidden = (name) => {
    const m = html.match(new RegExp(`<input type="hidden" name="${name}" value="([^"]+)"`));
    assert.ok(m, `no ${name} in the page`);
    return m[1];
  };
  const form = new URLSearchParams({
    request_id: hidden("request_id"),
    csrf: hidden("csrf"),
    action: "approve",
    username: "bob",
  }).toString();

  const decided = await https("POST", "/authorize/decision", {
    body: form,
    headers: { "content-type": "application/x-www-form-urlencoded" },
  });
  assert.equal(decided.status, 303, decided.text);
  // Nothing is clicked: the page goes to the client by itself.
  const landed = await within(callback, "the page following the decision");
  await page.waitForURL((u) => u.href.startsWith(REDIRECT_URI));
  assert.equal(callbacks.length, 1, `callbacks: ${callbacks}`);
  const code = codeOf(landed, auth);
  assert.equal(code, codeOf(decided.headers.location, auth), "the page went somewhere else");
  const claims = await exchange(code, auth);
  assert.equal(claims.sub, subs.bob);
  assert.deepEqual(problems, [], "the consent page logged errors");
});

test(
  "the Approve button's own redirect reaches the client (the CSP's form-action allows the client's origin)",
    async () => {
      const { page, context, callbacks, problems } = await browser();
      // Without the long-poll, the form alone has to take the browser to the client.
      await context.route("**/authorize/wait?**", (route) => route.abort());
      const auth = authorization();
      await page.goto(auth.url);
      await page.getByTestId("persona-bob").click();
      const submitted = new Promise((resolve) => {
        const done = (r) => r.isNavigationRequest() && r.url().includes("/authorize/decision") && resolve(r);
        page.on("requestfinished", done);
        page.on("requestfailed", done);
      });
      await page.getByTestId("approve").click();
      const post = await within(submitted, "the decision form's submission");
      const csp = problems.filter((p) => p.includes("Content Security Policy"));
      assert.deepEqual(csp, [], `CSP violation: ${csp.join(" | ").trim()}`);
      assert.equal(post.failure(), null, "the decision's navigation failed");
      const landed = await within(
        page.waitForURL((u) => u.href.startsWith(REDIRECT_URI)).then(() => page.url()),
        "the redirect to the client",
      );
      assert.equal(callbacks.length, 1, `callbacks: ${callbacks}`);
      codeOf(landed, auth);
    },
);
