#!/usr/bin/env node
/**
 * Screenshots of every view in headless Chromium, with the in-memory mock backend
 * (scripts/mock-backend.ts) standing in for the Rust core.
 *
 *   npm --prefix ui run screenshot                 # all shots → ui/screenshots/
 *   npm --prefix ui run screenshot -- --only tokens,clients
 *   npm --prefix ui run screenshot -- --out /tmp/shots --no-build
 *
 * Env: CHROMIUM (default /usr/bin/chromium). Exits non-zero when a page logs an
 * uncaught error or a shot's selector never appears.
 */
import { mkdir, mkdtemp, rm, access } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build, preview } from "vite";
import { chromium } from "playwright-core";

const root = fileURLToPath(new URL("..", import.meta.url));
const argv = process.argv.slice(2);
const flag = (name) => argv.includes(`--${name}`);
const option = (name) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const outDir = resolve(option("out") ?? join(root, "screenshots"));
const only = option("only")?.split(",");
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";

const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ipc: http://ipc.localhost";

const sel = (id) => `[data-testid="${id}"]`;

/** Each shot: a route, mock options, optional interactions, and what to wait for. */
const SHOTS = [
  {
    name: "clients",
    route: "clients",
    act: async (p) => {
      await p.click(sel("client-row-acme-web"));
      await p.waitForSelector(sel("client-secret-value"));
    },
  },
  {
    name: "client-new",
    route: "clients",
    act: async (p) => {
      await p.click(sel("client-new"));
      await p.fill(sel("client-name-input"), "Docs site");
      await p.fill(sel("client-redirect-uris-input"), "http://localhost:4000/callback\nhttp://docs.acme.test/callback");
      await p.waitForSelector(sel("field-error-redirect_uris"));
    },
  },
  {
    name: "client-settings",
    route: "clients",
    height: 1100,
    act: async (p) => {
      await p.click(sel("client-row-com.acme.mobile"));
      await p.click(sel("client-tab-settings"));
      await p.waitForSelector(sel("client-form"));
    },
  },
  {
    name: "client-snippets",
    route: "clients",
    act: async (p) => {
      await p.click(sel("client-row-acme-web"));
      await p.click(sel("client-tab-snippets"));
      await p.waitForSelector(sel("snippet-code"));
    },
  },
  {
    name: "requests",
    route: "requests",
    act: async (p) => {
      await p.waitForSelector(sel("consent-panel"));
      await p.click(`${sel("request-row-rq_0004")} button`);
      await p.waitForSelector(sel("request-detail-rq_0004"));
    },
  },
  {
    name: "tokens",
    route: "tokens",
    act: async (p) => {
      await p.click(sel("token-row-tk_01HZX4A7Q2"));
      await p.waitForSelector(sel("token-claims"));
    },
  },
  {
    name: "users",
    route: "users",
    act: async (p) => {
      await p.click(sel("user-row-carol"));
      await p.waitForSelector(sel("user-form"));
    },
  },
  {
    name: "certificates",
    route: "certificates",
    height: 1250,
    act: async (p) => {
      await p.waitForSelector(sel("cert-ca"));
      for (const f of ["pem", "bundle", "p12"]) {
        await p.click(sel(`cert-export-${f}`));
        await p.waitForSelector(sel(`cert-exported-${f}`));
      }
    },
  },
  {
    name: "settings",
    route: "settings",
    act: async (p) => {
      await p.fill(sel("settings-port-input"), "9443");
      await p.click(sel("settings-save"));
      await p.waitForSelector(sel("settings-restart-banner"));
    },
  },
  {
    name: "user-consents",
    route: "users",
    act: async (p) => {
      await p.click(sel("user-row-alice"));
      await p.locator(sel("user-consents")).scrollIntoViewIfNeeded();
    },
  },
  {
    name: "settings-scopes",
    route: "settings",
    act: async (p) => {
      await p.fill(sel("scope-name-input"), "orders.read");
      await p.fill(sel("scope-description-input"), "Read your orders");
      await p.locator(sel("settings-scopes")).scrollIntoViewIfNeeded();
    },
  },
  {
    name: "settings-records",
    route: "settings",
    act: async (p) => {
      await p.click(sel("settings-records-import"));
      await p.locator(sel("settings-records")).scrollIntoViewIfNeeded();
    },
  },
  { name: "port-in-use", route: "clients", mock: { state: "port_in_use" }, wait: "port-banner" },
  { name: "empty-clients", route: "clients", mock: { empty: true }, wait: "clients-empty" },
  {
    name: "clients-dark",
    route: "clients",
    mock: { theme: "dark" },
    act: async (p) => {
      await p.click(sel("client-row-acme-web"));
      await p.waitForSelector(sel("client-secret-value"));
    },
  },
  {
    name: "tokens-dark",
    route: "tokens",
    mock: { theme: "dark" },
    act: async (p) => {
      await p.click(sel("token-row-tk_01HZX4A7Q2"));
      await p.waitForSelector(sel("token-claims"));
    },
  },
  {
    name: "requests-dark",
    route: "requests",
    mock: { theme: "dark" },
    act: async (p) => {
      await p.click(`${sel("request-row-rq_0008")} button`);
      await p.waitForSelector(sel("request-detail-rq_0008"));
    },
  },
];

async function exists(path) {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

async function bundleMock() {
  const result = await build({
    root,
    configFile: false,
    logLevel: "warn",
    publicDir: false,
    build: {
      write: false,
      minify: false,
      target: "es2022",
      lib: { entry: join(root, "scripts/mock-backend.ts"), formats: ["iife"], name: "AuthdeskMock" },
    },
  });
  const outputs = Array.isArray(result) ? result : [result];
  const chunk = outputs.flatMap((o) => o.output).find((o) => o.type === "chunk");
  if (!chunk) throw new Error("mock bundle produced no chunk");
  return chunk.code;
}

async function main() {
  if (!flag("no-build") || !(await exists(join(root, "dist/index.html")))) {
    await build({ root, logLevel: "warn" });
  }
  const mockCode = await bundleMock();
  // Serve with a CSP as strict as a Tauri app's, so inline styles or scripts show up as page errors.
  const server = await preview({
    root,
    logLevel: "warn",
    preview: { host: "127.0.0.1", port: 4173, strictPort: false, headers: { "Content-Security-Policy": CSP } },
  });
  const base = server.resolvedUrls?.local[0] ?? "http://127.0.0.1:4173/";
  await mkdir(outDir, { recursive: true });

  const userDataDir = await mkdtemp(join(tmpdir(), "authdesk-shots-"));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    viewport: { width: 1280, height: 800 },
    colorScheme: "light",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });

  const failures = [];
  try {
    for (const shot of SHOTS) {
      if (only && !only.includes(shot.name)) continue;
      const page = await context.newPage();
      const errors = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      page.on("console", (m) => {
        if (m.type() === "error") errors.push(m.text());
      });
      await page.setViewportSize({ width: 1280, height: shot.height ?? 800 });
      await page.addInitScript(`${mockCode}\nAuthdeskMock.install(${JSON.stringify(shot.mock ?? {})});`);
      try {
        await page.goto(`${base}#/${shot.route}`);
        await page.waitForSelector(sel(`view-${shot.route}`));
        await page.waitForSelector(sel("provider-state"));
        if (shot.wait) await page.waitForSelector(sel(shot.wait));
        if (shot.act) await shot.act(page);
        await page.waitForTimeout(150);
        const file = join(outDir, `${shot.name}.png`);
        await page.screenshot({ path: file });
        console.log(`${errors.length ? "!" : "✓"} ${shot.name} → ${file}`);
      } catch (e) {
        failures.push(`${shot.name}: ${e.message.split("\n")[0]}`);
        console.log(`✗ ${shot.name}: ${e.message.split("\n")[0]}`);
      }
      for (const err of errors) failures.push(`${shot.name}: page error: ${err}`);
      await page.close();
    }
  } finally {
    await context.close();
    await server.close();
    await rm(userDataDir, { recursive: true, force: true });
  }
  if (failures.length) {
    console.error(`\n${failures.length} problem(s):\n  ${failures.join("\n  ")}`);
    process.exit(1);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
