// End-to-end test of the real Authdesk window, driven through tauri-driver (WebDriver).
// Run by scripts/desktop-e2e.sh, which builds the app, starts Xvfb, a session bus and
// tauri-driver, and sets the environment below (a fresh data dir and a free port).
//
// The test creates a client in the window, checks it with the `authdesk` CLI on the same
// data directory, gets a token for it over real TLS (trusting only the CA the window
// exported), revokes the token in the Tokens view and checks introspection says
// active:false. It saves a screenshot of every view on the way.

import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import path from "node:path";
import { remote } from "webdriverio";
import { assert, env, steps } from "./steps.mjs";

const APP = env("AUTHDESK_APP");
const CLI = env("AUTHDESK_CLI");
const DATA_DIR = env("AUTHDESK_DATA_DIR");
const EXPORT_DIR = env("AUTHDESK_EXPORT_DIR");
const SHOTS = env("SCREENSHOT_DIR");
const DRIVER_PORT = Number(process.env.TAURI_DRIVER_PORT ?? 4444);

const CLIENT_ID = "e2e-service";
const CLIENT_NAME = "E2E Service";

const { step, counts } = steps();

/** One HTTPS request trusting only `ca` (never rejectUnauthorized: false); no redirects followed. */
function request(url, { ca, method = "GET", headers = {}, body }) {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = https.request(
      { hostname: u.hostname, port: u.port, path: u.pathname + u.search, method, ca, headers },
      (res) => {
        let data = "";
        res.setEncoding("utf8");
        res.on("data", (c) => (data += c));
        res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, text: data }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** POSTs a form with HTTP Basic client authentication; answers the status and the JSON body. */
async function postForm(url, form, { ca, user, password }) {
  const body = new URLSearchParams(form).toString();
  const basic = Buffer.from(`${encodeURIComponent(user)}:${encodeURIComponent(password)}`).toString("base64");
  const res = await request(url, {
    ca,
    method: "POST",
    body,
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      "content-length": Buffer.byteLength(body),
      authorization: `Basic ${basic}`,
    },
  });
  try {
    return { status: res.status, json: JSON.parse(res.text) };
  } catch {
    throw new Error(`${url}: ${res.status} ${res.text}`);
  }
}

const b64url = (buf) => buf.toString("base64url");

const browser = await remote({
  hostname: "127.0.0.1",
  port: DRIVER_PORT,
  logLevel: "warn",
  connectionRetryCount: 0,
  capabilities: { "tauri:options": { application: APP } },
});

const $t = (id) => browser.$(`[data-testid="${id}"]`);
const shot = async (name) => {
  // Toasts are transient: close them (or let them time out) and let transitions settle.
  await browser.pause(300);
  for (const close of await browser.$$('[data-testid="toast"] button[aria-label="Dismiss"]')) {
    await browser.execute((b) => b.click(), close).catch(() => {});
  }
  await browser
    .waitUntil(async () => (await browser.$$('[data-testid="toast"]')).length === 0, { timeout: 9_000 })
    .catch(() => {});
  // Two animation frames: the screenshot shows what was last painted.
  await browser.executeAsync((done) => requestAnimationFrame(() => requestAnimationFrame(() => done())));
  await browser.pause(500);
  await browser.saveScreenshot(path.join(SHOTS, `${name}.png`));
};
const nav = async (view) => {
  await (await $t(`nav-${view}`)).click();
  await (await $t(`view-${view}`)).waitForExist({ timeout: 10_000 });
};
/** The element's text content (WebKitWebDriver's rendered-text answer can be empty). */
const text = async (el) => ((await browser.execute((e) => e.textContent, el)) ?? "").trim();
/** Picks an option of a <select> as a person would (Svelte listens to change events). */
const choose = async (id, value) => {
  const el = await $t(id);
  await el.waitForExist({ timeout: 10_000 });
  await browser.execute(
    (e, v) => {
      e.value = v;
      e.dispatchEvent(new Event("change", { bubbles: true }));
    },
    el,
    value,
  );
};
/** Clears an input and types into it (Svelte listens to input events). */
const type = async (id, text) => {
  const el = await $t(id);
  await el.waitForDisplayed({ timeout: 10_000 });
  await el.clearValue();
  await el.setValue(text);
};

let issuer;
let caPem;
let secret;
let accessToken;
const t0 = Date.now();

try {
  await browser.setTimeout({ implicit: 0 });

  await step("the app starts on a fresh data directory and the provider runs", async () => {
    const status = await $t("provider-status");
    await status.waitForExist({ timeout: 30_000 });
    await browser.waitUntil(async () => (await status.getAttribute("data-state")) === "running", {
      timeout: 30_000,
      timeoutMsg: "provider never reached running",
    });
    const issuerEl = await $t("provider-issuer");
    await browser.waitUntil(
      async () => {
        issuer = await text(issuerEl);
        return /^https:\/\/localhost:\d+$/.test(issuer);
      },
      { timeout: 10_000, timeoutMsg: "the header never showed the issuer" },
    );
    assert(!issuer.endsWith(":8443") || process.env.AUTHDESK_PORT === "8443", "the test must not use the default port");
    await (await $t("view-clients")).waitForExist({ timeout: 10_000 });
    await (await $t("clients-empty")).waitForExist({ timeout: 10_000 });
  });

  // ---- The debugger (issue 23): the first run leads to a real sign-in. ----
  const dataCa = () => fs.readFileSync(path.join(DATA_DIR, "tls", "ca.pem"), "utf8");
  /** Plays the browser: follows the authorization URL, approves on the consent page as alice, then follows the redirect to the window's loopback listener. */
  async function signInAsBrowser(authorizeUrl) {
    const ca = dataCa();
    const page = await request(authorizeUrl, { ca });
    assert(page.status === 200, `consent page: ${page.status} ${page.text.slice(0, 300)}`);
    const hidden = (name) => new RegExp(`name="${name}" value="([^"]+)"`).exec(page.text)?.[1];
    const form = new URLSearchParams({
      request_id: hidden("request_id"),
      csrf: hidden("csrf"),
      username: "alice",
      action: "approve",
    }).toString();
    const decided = await request(`${issuer}/authorize/decision`, {
      ca,
      method: "POST",
      body: form,
      headers: { "content-type": "application/x-www-form-urlencoded", "content-length": Buffer.byteLength(form) },
    });
    assert(decided.status === 303, `decision: ${decided.status} ${decided.text.slice(0, 300)}`);
    const back = new URL(decided.headers.location);
    assert(back.protocol === "http:" && back.hostname === "127.0.0.1", `redirect to the loopback listener: ${back}`);
    const landed = await new Promise((resolve, reject) => {
      http.get(back, (res) => {
        let d = "";
        res.on("data", (c) => (d += c));
        res.on("end", () => resolve({ status: res.statusCode, text: d }));
      }).on("error", reject);
    });
    assert(landed.status === 200 && landed.text.includes("close this tab"), `the window's listener answered: ${landed.status}`);
  }
  const authorizeUrl = async () => {
    const link = await $t("trial-authorize-url");
    await link.waitForExist({ timeout: 20_000 });
    return await link.getAttribute("href");
  };

  await step("the first run offers the playground client, which signs in with code + PKCE in the window", async () => {
    await (await $t("first-run-create")).waitForExist({ timeout: 10_000 });
    await shot("clients-first-run");
    await (await $t("first-run-playground")).click();
    await (await $t("view-debugger")).waitForExist({ timeout: 10_000 });
    const url = new URL(await authorizeUrl());
    assert(url.href.startsWith(`${issuer}/authorize?`), `authorization URL ${url}`);
    assert(url.searchParams.get("client_id") === "authdesk-playground", "the playground client");
    assert(url.searchParams.get("code_challenge_method") === "S256", "PKCE S256");
    assert(/^http:\/\/127\.0\.0\.1:\d+\/callback$/.test(url.searchParams.get("redirect_uri")), "a loopback redirect URI");
    await signInAsBrowser(url.href);
    const trial = await $t("trial");
    await browser.waitUntil(async () => (await trial.getAttribute("data-state")) === "done", {
      timeout: 30_000,
      timeoutMsg: `the trial did not finish: ${await trial.getAttribute("data-state")}`,
    });
    for (const name of ["discovery", "authorize", "callback", "token", "userinfo"]) {
      const card = await $t(`trial-step-${name}`);
      assert(await card.isExisting(), `a card for ${name}`);
      assert((await card.getAttribute("data-state")) !== "failed", `${name} did not fail`);
    }
    assert((await text(await $t("trial-step-token-status"))) === "200", "the token request answered 200");
    const claims = JSON.parse(await text(await $t("trial-claims-id_token")));
    assert(claims.aud === "authdesk-playground" && claims.iss === issuer, `id_token claims ${JSON.stringify(claims)}`);
    const userinfo = JSON.parse(await text(await $t("trial-answer-userinfo")));
    assert(userinfo.sub === claims.sub && userinfo.email === "alice@example.com", `userinfo ${JSON.stringify(userinfo)}`);
    // The code verifier is masked until clicked.
    const verifier = await $t("trial-field-token-code_verifier");
    assert(!(await text(verifier)).match(/^[A-Za-z0-9_-]{40,}$/), "the verifier is masked");
    await browser.execute((e) => e.click(), verifier);
    await browser.waitUntil(async () => /^[A-Za-z0-9_-]{40,}$/.test(await text(verifier)), { timeout: 5_000 });
    await browser.execute((e) => e.click(), verifier);
    await (await $t("trial-step-token")).scrollIntoView({ block: "start" });
    await shot("debugger-trial");
  });

  await step("a token from the trial is explained: signed by Authdesk, and why an API would refuse it", async () => {
    await (await $t("trial-explain-access_token")).click();
    const result = await $t("explain-result");
    await result.waitForExist({ timeout: 10_000 });
    await browser.waitUntil(async () => (await result.getAttribute("data-accepted")) === "true", {
      timeout: 10_000,
      timeoutMsg: "the fresh access token is not accepted for its own client",
    });
    assert((await text(await $t("explain-signature"))) === "signed by Authdesk", "signature checked against the JWKS");
    // An API expecting another audience, validating it as an ID token would not matter: wrong aud.
    await choose("explain-audience", "custom");
    // Typed through an input event (WebKitWebDriver's keys did not reach Svelte's binding here).
    const aud = await $t("explain-audience-custom");
    await aud.waitForDisplayed({ timeout: 5_000 });
    await browser.execute(
      (e, v) => {
        e.value = v;
        e.dispatchEvent(new Event("input", { bubbles: true }));
      },
      aud,
      "https://api.example.com",
    );
    await (await $t("explain-reason-wrong_aud")).waitForExist({ timeout: 5_000 });
    assert((await result.getAttribute("data-accepted")) === "false", "rejected for the API");
    await shot("debugger-explain");
  });

  await step("a failing sign-in (unregistered redirect URI) shows the reason, and its fix button adds the URI", async () => {
    execFileSync(CLI, ["clients", "create", "--name", "My App", "--id", "my-app", "--redirect-uri", "https://app.example.com/callback", "--data-dir", DATA_DIR]);
    await nav("clients");
    const row = await $t("client-row-my-app");
    await row.waitForExist({ timeout: 10_000 });
    await row.click();
    await (await $t("client-try")).click();
    await (await $t("view-debugger")).waitForExist({ timeout: 10_000 });
    await browser.waitUntil(async () => (await (await $t("trial-client")).getValue()) === "my-app", { timeout: 5_000 });
    await choose("trial-flow", "authorization_code");
    await (await $t("trial-start")).click();
    const trial = await $t("trial");
    await browser.waitUntil(async () => (await trial.isExisting()) && (await trial.getAttribute("data-state")) === "failed", {
      timeout: 20_000,
      timeoutMsg: "the trial did not fail",
    });
    const reason = await text(await $t("trial-error-authorize"));
    assert(reason.includes("is not registered for client 'my-app'"), `the provider's reason: ${reason}`);
    await (await $t("trial-error-authorize")).scrollIntoView({ block: "center" });
    await shot("debugger-fix");
    await (await $t("trial-fix-add_redirect_uri")).click();
    let added;
    await browser.waitUntil(
      async () => {
        const c = JSON.parse(execFileSync(CLI, ["clients", "show", "my-app", "--json", "--data-dir", DATA_DIR], { encoding: "utf8" }));
        added = c.redirect_uris.find((u) => u.startsWith("http://127.0.0.1:"));
        return !!added;
      },
      { timeout: 10_000, timeoutMsg: "the fix did not add the loopback redirect URI" },
    );
    assert(/^http:\/\/127\.0\.0\.1:\d+\/callback$/.test(added), `added ${added}`);
    // Tried again, the request now goes to the browser with that URI.
    await (await $t("trial-start")).click();
    const url = new URL(await authorizeUrl());
    assert(url.searchParams.get("redirect_uri") === added, `the retry uses ${added}: ${url}`);
    await (await $t("trial-cancel")).click();
    await browser.waitUntil(async () => (await trial.getAttribute("data-state")) === "cancelled", { timeout: 10_000 });
  });

  await step("a refused authorization request in the timeline sits beside the client's registration, with the fix", async () => {
    const bad = new URL(`${issuer}/authorize`);
    for (const [k, v] of Object.entries({ response_type: "code", client_id: "my-app", redirect_uri: "http://127.0.0.1:9/elsewhere", scope: "openid" }))
      bad.searchParams.set(k, v);
    const page = await request(bad.href, { ca: dataCa() });
    assert(page.status === 400, `refused on the page: ${page.status}`);
    await nav("requests");
    const row = await browser.$('[data-testid^="request-row-"][data-status="rejected"]');
    await row.waitForExist({ timeout: 10_000 });
    await (await row.$("button")).click();
    const id = (await row.getAttribute("data-testid")).slice("request-row-".length);
    const cmp = await $t(`request-compare-${id}`);
    await cmp.waitForExist({ timeout: 10_000 });
    const redirect = await $t("compare-row-redirect_uri");
    assert((await redirect.getAttribute("data-differs")) === "true", "the redirect URI is highlighted");
    assert((await text(redirect)).includes("https://app.example.com/callback"), "beside the registered URIs");
    await shot("requests-compare");
    await (await $t("compare-fix-add_redirect_uri")).click();
    await browser.waitUntil(
      async () =>
        JSON.parse(execFileSync(CLI, ["clients", "show", "my-app", "--json", "--data-dir", DATA_DIR], { encoding: "utf8" })).redirect_uris.includes(
          "http://127.0.0.1:9/elsewhere",
        ),
      { timeout: 10_000, timeoutMsg: "the timeline's fix did not add the URI" },
    );
    await nav("clients");
  });

  await step("create a client through the form", async () => {
    await (await $t("client-new")).click();
    await (await $t("client-form")).waitForDisplayed({ timeout: 10_000 });
    await type("client-name-input", CLIENT_NAME);
    await type("client-id-input", CLIENT_ID);
    await type("client-redirect-uris-input", "http://127.0.0.1:5000/callback");
    const cc = await $t("client-grant-client_credentials");
    // The checkbox is styled inside its label; click the label as a person would.
    if (!(await cc.isSelected())) {
      const label = await cc.parentElement();
      // Keep it clear of the form's sticky footer.
      await label.scrollIntoView({ block: "center" });
      await label.click();
    }
    assert(await cc.isSelected(), "client_credentials is checked");
    await shot("client-new");
    await (await $t("client-save")).click();
    await (await $t(`client-row-${CLIENT_ID}`)).waitForExist({ timeout: 10_000 });
    await browser.waitUntil(async () => (await text(await $t("client-detail-name"))).includes(CLIENT_NAME), {
      timeout: 10_000,
      timeoutMsg: "the new client's detail is not shown",
    });
  });

  await step("the client is listed, and its secret can be revealed", async () => {
    const row = await $t(`client-row-${CLIENT_ID}`);
    assert((await text(row)).includes(CLIENT_NAME), "row shows the name");
    await (await $t("client-secret-reveal")).click();
    const value = await $t("client-secret-value");
    await browser.waitUntil(async () => (await value.getAttribute("data-revealed")) === "true", { timeout: 5_000 });
    secret = await text(value);
    assert(secret.length >= 20, "a generated secret");
    // Hide it again before the screenshot for the README.
    await (await $t("client-secret-reveal")).click();
    await shot("clients");
  });

  await step("the CLI sees the client in the same data directory", async () => {
    const out = execFileSync(CLI, ["clients", "list", "--json", "--data-dir", DATA_DIR], { encoding: "utf8" });
    const clients = JSON.parse(out);
    const c = clients.find((x) => x.client_id === CLIENT_ID);
    assert(c, `${CLIENT_ID} in ${out}`);
    assert(c.name === CLIENT_NAME, "same name");
    assert(c.grant_types.includes("client_credentials"), "client_credentials allowed");
    assert(c.client_secret === secret, "the window showed the stored secret");
  });

  await step("export the CA from the Certificates view", async () => {
    await nav("certificates");
    await (await $t("cert-ca")).waitForDisplayed({ timeout: 10_000 });
    await (await $t("cert-export-pem")).click();
    const saved = await $t("cert-exported-pem");
    await saved.waitForDisplayed({ timeout: 10_000 });
    const file = await text(saved);
    assert(file === path.join(EXPORT_DIR, "authdesk-ca.pem"), `exported to ${file}`);
    caPem = fs.readFileSync(file, "utf8");
    assert(caPem.includes("BEGIN CERTIFICATE"), "a PEM certificate");
  });

  await step("install the CA in the NSS database from the Certificates view, and remove it", async () => {
    // HOME, AUTHDESK_TRUST_ROOT and AUTHDESK_JAVA_HOMES are the test's (scripts/desktop-e2e.sh).
    const status = () =>
      JSON.parse(execFileSync(CLI, ["ca", "status", "--json", "--data-dir", DATA_DIR], { encoding: "utf8" }));
    const nss = await $t("trust-store-nss");
    await browser.waitUntil(async () => (await nss.getAttribute("data-state")) === "not_trusted", {
      timeout: 20_000,
      timeoutMsg: "the NSS database is not listed as not trusted",
    });
    await (await $t("trust-install-nss")).click();
    await browser.waitUntil(async () => (await nss.getAttribute("data-state")) === "trusted", {
      timeout: 20_000,
      timeoutMsg: "Install did not make the NSS database trust the CA",
    });
    assert(status().stores[1].state === "trusted", "the CLI sees the CA in the NSS database");
    await shot("certificates");
    await (await $t("trust-remove-nss")).click();
    await browser.waitUntil(async () => (await nss.getAttribute("data-state")) === "not_trusted", {
      timeout: 20_000,
      timeoutMsg: "Remove did not take the CA out",
    });
    assert(status().stores[1].state === "not_trusted", "the CLI sees it removed");
  });

  await step("a token is issued to the client over TLS trusting only the exported CA", async () => {
    const res = await postForm(
      `${issuer}/token`,
      { grant_type: "client_credentials", scope: "profile" },
      { ca: caPem, user: CLIENT_ID, password: secret },
    );
    assert(res.status === 200, `token: ${res.status} ${JSON.stringify(res.json)}`);
    accessToken = res.json.access_token;
    assert(typeof accessToken === "string" && accessToken.length > 20, "an access token");
    const intro = await postForm(`${issuer}/introspect`, { token: accessToken }, { ca: caPem, user: CLIENT_ID, password: secret });
    assert(intro.json.active === true, `fresh token is active: ${JSON.stringify(intro.json)}`);
  });

  await step("rotate the ES256 key in the Certificates view: the old key stays published", async () => {
    const keys = () =>
      JSON.parse(execFileSync(CLI, ["keys", "list", "--json", "--data-dir", DATA_DIR], { encoding: "utf8" }));
    const oldKid = keys().find((k) => k.alg === "ES256" && k.state === "active").kid;
    await nav("certificates");
    const oldRow = await $t(`key-${oldKid}`);
    await oldRow.waitForExist({ timeout: 10_000 });
    await (await $t("keys-alg")).selectByAttribute("value", "ES256");
    await (await $t("keys-rotate")).click();
    await browser.waitUntil(async () => (await oldRow.getAttribute("data-state")) === "published", {
      timeout: 20_000,
      timeoutMsg: "the rotated key is not shown as published",
    });
    const after = keys();
    const active = after.find((k) => k.alg === "ES256" && k.state === "active");
    assert(active && active.kid !== oldKid, `a new active ES256 key: ${JSON.stringify(after)}`);
    assert(after.find((k) => k.kid === oldKid).state === "published", "the CLI sees the old key published");
    // The token signed by the old key still introspects active while the key is published.
    const intro = await postForm(`${issuer}/introspect`, { token: accessToken }, { ca: caPem, user: CLIENT_ID, password: secret });
    assert(intro.json.active === true, `the old key's token is still active: ${JSON.stringify(intro.json)}`);
  });

  await step("the token shows in the Tokens view and is revoked there", async () => {
    await nav("tokens");
    const rowSel = '[data-testid^="token-row-"]';
    await browser.waitUntil(async () => (await browser.$$(rowSel)).length > 0, {
      timeout: 10_000,
      timeoutMsg: "no token row",
    });
    const rows = await browser.$$(rowSel);
    let found = false;
    for (const row of rows) {
      // WebKitWebDriver finds no click point on a <tr>; click one of its cells.
      await (await row.$("td:nth-child(2)")).click();
      const value = await $t("token-value");
      await value.waitForExist({ timeout: 10_000 });
      await browser.waitUntil(async () => (await text(value)).length > 0, { timeout: 5_000 });
      if ((await text(value)).replace(/\s+/g, "") === accessToken) {
        found = true;
        break;
      }
    }
    assert(found, "a row holds the issued token");
    assert((await text(await $t("token-detail-state"))).toLowerCase().includes("active"), "active before");
    await shot("tokens");
    await (await $t("token-revoke")).click();
    const confirm = await $t("confirm-ok");
    if (await confirm.isDisplayed()) await confirm.click();
    await browser.waitUntil(
      async () => (await text(await $t("token-detail-state"))).toLowerCase().includes("revoked"),
      { timeout: 10_000, timeoutMsg: "the detail never said revoked" },
    );
    await shot("tokens-revoked");
  });

  await step("Generate token in the Tokens view mints a token with extra claims, which introspects active", async () => {
    await nav("tokens");
    await (await $t("tokens-generate")).click();
    await (await $t("mint-form")).waitForExist({ timeout: 10_000 });
    await choose("mint-client", CLIENT_ID);
    // Set as an input event, as the debugger's step does (WebKitWebDriver's keystrokes
    // into a textarea may not reach Svelte).
    await browser.execute(
      (e, v) => {
        e.value = v;
        e.dispatchEvent(new Event("input", { bubbles: true }));
      },
      await $t("mint-claims"),
      '{"tenant": "acme"}',
    );
    await (await $t("mint-submit")).click();
    const payload = await $t("mint-access-payload");
    await payload.waitForExist({ timeout: 20_000, timeoutMsg: "no decoded access token" });
    const claims = JSON.parse(await text(payload));
    assert(claims.tenant === "acme", `the extra claim: ${JSON.stringify(claims)}`);
    assert(claims.client_id === CLIENT_ID && claims.iss === issuer, `minted for the client: ${JSON.stringify(claims)}`);
    const response = JSON.parse(await text(await $t("mint-response")));
    const intro = await postForm(
      `${issuer}/introspect`,
      { token: response.access_token },
      { ca: caPem, user: CLIENT_ID, password: secret },
    );
    assert(intro.json.active === true, `the minted token is stored and active: ${JSON.stringify(intro.json)}`);
    await shot("generate-token");
    await (await $t("mint-close")).click();
  });

  await step("introspection says the revoked token is inactive", async () => {
    const intro = await postForm(`${issuer}/introspect`, { token: accessToken }, { ca: caPem, user: CLIENT_ID, password: secret });
    assert(intro.status === 200, `introspect ${intro.status}`);
    assert(intro.json.active === false, `after revocation: ${JSON.stringify(intro.json)}`);
  });

  await step("an authorization request waits for consent in the window and is approved there", async () => {
    const verifier = b64url(crypto.randomBytes(32));
    const challenge = b64url(crypto.createHash("sha256").update(verifier).digest());
    const redirectUri = "http://127.0.0.1:5000/callback";
    const authorize = new URL(`${issuer}/authorize`);
    for (const [k, v] of Object.entries({
      response_type: "code",
      client_id: CLIENT_ID,
      redirect_uri: redirectUri,
      scope: "openid profile email",
      state: "e2e-state",
      nonce: "e2e-nonce",
      code_challenge: challenge,
      code_challenge_method: "S256",
      login_hint: "bob",
    }))
      authorize.searchParams.set(k, v);
    const page = await request(authorize.href, { ca: caPem });
    assert(page.status === 200, `consent page: ${page.status}`);
    const requestId = /request_id=([A-Za-z0-9_-]+)/.exec(page.text)?.[1];
    assert(requestId, "the consent page names its request");

    await nav("requests");
    const panel = await $t(`consent-${requestId}`);
    await panel.waitForDisplayed({ timeout: 10_000 });
    assert((await text(panel)).includes(CLIENT_NAME), "the consent names the client");
    await shot("requests-consent");

    // The browser page long-polls for the decision; the window decides.
    const waiting = request(`${issuer}/authorize/wait?request_id=${requestId}`, { ca: caPem });
    await browser.pause(300);
    await (await $t(`consent-approve-${requestId}`)).click();
    const outcome = JSON.parse((await waiting).text);
    assert(outcome.done === true && outcome.redirect, `decision reached the page: ${JSON.stringify(outcome)}`);
    const callback = new URL(outcome.redirect);
    assert(callback.href.startsWith(redirectUri), `redirected to ${callback.href}`);
    assert(callback.searchParams.get("state") === "e2e-state", "state comes back");
    assert(callback.searchParams.get("iss") === issuer, "RFC 9207 iss");
    const code = callback.searchParams.get("code");
    assert(code, "a code");

    const res = await postForm(
      `${issuer}/token`,
      { grant_type: "authorization_code", code, redirect_uri: redirectUri, code_verifier: verifier },
      { ca: caPem, user: CLIENT_ID, password: secret },
    );
    assert(res.status === 200, `code exchange: ${res.status} ${JSON.stringify(res.json)}`);
    assert(res.json.id_token && res.json.access_token, "an ID token and an access token");
    const claims = JSON.parse(Buffer.from(res.json.id_token.split(".")[1], "base64url").toString());
    assert(claims.nonce === "e2e-nonce", "nonce in the ID token");
    assert(claims.email === "bob@example.com", `approved as the hinted persona: ${claims.email}`);
    await (await $t(`consent-${requestId}`)).waitForExist({ reverse: true, timeout: 10_000 });
  });

  await step("a second request denied in the window sends access_denied to the client", async () => {
    const redirectUri = "http://127.0.0.1:5000/callback";
    const authorize = new URL(`${issuer}/authorize`);
    for (const [k, v] of Object.entries({
      response_type: "code",
      client_id: CLIENT_ID,
      redirect_uri: redirectUri,
      scope: "openid",
      state: "e2e-deny",
    }))
      authorize.searchParams.set(k, v);
    const page = await request(authorize.href, { ca: caPem });
    assert(page.status === 200, `consent page: ${page.status}`);
    const requestId = /request_id=([A-Za-z0-9_-]+)/.exec(page.text)?.[1];
    assert(requestId, "the consent page names its request");
    await nav("requests");
    const panel = await $t(`consent-${requestId}`);
    await panel.waitForDisplayed({ timeout: 10_000 });
    const waiting = request(`${issuer}/authorize/wait?request_id=${requestId}`, { ca: caPem });
    await browser.pause(300);
    await (await $t(`consent-deny-${requestId}`)).click();
    const confirm = await $t("confirm-ok");
    if (await confirm.isExisting() && (await confirm.isDisplayed())) await confirm.click();
    const outcome = JSON.parse((await waiting).text);
    assert(outcome.done === true && outcome.redirect, `decision reached the page: ${JSON.stringify(outcome)}`);
    const callback = new URL(outcome.redirect);
    assert(callback.searchParams.get("error") === "access_denied", `denied: ${callback.href}`);
    assert(callback.searchParams.get("state") === "e2e-deny", "state comes back");
    assert(callback.searchParams.get("iss") === issuer, "RFC 9207 iss");
    assert(!callback.searchParams.get("code"), "no code after a denial");
    await (await $t(`consent-${requestId}`)).waitForExist({ reverse: true, timeout: 10_000 });
  });

  await step("a failed token request shows its reason in the Requests view", async () => {
    const bad = await postForm(
      `${issuer}/token`,
      { grant_type: "client_credentials" },
      { ca: caPem, user: CLIENT_ID, password: "wrong-secret" },
    );
    assert(bad.status === 401 && bad.json.error === "invalid_client", `bad secret: ${JSON.stringify(bad.json)}`);
    const row = await browser.$('[data-testid^="request-row-"][data-status="rejected"]');
    await row.waitForExist({ timeout: 10_000 });
    await (await row.$("button")).click();
    const id = (await row.getAttribute("data-testid")).slice("request-row-".length);
    const error = await $t(`request-error-${id}`);
    await error.waitForDisplayed({ timeout: 10_000 });
    assert((await text(error)).length > 20, "a plain-language reason");
    await shot("requests");
  });

  await step("a fault rule added in the Faults view fails the next token request, marked in the timeline", async () => {
    await nav("faults");
    await (await $t("faults-empty")).waitForExist({ timeout: 10_000 });
    // The form's default: the next token request gets invalid_grant; only this client's.
    await type("fault-client", CLIENT_ID);
    await (await $t("fault-add")).click();
    const row = await browser.$('[data-testid^="fault-row-"]');
    await row.waitForExist({ timeout: 10_000 });
    await (await $t("faults-banner")).waitForDisplayed({ timeout: 10_000 });
    assert(execFileSync(CLI, ["faults", "list", "--data-dir", DATA_DIR], { encoding: "utf8" }).includes(CLIENT_ID),
      "the CLI lists the window's rule");
    await shot("faults");
    const res = await postForm(
      `${issuer}/token`,
      { grant_type: "client_credentials" },
      { ca: caPem, user: CLIENT_ID, password: secret },
    );
    assert(res.status === 400 && res.json.error === "invalid_grant", `injected: ${JSON.stringify(res.json)}`);
    await nav("requests");
    const marked = await browser.$('[data-testid^="request-injected-"]');
    await marked.waitForExist({ timeout: 10_000 });
    assert((await text(marked)).startsWith("injected by rule"), `the mark: ${await text(marked)}`);
    const again = await postForm(
      `${issuer}/token`,
      { grant_type: "client_credentials" },
      { ca: caPem, user: CLIENT_ID, password: secret },
    );
    assert(again.status === 200, `the rule was for one request: ${JSON.stringify(again.json)}`);
    await nav("faults");
    await (await $t("faults-clear-all")).click();
    await (await $t("faults-empty")).waitForExist({ timeout: 10_000 });
    await (await $t("faults-banner")).waitForExist({ reverse: true, timeout: 10_000 });
  });

  await step("screenshots of the other views", async () => {
    await nav("users");
    await (await $t("user-row-alice")).waitForExist({ timeout: 10_000 });
    await (await $t("user-row-alice")).click();
    await shot("users");
    await nav("settings");
    await (await $t("settings-form")).waitForExist({ timeout: 10_000 });
    await shot("settings");
    await nav("clients");
    await (await $t(`client-row-${CLIENT_ID}`)).click();
    await (await $t("client-tab-snippets")).click();
    await (await $t("snippet-code")).waitForExist({ timeout: 10_000 });
    const code = await text(await $t("snippet-code"));
    assert(code.includes(CLIENT_ID) && code.includes(issuer), "the snippet names the client and the issuer");
    await shot("client-snippets");
  });

  await step("every snippet the window shows parses in its language", async () => {
    // Checked with the interpreters at hand; the Rust one is checked for its shape.
    const checkers = {
      python: ["python3", ["-c", "import ast, sys; ast.parse(sys.stdin.read())"]],
      "python-requests-oauthlib": ["python3", ["-c", "import ast, sys; ast.parse(sys.stdin.read())"]],
      node: [process.execPath, ["--input-type=module", "--check"]],
      curl: ["bash", ["-n"]],
    };
    const tabs = await browser.$$('[data-testid^="snippet-tab-"]');
    assert(tabs.length === 5, `five snippets, got ${tabs.length}`);
    for (const tab of tabs) {
      const lang = (await tab.getAttribute("data-testid")).slice("snippet-tab-".length);
      await tab.click();
      await browser.waitUntil(async () => (await tab.getAttribute("aria-selected")) === "true", { timeout: 5_000 });
      const code = await text(await $t("snippet-code"));
      assert(code.includes(CLIENT_ID), `${lang} names the client`);
      assert(code.includes(path.join(DATA_DIR, "tls", "ca.pem")), `${lang} points at the CA`);
      const checker = checkers[lang];
      if (checker) {
        try {
          execFileSync(checker[0], checker[1], { input: code, stdio: ["pipe", "ignore", "pipe"] });
        } catch (e) {
          throw new Error(`${lang} snippet does not parse: ${e.stderr}\n${code}`);
        }
      } else {
        assert(lang === "rust" && code.includes("#[tokio::main]") && code.includes("request_async(&http)"), lang);
      }
    }
  });
} catch {
  // Reported by the step that failed; the later steps depend on it.
  await browser.saveScreenshot(path.join(SHOTS, "failure.png")).catch(() => {});
} finally {
  await browser.deleteSession().catch(() => {});
}

console.log(`\n${counts.passed} passed, ${counts.failed} failed (window test, ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
process.exit(counts.failed ? 1 : 0);
