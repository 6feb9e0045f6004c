// The app's life in the tray, on the real binary under Xvfb (no WebDriver: the point is
// what happens when there is no window). Run by scripts/desktop-e2e.sh after the window
// test, with DISPLAY, HOME and the XDG dirs set to throwaway ones.
//
// With start_minimized the app starts with the provider and no window, so no WebKit
// process. A second launch opens the window; closing it (WM_DELETE_WINDOW, what a
// window manager's close button sends) destroys the web view, so WebKit's web process
// exits, while the app and its provider keep running; a further launch opens it again.

import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import https from "node:https";
import net from "node:net";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { assert, env, steps } from "./steps.mjs";

const APP = env("AUTHDESK_APP");
const WORK = env("TRAY_WORK");
const DISPLAY = env("DISPLAY");
const HERE = path.dirname(new URL(import.meta.url).pathname);

const { step, counts } = steps();
async function waitFor(what, fn, timeoutMs = 30_000) {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

const freePort = () =>
  new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });

/** The visible top-level windows titled "Authdesk". */
function visibleWindows() {
  try {
    const out = execFileSync("xdotool", ["search", "--onlyvisible", "--name", "^Authdesk$"], {
      encoding: "utf8",
      env: { ...process.env, DISPLAY },
    });
    return out.split("\n").filter(Boolean);
  } catch {
    return []; // xdotool exits 1 when nothing matches
  }
}

/** The process's descendants, as { pid, comm }. */
function descendants(root) {
  const children = new Map();
  for (const pid of fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push({ pid: Number(pid), comm });
    } catch {} // gone meanwhile
  }
  const out = [];
  const walk = (p) => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c.pid);
    }
  };
  walk(root);
  return out;
}
const webProcesses = (pid) => descendants(pid).filter((p) => p.comm.startsWith("WebKitWebProces"));
const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

function get(url, ca) {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode));
      })
      .on("error", reject);
  });
}

const dataDir = path.join(WORK, "data");
fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
fs.writeFileSync(path.join(dataDir, "settings.json"), JSON.stringify({ settings: { start_minimized: true } }));
const port = await freePort();
const busFile = path.join(WORK, "bus");
const appEnv = { ...process.env, AUTHDESK_DATA_DIR: dataDir, AUTHDESK_PORT: String(port) };
const logFd = fs.openSync(path.join(WORK, "app.log"), "a");

// The first instance on its own session bus; later launches join that bus, so the
// single-instance plugin hands them over to the first.
const session = spawn(
  "dbus-run-session",
  ["--", "sh", "-c", 'printf %s "$DBUS_SESSION_BUS_ADDRESS" > "$0"; exec "$1"', busFile, APP],
  { env: appEnv, stdio: ["ignore", logFd, logFd], detached: true },
);
let appPid;
const launchAgain = () =>
  execFileSync(APP, [], {
    env: { ...appEnv, DBUS_SESSION_BUS_ADDRESS: fs.readFileSync(busFile, "utf8") },
    stdio: ["ignore", logFd, logFd],
    timeout: 30_000,
  });
const providerAnswers = async () => {
  const ca = fs.readFileSync(path.join(dataDir, "tls", "ca.pem"));
  return (await get(`https://localhost:${port}/.well-known/openid-configuration`, ca)) === 200;
};

try {
  await step("started minimized: the provider runs, with no window and no WebKit process", async () => {
    appPid = await waitFor("the app process", () => descendants(session.pid).find((p) => p.comm.startsWith("authdesk-deskto"))?.pid);
    await waitFor("the provider", () => providerAnswers().catch(() => false));
    await sleep(1000); // a window or web process would have appeared by now
    assert(visibleWindows().length === 0, "no window is shown");
    assert(webProcesses(appPid).length === 0, `no WebKit web process runs: ${JSON.stringify(descendants(appPid))}`);
  });

  await step("a second launch opens the window", async () => {
    launchAgain();
    await waitFor("a visible Authdesk window", () => visibleWindows().length === 1);
    await waitFor("a WebKit web process", () => webProcesses(appPid).length > 0);
    assert(alive(appPid), "the first instance still runs");
  });

  await step("closing the window leaves the app in the tray and ends the web process", async () => {
    execFileSync("python3", [path.join(HERE, "wm-close.py"), DISPLAY, visibleWindows()[0]]);
    await waitFor("the window to go", () => visibleWindows().length === 0, 10_000);
    await waitFor("the web process to exit", () => webProcesses(appPid).length === 0, 20_000);
    assert(alive(appPid), "the app keeps running after its window closed");
    assert(await providerAnswers(), "the provider still answers");
  });

  await step("a further launch opens the window again", async () => {
    launchAgain();
    await waitFor("a visible Authdesk window", () => visibleWindows().length === 1);
  });

  await step("SIGTERM stops the app", async () => {
    process.kill(appPid, "SIGTERM");
    await waitFor("the app to exit", () => !alive(appPid), 15_000);
  });
} finally {
  try {
    process.kill(-session.pid, "SIGKILL");
  } catch {}
  fs.closeSync(logFd);
}
console.log(`tray test: ${counts.passed} steps passed`);
