// Shared by every test file of the JS client-library suite: a real `authdesk serve` on a
// new data directory, its CA exported, and a fetch that trusts that CA and nothing else
// (certificate errors are never ignored). Started by run.sh.

import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { createInterface } from "node:readline";
import { Agent, fetch as undiciFetch } from "undici";

const BIN = process.env.AUTHDESK_BIN;
if (!BIN) throw new Error("AUTHDESK_BIN is not set; run the suite through tests/js/run.sh");
/** examples/seed.yaml: clients web-app, spa, …; personas alice and bob (password "password"). */
export const SEED = process.env.AUTHDESK_SEED;
/** How long a provider may take to print its issuer; exceeding it fails, it measures nothing. */
const START_TIMEOUT_MS = 120_000;

/**
 * Starts `authdesk serve --port 0` on a new data directory.
 * @param {{seed?: boolean|string, args?: string[]}} options seed: true for examples/seed.yaml,
 *   a path for another seed file, false for none; args: more `serve` arguments.
 */
export async function startProvider({ seed = true, args = [] } = {}) {
  const dataDir = mkdtempSync(join(process.env.AUTHDESK_TEST_TMP || tmpdir(), "data-"));
  const seedArgs = seed === false ? [] : ["--seed", seed === true ? SEED : seed];
  const child = spawn(BIN, ["serve", "--data-dir", dataDir, "--port", "0", ...seedArgs, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const lines = [];
  const issuer = await new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`authdesk serve printed no issuer within ${START_TIMEOUT_MS} ms:\n${stderr}`)),
      START_TIMEOUT_MS,
    );
    createInterface({ input: child.stdout }).on("line", (line) => {
      lines.push(line);
      const m = /^issuer (\S+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`authdesk serve exited (${code}) before printing its issuer:\n${stderr}`));
    });
  });
  const cli = (...cliArgs) => {
    try {
      return execFileSync(BIN, [...cliArgs, "--data-dir", dataDir], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
      });
    } catch (e) {
      const err = new Error(`authdesk ${cliArgs.join(" ")} failed (${e.status}): ${e.stderr}`);
      err.status = e.status;
      err.stderr = String(e.stderr);
      throw err;
    }
  };
  const caPath = join(dataDir, "test-ca.pem");
  cli("ca", "export", "--format", "pem", "--out", caPath);
  const ca = readFileSync(caPath, "utf8");
  const dispatcher = new Agent({ connect: { ca } });
  /** fetch that trusts this provider's CA only. */
  const fetch = (url, init = {}) => undiciFetch(url, { ...init, dispatcher });
  return {
    issuer,
    dataDir,
    ca,
    fetch,
    cli,
    /** What serve printed on stdout so far (one string per line). */
    stdout: lines,
    stderr: () => stderr,
    /** `authdesk clients create … --json`, parsed. */
    createClient: (...flags) => JSON.parse(cli("clients", "create", ...flags, "--json")),
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.on("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
      await dispatcher.close();
    },
  };
}

/**
 * Sends an authorization request the provider answers without a person (a client with
 * auto-approve, or a request that fails) and returns the redirect's Location as a URL.
 */
export async function authorize(provider, url) {
  const res = await provider.fetch(url, { redirect: "manual" });
  const location = res.headers.get("location");
  if (res.status !== 303 && res.status !== 302) {
    throw new Error(`authorization answered ${res.status}, not a redirect: ${await res.text()}`);
  }
  return new URL(location);
}
