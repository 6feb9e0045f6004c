// The Authdesk benchmark: runs the ceiling, `authdesk serve` and node-oidc-provider
// side by side, drives them with wrk, and writes bench/results/. Started by
// bench/run.sh, which installs and builds what this needs and passes the paths in
// the environment (see bench/README.md for every option).
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(BENCH);
const env = process.env;

// ---------------------------------------------------------------- configuration

function seconds(v, name) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(String(v).trim());
  if (!m) die(`${name}=${v}: give a duration like 10s, 500ms or 1m`);
  const n = Number(m[1]);
  return m[2] === 'ms' ? n / 1000 : m[2] === 'm' ? n * 60 : n;
}

function list(v) {
  return String(v).split(',').map((x) => x.trim()).filter(Boolean);
}

function int(v, name) {
  const n = Number(String(v).replace(/_/g, ''));
  if (!Number.isInteger(n) || n < 0) die(`${name}=${v}: give a whole number`);
  return n;
}

const cfg = {
  duration: seconds(env.BENCH_DURATION ?? '10s', 'BENCH_DURATION'),
  warmup: seconds(env.BENCH_WARMUP ?? '2s', 'BENCH_WARMUP'),
  runs: Math.max(1, int(env.BENCH_RUNS ?? '3', 'BENCH_RUNS')),
  concurrency: list(env.BENCH_CONCURRENCY ?? '1,16,64').map((c) => int(c, 'BENCH_CONCURRENCY')),
  heavyConcurrency: null, // set below: the concurrencies of introspection and logins
  wrkThreads: Math.max(1, int(env.BENCH_WRK_THREADS ?? '2', 'BENCH_WRK_THREADS')),
  coldstartRuns: Math.max(1, int(env.BENCH_COLDSTART_RUNS ?? '10', 'BENCH_COLDSTART_RUNS')),
  tokens: int(env.BENCH_TOKENS ?? '0', 'BENCH_TOKENS'),
  oldPercent: Math.min(95, int(env.BENCH_TOKENS_OLD_PERCENT ?? '10', 'BENCH_TOKENS_OLD_PERCENT')),
  servers: list(env.BENCH_SERVERS ?? 'ceiling,floor,authdesk,node-oidc'),
  // Extra `serve` arguments for the Authdesk servers under load, e.g. `--durability full`.
  authdeskArgs: String(env.BENCH_AUTHDESK_ARGS ?? '').split(/\s+/).filter(Boolean),
  desktop: env.BENCH_DESKTOP ?? 'auto',
  settle: seconds(env.BENCH_SETTLE ?? '2s', 'BENCH_SETTLE'),
  out: env.BENCH_OUT ?? path.join(BENCH, 'results'),
  bins: {
    authdesk: env.BENCH_AUTHDESK_BIN,
    ceiling: env.BENCH_CEILING_BIN,
    floor: env.BENCH_FLOOR_BIN,
    coldstart: env.BENCH_COLDSTART_BIN,
    desktop: env.BENCH_DESKTOP_BIN,
  },
};
cfg.heavyConcurrency = list(env.BENCH_HEAVY_CONCURRENCY ?? '16,64').map((c) => int(c, 'BENCH_HEAVY_CONCURRENCY'));
cfg.loginConcurrency = list(env.BENCH_LOGIN_CONCURRENCY ?? '1,16,64').map((c) => int(c, 'BENCH_LOGIN_CONCURRENCY'));
if ([...cfg.concurrency, ...cfg.heavyConcurrency, ...cfg.loginConcurrency].includes(0)) die('concurrencies must be at least 1');
if (!cfg.servers.includes('ceiling')) die('BENCH_SERVERS must include ceiling: every ratio is to it');
for (const k of ['authdesk', 'ceiling', 'coldstart']) {
  if (!cfg.bins[k] || !fs.existsSync(cfg.bins[k])) die(`BENCH_${k.toUpperCase()}_BIN is not a file (${cfg.bins[k]}); run bench/run.sh`);
}

const SECRET = 'service-secret-with-at-least-32-bytes!!';
const BASIC = 'Basic ' + Buffer.from(`service:${SECRET}`).toString('base64');
const TOKEN_BODY = 'grant_type=client_credentials&scope=api.read%20api.write';
const REDIRECT = 'http://127.0.0.1:8765/callback';
const VERIFIER = 'bench-pkce-verifier-0123456789-abcdefghijklmnopqrstuvwxyz';
const CHALLENGE = createHash('sha256').update(VERIFIER).digest('base64url');
const AUTHORIZE_PATH =
  `/authorize?response_type=code&client_id=spa&redirect_uri=${encodeURIComponent(REDIRECT)}` +
  `&scope=openid&state=bench&code_challenge=${CHALLENGE}&code_challenge_method=S256`;
const TOKEN_PREFIX =
  `grant_type=authorization_code&client_id=spa&redirect_uri=${encodeURIComponent(REDIRECT)}` +
  `&code_verifier=${VERIFIER}`;
const SEED = path.join(ROOT, 'examples', 'seed.yaml');
const MiB = 1024 * 1024;

// ---------------------------------------------------------------- processes

const children = new Set();
let work = null;

function log(msg) {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

function die(msg) {
  process.stderr.write(`bench: ${msg}\n`);
  cleanup();
  process.exit(2);
}

function cleanup() {
  for (const c of children) {
    try {
      process.kill(c.pid, 'SIGTERM');
    } catch {}
  }
  const deadline = Date.now() + 5000;
  for (const c of children) {
    while (Date.now() < deadline && alive(c.pid)) spawnSync('sleep', ['0.05']);
    if (alive(c.pid)) {
      try {
        process.kill(c.pid, 'SIGKILL');
      } catch {}
    }
  }
  children.clear();
  if (work && env.BENCH_KEEP_WORK !== '1') fs.rmSync(work, { recursive: true, force: true });
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    // A zombie still answers kill 0; it has exited all the same.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    log(`${sig}: stopping everything this run started`);
    cleanup();
    process.exit(130);
  });
}
process.on('uncaughtException', (e) => {
  process.stderr.write(`bench: ${e.stack || e}\n`);
  cleanup();
  process.exit(2);
});

const sleep = (s) => new Promise((r) => setTimeout(r, s * 1000));

/** Starts a server and resolves once it printed `issuer URL` / `listening URL`. */
function startServer(name, cmd, args, opts = {}) {
  const errFile = path.join(work, `${name}.stderr.log`);
  const errFd = fs.openSync(errFile, 'a');
  const child = spawn(cmd, args, {
    stdio: ['ignore', 'pipe', errFd],
    env: { ...env, ...(opts.env || {}) },
    cwd: opts.cwd || ROOT,
  });
  fs.closeSync(errFd);
  children.add(child);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    let buf = '';
    let ready = false;
    const timer = setTimeout(() => fail(`${name} printed no ready line within 60 s`), 60_000);
    function fail(msg) {
      clearTimeout(timer);
      const tail = fs.existsSync(errFile) ? fs.readFileSync(errFile, 'utf8').split('\n').slice(-15).join('\n') : '';
      reject(new Error(`${msg}\n--- ${errFile} (last lines) ---\n${tail}`));
    }
    child.on('exit', (code, sig) => {
      children.delete(child);
      if (!ready) fail(`${name} exited (${code ?? sig}) before it was ready`);
    });
    child.stdout.on('data', (d) => {
      if (ready) return; // keep draining
      buf += d;
      const m = /(?:issuer|listening) (https:\/\/[^\s]+)/.exec(buf);
      if (m) {
        ready = true;
        clearTimeout(timer);
        const url = new URL(m[1]);
        resolve({
          name,
          child,
          pid: child.pid,
          port: Number(url.port),
          base: `https://localhost:${url.port}`,
          readyMs: performance.now() - started,
          errFile,
        });
      }
    });
  });
}

async function stopServer(s) {
  if (!s || !alive(s.pid)) return;
  process.kill(s.pid, 'SIGTERM');
  for (let i = 0; i < 200 && alive(s.pid); i++) await sleep(0.05);
  if (alive(s.pid)) process.kill(s.pid, 'SIGKILL');
  children.delete(s.child);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: ROOT, maxBuffer: 64 * MiB, ...opts });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0 && !opts.allowFail) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}\n${r.stderr || ''}${r.stdout || ''}`);
  }
  return r;
}

function runAsync(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    children.add(child);
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      children.delete(child);
      resolve({ code, out, err });
    });
  });
}

// ---------------------------------------------------------------- measuring helpers

/** VmRSS and VmHWM of one process, in bytes. */
function memOf(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => Number((new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s) || [0, 0])[1]) * 1024;
    let pss = null;
    try {
      const r = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
      pss = Number((/^Pss:\s+(\d+)/m.exec(r) || [0, 0])[1]) * 1024;
    } catch {}
    return { rss: kb('VmRSS'), hwm: kb('VmHWM'), pss };
  } catch {
    return null;
  }
}

/** The process and all its descendants. */
function processTree(root) {
  const parent = new Map();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(Number(d), ppid);
    } catch {}
  }
  const tree = [root];
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, ppid] of parent) {
      if (tree.includes(ppid) && !tree.includes(pid)) {
        tree.push(pid);
        grew = true;
      }
    }
  }
  return tree.map((pid) => {
    let comm = '?';
    try {
      comm = fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch {}
    return { pid, comm, ...(memOf(pid) || { rss: 0, hwm: 0, pss: 0 }) };
  });
}

function median(xs) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

/** One HTTPS request verified against `ca`; resolves { status, headers, body }. */
function request(server, method, pathname, { body, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        servername: 'localhost',
        port: server.port,
        method,
        path: pathname,
        ca: server.ca,
        agent: false,
        headers: {
          Host: `localhost:${server.port}`,
          ...(body ? { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': Buffer.byteLength(body) } : {}),
          ...headers,
        },
        timeout: 30_000,
      },
      (res) => {
        let data = '';
        res.on('data', (d) => (data += d));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: data }));
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`${method} ${pathname}: timed out`)));
    if (body) req.write(body);
    req.end();
  });
}

async function getToken(server) {
  const r = await request(server, 'POST', '/token', { body: TOKEN_BODY, headers: { Authorization: BASIC } });
  let json = {};
  try {
    json = JSON.parse(r.body);
  } catch {}
  if (r.status !== 200 || !json.access_token) {
    throw new Error(`${server.name}: POST /token answered ${r.status}: ${r.body.slice(0, 300)}`);
  }
  return json;
}

async function introspect(server, token) {
  const r = await request(server, 'POST', server.introspectPath, {
    body: `token=${encodeURIComponent(token)}`,
    headers: { Authorization: BASIC },
  });
  if (r.status !== 200 || !/"active":true/.test(r.body)) {
    throw new Error(`${server.name}: introspection answered ${r.status}: ${r.body.slice(0, 300)}`);
  }
  return JSON.parse(r.body);
}

async function oneLogin(server) {
  const a = await request(server, 'GET', AUTHORIZE_PATH);
  const loc = a.headers.location || '';
  const code = new URL(loc, 'http://x').searchParams.get('code');
  if (a.status !== 302 || !code) {
    throw new Error(`${server.name}: GET /authorize answered ${a.status} (Location: ${loc}): ${a.body.slice(0, 300)}`);
  }
  const t = await request(server, 'POST', '/token', { body: `${TOKEN_PREFIX}&code=${encodeURIComponent(code)}` });
  if (t.status !== 200 || !/"access_token"/.test(t.body) || !/"id_token"/.test(t.body)) {
    throw new Error(`${server.name}: POST /token (authorization_code) answered ${t.status}: ${t.body.slice(0, 300)}`);
  }
  return JSON.parse(t.body);
}

/** A user's access token (from a login) that userinfo answers for with its `sub`. */
async function userToken(server) {
  const t = await oneLogin(server);
  const r = await request(server, 'POST', '/userinfo', { headers: { Authorization: `Bearer ${t.access_token}` } });
  if (r.status !== 200 || !/"sub"/.test(r.body)) {
    throw new Error(`${server.name}: POST /userinfo answered ${r.status}: ${r.body.slice(0, 300)}`);
  }
  return t.access_token;
}

/** A bad answer in one short line: an HTML page is shown by its title. */
function oneLine(text) {
  const t = String(text ?? '');
  const title = /<title>([^<]*)<\/title>/i.exec(t);
  const head = /^HTTP \d+: /.exec(t)?.[0] ?? '';
  const shown = title ? `${head}an HTML page titled "${title[1].trim()}"` : t;
  return shown.replace(/\s+/g, ' ').slice(0, 240);
}

/** One wrk run; returns the parsed BENCH_RESULT plus derived rates. */
async function wrk(server, script, c, secs, scriptArgs) {
  const threads = Math.min(c, cfg.wrkThreads);
  const args = [
    '-t', String(threads), '-c', String(c), '-d', `${Math.max(1, Math.round(secs))}s`,
    '--timeout', '10s',
    '-H', `Host: localhost:${server.port}`,
    '-s', path.join(BENCH, 'wrk', script),
    `https://127.0.0.1:${server.port}`,
    '--', ...scriptArgs,
  ];
  const r = await runAsync('wrk', args);
  const m = /BENCH_RESULT (\{.*\})/.exec(r.out);
  if (r.code !== 0 || !m) {
    return { invalid: `wrk exited ${r.code} without a result: ${(r.err || r.out).slice(0, 500)}` };
  }
  const res = JSON.parse(m[1]);
  const errs = Object.values(res.errors).reduce((a, b) => a + b, 0);
  const problems = [];
  if (res.bad > 0) problems.push(`${res.bad} bad answers (first: ${oneLine(res.first_bad)})`);
  if (errs > 0) problems.push(`wrk errors ${JSON.stringify(res.errors)}`);
  if (res.ok === 0) problems.push('no successful answer at all');
  else if (res.logins === 0) problems.push(`no login completed (${res.authorized} codes issued, token requests never answered in the run)`);
  res.invalid = problems.length ? problems.join('; ') : null;
  res.rate = res.ok / res.duration_s;
  if (res.logins !== undefined) res.loginRate = res.logins / res.duration_s;
  return res;
}

/** A measurement that failed before or around wrk is an invalid sample, not the end of the run. */
async function guarded(f) {
  try {
    return await f();
  } catch (e) {
    return { invalid: String(e.message || e).split('\n')[0] };
  }
}

// ---------------------------------------------------------------- set-up

function makePki(dir) {
  fs.mkdirSync(dir, { recursive: true });
  const o = (args) => run('openssl', args, { cwd: dir });
  o(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca-key.pem',
    '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Authdesk bench throwaway CA']);
  o(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'server-key.pem',
    '-out', 'server.csr', '-subj', '/CN=localhost']);
  fs.writeFileSync(path.join(dir, 'ext.cnf'),
    'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n');
  o(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial',
    '-out', 'server.pem', '-days', '2', '-extfile', 'ext.cnf']);
  return { ca: path.join(dir, 'ca.pem'), cert: path.join(dir, 'server.pem'), key: path.join(dir, 'server-key.pem') };
}

/** A data dir with the sample seed applied, its CA exported, and signing keys made. */
async function prepareDataDir(dir) {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  run(cfg.bins.authdesk, ['--data-dir', dir, 'import', SEED]);
  run(cfg.bins.authdesk, ['--data-dir', dir, 'ca', 'export', '--format', 'pem', '--out', path.join(dir, 'bench-ca.pem')]);
  // The first serve makes the signing keys; later starts only load them.
  const s = await startServer(`prepare-${path.basename(dir)}`, cfg.bins.authdesk, ['--data-dir', dir, 'serve', '--port', '0']);
  await stopServer(s);
  return path.join(dir, 'bench-ca.pem');
}

/**
 * Pre-fills the tokens table with `n` plausible rows (sqlite3, one transaction), while
 * no provider has the database open. The mix, of issued_at/expires_at relative to now:
 *   5 % active (issued in the last 50 min, expiring in the next hour),
 *  10 % (BENCH_TOKENS_OLD_PERCENT) expired more than a day ago (the provider's pruner
 *       deletes these at start, as after a weekend with the app closed),
 *  the rest expired within the last day (kept for the window's history);
 * 80 % access tokens (5 in 7 JWT with a ~560-byte value, the rest opaque), 20 % refresh
 * tokens (opaque, 1 in 3 rotated); 1 % revoked; the sample clients and personas.
 */
function prefillTokens(dir, n) {
  const db = path.join(dir, 'authdesk.db');
  const sql = `
PRAGMA busy_timeout = 10000;
BEGIN IMMEDIATE;
CREATE TEMP TABLE bench_now AS SELECT CAST(strftime('%s','now') AS INTEGER) AS t,
  (SELECT sub FROM users WHERE username = 'alice') AS alice,
  (SELECT sub FROM users WHERE username = 'bob') AS bob;
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ${n}),
rows AS (
  SELECT i,
    CASE WHEN i % 100 >= 95 THEN 'active' WHEN i % 100 < ${cfg.oldPercent} THEN 'old' ELSE 'recent' END AS age,
    CASE WHEN i % 5 = 0 THEN 'refresh_token' ELSE 'access_token' END AS kind,
    CASE i % 4 WHEN 0 THEN 'service' WHEN 1 THEN 'web-app' WHEN 2 THEN 'spa' ELSE 'ci-opaque' END AS client,
    abs(random()) AS r
  FROM s
)
INSERT INTO tokens (id, token_hash, kind, format, client_id, sub, grant_id, scopes,
                    issued_at, expires_at, revoked_at, rotated_at, value)
SELECT
  lower(hex(randomblob(16))),
  lower(hex(randomblob(32))),
  kind,
  CASE WHEN kind = 'access_token' AND i % 7 < 5 THEN 'jwt' ELSE 'opaque' END,
  client,
  CASE client WHEN 'service' THEN NULL ELSE CASE WHEN i % 3 = 0 THEN (SELECT bob FROM bench_now) ELSE (SELECT alice FROM bench_now) END END,
  lower(hex(randomblob(16))),
  CASE client WHEN 'service' THEN 'api.read api.write' ELSE 'openid profile email api.read' END,
  issued,
  issued + CASE kind WHEN 'refresh_token' THEN CASE age WHEN 'active' THEN 2592000 ELSE 3600 END ELSE 3600 END,
  CASE WHEN i % 100 = 7 THEN issued + 60 END,
  CASE WHEN kind = 'refresh_token' AND i % 3 = 0 THEN issued + 120 END,
  CASE WHEN kind = 'access_token' AND i % 7 < 5
       THEN 'eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCJ9.' || lower(hex(randomblob(200))) || '.' || lower(hex(randomblob(48)))
       ELSE lower(hex(randomblob(32))) END
FROM (
  SELECT *, (SELECT t FROM bench_now) - CASE age
      WHEN 'active' THEN r % 3000
      WHEN 'old' THEN 90000 + r % 2500000
      ELSE 3600 + r % 82000 END AS issued
  FROM rows
);
COMMIT;
SELECT count(*) FROM tokens;
`;
  const t0 = performance.now();
  const r = run('sqlite3', [db], { input: sql });
  const count = Number(r.stdout.trim().split('\n').pop());
  return { count, seconds: (performance.now() - t0) / 1000, bytes: fs.statSync(db).size };
}

function tokenCount(dir) {
  const r = run('sqlite3', ['-readonly', path.join(dir, 'authdesk.db'), 'PRAGMA busy_timeout=10000; SELECT count(*) FROM tokens;'], { allowFail: true });
  return Number((r.stdout || '').trim().split('\n').pop()) || null;
}

// ---------------------------------------------------------------- desktop app

function desktopBinary() {
  if (cfg.desktop === '0' || cfg.desktop === 'off') return { skip: 'BENCH_DESKTOP=0' };
  const bin = cfg.bins.desktop;
  if (!bin || !fs.existsSync(bin)) {
    return { skip: `no desktop binary at ${bin || '(unset)'}; build it with \`cargo build --release -p authdesk-desktop --features tauri/custom-protocol\` (front end in ui/dist) or set BENCH_DESKTOP_BIN` };
  }
  for (const tool of ['Xvfb', 'xdotool', 'xwd', 'dbus-run-session', 'python3']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return { skip: `${tool} is not installed` };
  }
  return { bin };
}

/** Distinct colours in an XWD dump (32-bit ZPixmap), sampled on a grid. */
function xwdColours(buf) {
  const headerSize = buf.readUInt32BE(0);
  const width = buf.readUInt32BE(16);
  const height = buf.readUInt32BE(20);
  const bitsPerPixel = buf.readUInt32BE(44);
  const bytesPerLine = buf.readUInt32BE(48);
  const ncolors = buf.readUInt32BE(76);
  if (bitsPerPixel !== 32) return 0;
  const start = headerSize + ncolors * 12;
  const seen = new Set();
  for (let y = 0; y < height; y += 3) {
    for (let x = 0; x < width; x += 3) {
      const off = start + y * bytesPerLine + x * 4;
      if (off + 4 <= buf.length) seen.add(buf.readUInt32LE(off) & 0xffffff);
    }
  }
  return seen.size;
}

function visibleWindow(display) {
  const r = spawnSync('xdotool', ['search', '--onlyvisible', '--name', '^Authdesk$'], {
    encoding: 'utf8',
    env: { ...env, DISPLAY: display },
  });
  return (r.stdout || '').trim().split('\n').filter(Boolean)[0] || null;
}

/**
 * Launches the desktop app on a fresh data dir under Xvfb. With `hidden`, the stored
 * setting start_minimized keeps the window hidden (the tray-only start); otherwise
 * waits for the window to be mapped and then painted (the window's pixels show more
 * than a handful of colours, i.e. the web view rendered the UI, not a blank surface).
 */
async function desktopLaunch(bin, display, { hidden, dir }) {
  if (hidden) {
    fs.writeFileSync(path.join(dir, 'settings.json'), JSON.stringify({ settings: { start_minimized: true } }));
  }
  const home = path.join(dir, 'home');
  fs.mkdirSync(home, { recursive: true });
  const errFd = fs.openSync(path.join(work, 'desktop.stderr.log'), 'a');
  const t0 = performance.now();
  // dbus-run-session: the single-instance plugin and notifications want a session bus.
  const child = spawn('dbus-run-session', ['--', bin], {
    stdio: ['ignore', errFd, errFd],
    env: {
      ...env,
      DISPLAY: display,
      AUTHDESK_DATA_DIR: dir,
      AUTHDESK_PORT: '0',
      HOME: home,
      XDG_CONFIG_HOME: path.join(home, '.config'),
      XDG_DATA_HOME: path.join(home, '.local/share'),
      XDG_CACHE_HOME: path.join(home, '.cache'),
      WEBKIT_DISABLE_COMPOSITING_MODE: env.WEBKIT_DISABLE_COMPOSITING_MODE ?? '1',
    },
  });
  fs.closeSync(errFd);
  children.add(child);
  const out = { child, dir, mappedMs: null, renderedMs: null };
  if (hidden) return out;
  let win = null;
  while (performance.now() - t0 < 30_000 && alive(child.pid)) {
    win = visibleWindow(display);
    if (win) break;
    await sleep(0.01);
  }
  if (!win) {
    const why = alive(child.pid) ? 'no visible Authdesk window within 30 s' : 'the app exited before it showed a window';
    return { ...out, error: `${why}; see desktop.stderr.log (BENCH_KEEP_WORK=1 keeps it)` };
  }
  out.mappedMs = performance.now() - t0;
  while (performance.now() - t0 < 30_000 && alive(child.pid)) {
    const r = spawnSync('xwd', ['-silent', '-id', win], { env: { ...env, DISPLAY: display }, maxBuffer: 64 * MiB });
    if (r.status === 0 && xwdColours(r.stdout) > 32) {
      out.renderedMs = performance.now() - t0;
      break;
    }
    await sleep(0.02);
  }
  if (out.renderedMs === null) out.error = 'the window was mapped but never showed a rendered UI within 30 s';
  return out;
}

async function desktopStop(launch) {
  // dbus-run-session's child is the app: stop the app (and its web processes) first.
  const tree = processTree(launch.child.pid);
  for (const p of tree.slice().reverse()) {
    try {
      process.kill(p.pid, 'SIGTERM');
    } catch {}
  }
  for (let i = 0; i < 100 && alive(launch.child.pid); i++) await sleep(0.05);
  for (const p of tree) {
    if (alive(p.pid)) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {}
    }
  }
  children.delete(launch.child);
}

function treeMemory(rootPid) {
  // Skip dbus-run-session and the bus daemon: they are the harness's, not the app's.
  const tree = processTree(rootPid).filter((p) => !/^dbus/.test(p.comm));
  return {
    rss: tree.reduce((a, p) => a + p.rss, 0),
    pss: tree.reduce((a, p) => a + (p.pss || 0), 0),
    processes: tree.map((p) => `${p.comm}:${(p.rss / MiB).toFixed(1)}MiB`),
  };
}

async function measureDesktop(results) {
  const d = desktopBinary();
  if (d.skip) {
    log(`desktop app: skipped (${d.skip})`);
    results.desktop = { skipped: d.skip };
    return;
  }
  const display = `:${90 + (process.pid % 9)}`;
  const xvfb = spawn('Xvfb', [display, '-screen', '0', '1280x800x24', '-nolisten', 'tcp'], { stdio: 'ignore' });
  children.add(xvfb);
  await sleep(1);
  const launches = [];
  const errors = [];
  let open = null;
  let closed = null;
  // One unmeasured launch first on a new data dir: the app makes its database, CA and
  // signing keys (a first start), and WebKit's caches in the temporary home get warm.
  // The measured launches reuse that dir, as every later start of the app does.
  const dir = path.join(work, 'desktop');
  fs.mkdirSync(dir, { mode: 0o700 });
  const warm = await desktopLaunch(d.bin, display, { hidden: false, dir });
  log(`desktop warm-up launch: mapped ${warm.mappedMs?.toFixed(0)} ms, rendered ${warm.renderedMs?.toFixed(0)} ms${warm.error ? ' — ' + warm.error : ''}`);
  await desktopStop(warm);
  for (let i = 0; i < cfg.runs; i++) {
    const l = await desktopLaunch(d.bin, display, { hidden: false, dir });
    if (l.error) errors.push(l.error);
    launches.push(l);
    log(`desktop launch ${i + 1}: mapped ${l.mappedMs?.toFixed(0)} ms, rendered ${l.renderedMs?.toFixed(0)} ms`);
    if (i === cfg.runs - 1 && !l.error) {
      await sleep(5);
      open = treeMemory(l.child.pid);
      // Close the window as a window manager's close button does: the app stays in
      // the tray with its provider, and the web view's processes go.
      const win = visibleWindow(display);
      const r = win
        ? spawnSync('python3', [path.join(ROOT, 'e2e', 'wm-close.py'), display, win], { encoding: 'utf8' })
        : null;
      if (!r || r.status !== 0) errors.push(`cannot close the window${r ? ': ' + r.stderr : ''}`);
      await sleep(8);
      if (alive(l.child.pid) && !visibleWindow(display)) closed = treeMemory(l.child.pid);
      else errors.push('after closing its window the app exited or the window stayed');
    }
    await desktopStop(l);
  }
  const h = await desktopLaunch(d.bin, display, { hidden: true, dir });
  await sleep(8);
  const hiddenMem = alive(h.child.pid) ? treeMemory(h.child.pid) : null;
  if (!hiddenMem) errors.push('the hidden launch (start_minimized) exited early; see desktop.stderr.log');
  const leakedWindow = visibleWindow(display);
  await desktopStop(h);
  if (leakedWindow) errors.push('the hidden launch (start_minimized) showed a window');
  xvfb.kill('SIGTERM');
  children.delete(xvfb);
  results.desktop = {
    binary: d.bin,
    first_launch_rendered_ms: warm.renderedMs,
    mapped_ms: median(launches.map((l) => l.mappedMs)),
    rendered_ms: median(launches.map((l) => l.renderedMs)),
    samples_rendered_ms: launches.map((l) => l.renderedMs),
    open,
    closed,
    hidden: hiddenMem,
    errors,
  };
}

// ---------------------------------------------------------------- the run

async function main() {
  const startedAt = new Date();
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'authdesk-bench-'));
  log(`work dir ${work}; ${cfg.runs} repetition(s) of ${cfg.duration}s per load run (+${cfg.warmup}s warm-up)`);
  const pki = makePki(path.join(work, 'pki'));
  const results = { samples: {}, memory: {}, coldstart: {}, problems: [] };
  const add = (key, sample) => (results.samples[key] ??= []).push(sample);

  // -- servers under load
  const servers = {};
  servers.ceiling = await startServer('ceiling', cfg.bins.ceiling, ['--port', '0', '--cert', pki.cert, '--key', pki.key]);
  servers.ceiling.ca = fs.readFileSync(pki.ca);
  if (cfg.servers.includes('floor')) {
    if (!cfg.bins.floor || !fs.existsSync(cfg.bins.floor)) die(`BENCH_FLOOR_BIN is not a file (${cfg.bins.floor}); run bench/run.sh`);
    // The work floor: a token's (and a login's) irreducible work on the same stack.
    servers.floor = await startServer('floor', cfg.bins.floor, ['--port', '0', '--cert', pki.cert, '--key', pki.key, '--db', path.join(work, 'floor.db')]);
    servers.floor.ca = fs.readFileSync(pki.ca);
    servers.floor.login = true;
  }

  const loadDir = path.join(work, 'authdesk-load');
  fs.mkdirSync(loadDir, { mode: 0o700 });
  const authdeskArgs = (dir) => ['--data-dir', dir, 'serve', '--port', '0', '--seed', SEED, '--auto-approve', 'alice', ...cfg.authdeskArgs];
  if (cfg.servers.includes('authdesk')) {
    servers.authdesk = await startServer('authdesk', cfg.bins.authdesk, authdeskArgs(loadDir));
    run(cfg.bins.authdesk, ['--data-dir', loadDir, 'ca', 'export', '--format', 'pem', '--out', path.join(work, 'authdesk-ca.pem')]);
    servers.authdesk.ca = fs.readFileSync(path.join(work, 'authdesk-ca.pem'));
    servers.authdesk.introspectPath = '/introspect';
    servers.authdesk.login = true;
    servers.authdesk.userinfo = true;
  }
  if (cfg.servers.includes('node-oidc')) {
    servers['node-oidc'] = await startServer('node-oidc', 'node', [path.join(BENCH, 'peers/node-oidc/server.mjs'), '--port', '0', '--cert', pki.cert, '--key', pki.key], {
      env: { NODE_ENV: 'production' },
    });
    servers['node-oidc'].ca = fs.readFileSync(pki.ca);
    servers['node-oidc'].introspectPath = '/token/introspection';
  }
  if (cfg.tokens > 0 && cfg.servers.includes('authdesk')) {
    const bigDir = path.join(work, 'authdesk-big');
    const ca = await prepareDataDir(bigDir);
    log(`pre-filling ${cfg.tokens.toLocaleString('en')} tokens into ${bigDir}/authdesk.db …`);
    const fill = prefillTokens(bigDir, cfg.tokens);
    log(`  ${fill.count.toLocaleString('en')} rows in ${fill.seconds.toFixed(1)} s, database ${(fill.bytes / MiB).toFixed(0)} MiB`);
    const name = `authdesk+${shortCount(cfg.tokens)}`;
    servers[name] = await startServer(name, cfg.bins.authdesk, authdeskArgs(bigDir));
    Object.assign(servers[name], { ca: fs.readFileSync(ca), introspectPath: '/introspect', login: true, userinfo: true, bigDir });
    results.big = { name, inserted: cfg.tokens, fill_seconds: fill.seconds, db_bytes: fill.bytes, rows_after_fill: fill.count };
  }

  await sleep(1);
  for (const [name, s] of Object.entries(servers)) {
    results.memory[name] = { idle_after_start: memOf(s.pid), ready_ms: s.readyMs };
  }

  // -- correctness before speed: every server answers the way the load runs expect.
  if (results.big) {
    // With a big table, the provider's start-up pruning may hold the write lock for a
    // long time; wait for it (and report how long token requests failed meanwhile).
    const s = servers[results.big.name];
    const t0 = performance.now();
    let failures = 0;
    let last = null;
    for (;;) {
      try {
        await getToken(s);
        break;
      } catch (e) {
        failures++;
        last = String(e.message || e);
        if (performance.now() - t0 > 600_000) throw new Error(`${s.name}: no token within 10 min of start: ${last}`);
        await sleep(0.2);
      }
    }
    results.big.first_token_after_start_ms = performance.now() - t0;
    results.big.failed_token_requests_after_start = failures;
    if (failures) {
      results.problems.push(`${s.name}: for ${(results.big.first_token_after_start_ms / 1000).toFixed(1)} s after start, ${failures} token request(s) failed (${last}) — start-up pruning of expired rows holds the write lock`);
      log(`  ${results.problems.at(-1)}`);
    }
  }
  for (const s of Object.values(servers)) {
    const t = await getToken(s);
    if (s.introspectPath) await introspect(s, t.access_token);
    if (s.login) await oneLogin(s);
    if (s.userinfo) await userToken(s);
    log(`${s.name}: ready at ${s.base} (pid ${s.pid}); token${s.introspectPath ? ', introspection' : ''}${s.login ? ', login' : ''}${s.userinfo ? ', userinfo' : ''} checked`);
  }
  if (results.big) {
    // The provider's first pruning runs 2 s after start (server.rs PRUNE_FIRST_AFTER).
    await sleep(4);
    results.big.rows_after_start = tokenCount(servers[results.big.name].bigDir);
    log(`  ${results.big.name}: ${results.big.rows_after_start?.toLocaleString('en')} token rows after the provider's start-up pruning`);
  }

  // -- load: every repetition measures every server, interleaved, so drift hits all alike.
  const order = Object.keys(servers);
  for (let rep = 1; rep <= cfg.runs; rep++) {
    log(`repetition ${rep}/${cfg.runs}`);
    for (const c of cfg.concurrency) {
      for (const name of order) {
        const s = servers[name];
        const r = await guarded(async () => {
          const args = ['/token', TOKEN_BODY, '"access_token"', BASIC];
          if (cfg.warmup > 0) await wrk(s, 'post.lua', c, cfg.warmup, args);
          return wrk(s, 'post.lua', c, cfg.duration, args);
        });
        add(`token|${name}|${c}`, r);
        log(`  token       c${String(c).padEnd(3)} ${name.padEnd(18)} ${fmtRate(r)}`);
      }
    }
    for (const c of cfg.heavyConcurrency) {
      for (const name of order) {
        const s = servers[name];
        if (!s.introspectPath) continue;
        const r = await guarded(async () => {
          const t = await getToken(s);
          const args = [s.introspectPath, `token=${encodeURIComponent(t.access_token)}`, '"active":true', BASIC];
          if (cfg.warmup > 0) await wrk(s, 'post.lua', c, cfg.warmup, args);
          return wrk(s, 'post.lua', c, cfg.duration, args);
        });
        add(`introspect|${name}|${c}`, r);
        log(`  introspect  c${String(c).padEnd(3)} ${name.padEnd(18)} ${fmtRate(r)}`);
      }
    }
    for (const c of cfg.heavyConcurrency) {
      for (const name of order) {
        const s = servers[name];
        if (!s.userinfo) continue;
        const r = await guarded(async () => {
          const args = ['/userinfo', '', '"sub"', `Bearer ${await userToken(s)}`];
          if (cfg.warmup > 0) await wrk(s, 'post.lua', c, cfg.warmup, args);
          return wrk(s, 'post.lua', c, cfg.duration, args);
        });
        add(`userinfo|${name}|${c}`, r);
        log(`  userinfo    c${String(c).padEnd(3)} ${name.padEnd(18)} ${fmtRate(r)}`);
      }
    }
    for (const c of cfg.loginConcurrency) {
      for (const name of order) {
        const s = servers[name];
        if (!s.login) continue;
        const r = await guarded(async () => {
          const args = [AUTHORIZE_PATH, TOKEN_PREFIX];
          if (cfg.warmup > 0) await wrk(s, 'login.lua', c, cfg.warmup, args);
          return wrk(s, 'login.lua', c, cfg.duration, args);
        });
        add(`login|${name}|${c}`, r);
        log(`  login       c${String(c).padEnd(3)} ${name.padEnd(18)} ${r.invalid ? 'INVALID: ' + r.invalid : `${r.loginRate.toFixed(0)} logins/s (${r.rate.toFixed(0)} req/s)`}`);
      }
    }
  }

  await sleep(cfg.settle);
  for (const [name, s] of Object.entries(servers)) {
    results.memory[name].idle_after_load = memOf(s.pid);
  }
  if (results.big) results.big.rows_after_load = tokenCount(servers[results.big.name].bigDir);
  for (const s of Object.values(servers)) await stopServer(s);

  // -- cold start: launch -> first successful token response, on prepared data dirs.
  log('cold start');
  const coldDir = path.join(work, 'authdesk-cold');
  const coldCa = cfg.servers.includes('authdesk') ? await prepareDataDir(coldDir) : null;
  const cold = (label, ca, program) => {
    const r = run(cfg.bins.coldstart, ['--runs', String(cfg.coldstartRuns), '--cacert', ca, '--auth', BASIC, '--body', TOKEN_BODY, '--', ...program], { allowFail: true });
    if (r.status !== 0) return { error: (r.stderr || r.stdout).trim() };
    return JSON.parse(r.stdout);
  };
  const coldPrograms = {
    ceiling: [pki.ca, [cfg.bins.ceiling, '--port', '{port}', '--cert', pki.cert, '--key', pki.key]],
  };
  if (coldCa) {
    coldPrograms.authdesk = [coldCa, [cfg.bins.authdesk, '--data-dir', coldDir, 'serve', '--port', '{port}']];
    coldPrograms['authdesk --seed'] = [coldCa, [cfg.bins.authdesk, '--data-dir', coldDir, 'serve', '--port', '{port}', '--seed', SEED, '--auto-approve', 'alice']];
  }
  if (results.big) {
    coldPrograms[results.big.name] = [path.join(work, 'authdesk-big', 'bench-ca.pem'), [cfg.bins.authdesk, '--data-dir', path.join(work, 'authdesk-big'), 'serve', '--port', '{port}']];
  }
  if (cfg.servers.includes('node-oidc')) {
    coldPrograms['node-oidc'] = [pki.ca, ['node', path.join(BENCH, 'peers/node-oidc/server.mjs'), '--port', '{port}', '--cert', pki.cert, '--key', pki.key]];
  }
  for (let rep = 1; rep <= cfg.runs; rep++) {
    for (const [label, [ca, program]] of Object.entries(coldPrograms)) {
      const r = cold(label, ca, program);
      const entry = (results.coldstart[label] ??= { runs_ms: [], errors: [] });
      if (r.error) entry.errors.push(r.error);
      else entry.runs_ms.push(...r.runs_ms);
      log(`  ${label.padEnd(18)} ${r.error ? 'ERROR ' + r.error : `median ${r.median_ms} ms (min ${r.min_ms}, max ${r.max_ms})`}`);
    }
    if (coldCa) {
      // The very first start on a new data dir: migrations, seeding (argon2), signing keys.
      const fresh = path.join(work, `authdesk-fresh-${rep}`);
      fs.mkdirSync(fresh, { mode: 0o700 });
      const ca = path.join(fresh, 'bench-ca.pem');
      run(cfg.bins.authdesk, ['--data-dir', fresh, 'ca', 'export', '--format', 'pem', '--out', ca]);
      const r = run(cfg.bins.coldstart, ['--runs', '1', '--cacert', ca, '--auth', BASIC, '--body', TOKEN_BODY, '--', cfg.bins.authdesk, '--data-dir', fresh, 'serve', '--port', '{port}', '--seed', SEED], { allowFail: true });
      const entry = (results.coldstart['authdesk first start'] ??= { runs_ms: [], errors: [] });
      if (r.status !== 0) entry.errors.push((r.stderr || r.stdout).trim());
      else entry.runs_ms.push(...JSON.parse(r.stdout).runs_ms);
    }
  }
  for (const e of Object.values(results.coldstart)) e.median_ms = median(e.runs_ms);

  // -- idle memory of a plain `authdesk serve` (seeded data dir, no --seed at start).
  if (coldCa) {
    const s = await startServer('authdesk-idle', cfg.bins.authdesk, ['--data-dir', coldDir, 'serve', '--port', '0']);
    await sleep(cfg.settle);
    results.memory['authdesk (no --seed)'] = { idle_after_start: memOf(s.pid), ready_ms: s.readyMs };
    await stopServer(s);
  }

  await measureDesktop(results);

  results.startedAt = startedAt;
  results.finishedAt = new Date();
  return results;
}

function shortCount(n) {
  return n >= 1e6 && n % 1e6 === 0 ? `${n / 1e6}M tokens` : n >= 1e3 && n % 1e3 === 0 ? `${n / 1e3}k tokens` : `${n} tokens`;
}

function fmtRate(r) {
  if (r.invalid) return `INVALID: ${r.invalid}`;
  return `${r.rate.toFixed(0).padStart(7)} req/s  p50 ${(r.latency_us.p50 / 1000).toFixed(2)} ms  p99 ${(r.latency_us.p99 / 1000).toFixed(2)} ms`;
}

// ---------------------------------------------------------------- the report

function summarize(results) {
  const rows = [];
  const med = (key, f) => {
    const xs = results.samples[key] || [];
    return { value: median(xs.map(f)), n: xs.length, invalid: xs.filter((x) => x.invalid).map((x) => x.invalid) };
  };
  const ceilingRate = (c) => med(`token|ceiling|${c}`, (r) => r.rate).value;
  const pass = (ok) => (ok ? 'PASS' : 'MISS');
  const names = [...new Set(Object.keys(results.samples).map((k) => k.split('|')[1]))];

  const throughput = (kind, label, unit, f, targetOf) => {
    const cs = { token: cfg.concurrency, introspect: cfg.heavyConcurrency, userinfo: cfg.heavyConcurrency, login: cfg.loginConcurrency }[kind];
    for (const c of cs) {
      for (const name of names) {
        const key = `${kind}|${name}|${c}`;
        if (!results.samples[key]) continue;
        const v = med(key, f);
        const p50 = med(key, (r) => r.latency_us?.p50 / 1000).value;
        const p99 = med(key, (r) => r.latency_us?.p99 / 1000).value;
        const ceil = ceilingRate(c);
        const ratio = v.value && ceil ? v.value / ceil : null;
        // Tokens and logins also against the floor's same figure (its irreducible work).
        const floor = kind === 'token' || kind === 'login' ? med(`${kind}|floor|${c}`, f).value : null;
        const floorRatio = v.value && floor ? v.value / floor : null;
        // A target is `{ of: 'ceiling' | 'floor', at: ratio }` (issue 24: tokens against the
        // floor when it ran, introspection and userinfo against the ceiling).
        const target = name.startsWith('authdesk') ? targetOf(c, floorRatio !== null) : null;
        const judged = target?.of === 'floor' ? floorRatio : ratio;
        rows.push({
          id: `${kind}.c${c}.${name}`,
          figure: `${label} c${c}`,
          server: name,
          value: v.value,
          unit,
          p50_ms: p50,
          p99_ms: p99,
          ratio,
          floor_ratio: floorRatio,
          target: target ? `≥ ${target.at}× ${target.of}` : null,
          result: v.invalid.length ? 'INVALID' : target ? pass(judged !== null && judged >= target.at) : '',
          samples: (results.samples[key] || []).map((r) => (r.invalid ? null : f(r))),
          invalid: v.invalid,
        });
      }
    }
  };
  throughput('token', 'client_credentials token', 'req/s', (r) => r.rate, (c, floorRan) =>
    c < 16 ? null : floorRan ? { of: 'floor', at: 0.9 } : { of: 'ceiling', at: 0.5 });
  throughput('introspect', 'introspection', 'req/s', (r) => r.rate, () => ({ of: 'ceiling', at: 0.6 }));
  throughput('userinfo', 'userinfo', 'req/s', (r) => r.rate, () => ({ of: 'ceiling', at: 0.6 }));
  throughput('login', 'auth-code + PKCE login', 'logins/s', (r) => r.loginRate, () => null);

  const coldCeil = results.coldstart.ceiling?.median_ms;
  for (const [label, e] of Object.entries(results.coldstart)) {
    const ratio = e.median_ms && coldCeil ? e.median_ms / coldCeil : null;
    const target = label === 'authdesk' || (results.big && label === results.big.name) ? 1.2 : null;
    rows.push({
      id: `coldstart.${label.replace(/\s+/g, '_')}`,
      figure: label === 'authdesk first start' ? 'first start, new data dir' : 'cold start (launch → first token)',
      server: label === 'authdesk first start' ? 'authdesk --seed' : label,
      value: e.median_ms,
      unit: 'ms',
      ratio,
      target: target ? `≤ ${target}× ceiling` : null,
      result: e.errors.length ? 'INVALID' : target ? pass(ratio !== null && ratio <= target) : '',
      samples: e.runs_ms,
      invalid: e.errors,
    });
  }

  const ceilRss = results.memory.ceiling?.idle_after_start?.rss;
  for (const [name, m] of Object.entries(results.memory)) {
    for (const [when, label] of [['idle_after_start', 'idle RSS after start'], ['idle_after_load', 'idle RSS after load']]) {
      if (!m[when]) continue;
      const rss = m[when].rss / MiB;
      const target = name.startsWith('authdesk') ? 25 : null;
      rows.push({
        id: `rss.${when}.${name.replace(/\s+/g, '_')}`,
        figure: label,
        server: name,
        value: rss,
        unit: 'MiB',
        ratio: ceilRss ? m[when].rss / ceilRss : null,
        target: target ? `≤ ${target} MiB` : null,
        result: target ? pass(rss <= target) : '',
        detail: { peak_rss_mib: m[when].hwm / MiB, pss_mib: m[when].pss === null ? null : m[when].pss / MiB },
      });
    }
  }

  const d = results.desktop;
  if (d && !d.skipped) {
    const bad = d.errors.length ? 'INVALID' : null;
    rows.push({ id: 'desktop.first_launch', figure: 'desktop: first launch (new data dir) → rendered', server: 'authdesk-desktop', value: d.first_launch_rendered_ms, unit: 'ms', target: null, result: '' });
    rows.push({ id: 'desktop.window_mapped', figure: 'desktop: launch → window mapped', server: 'authdesk-desktop', value: d.mapped_ms, unit: 'ms', target: null, result: bad || '' });
    rows.push({ id: 'desktop.window_rendered', figure: 'desktop: launch → window rendered', server: 'authdesk-desktop', value: d.rendered_ms, unit: 'ms', target: '≤ 1500 ms', result: bad || pass(d.rendered_ms !== null && d.rendered_ms <= 1500), samples: d.samples_rendered_ms });
    for (const [k, label] of [['open', 'window open'], ['closed', 'window closed to the tray'], ['hidden', 'started in the tray (start_minimized)']]) {
      if (!d[k]) continue;
      const v = d[k].rss / MiB;
      rows.push({ id: `desktop.rss_${k}`, figure: `desktop: idle total RSS, ${label}`, server: 'app + WebKit', value: v, unit: 'MiB', target: '≤ 150 MiB', result: pass(v <= 150), detail: { pss_mib: d[k].pss / MiB, processes: d[k].processes } });
    }
  } else if (d) {
    rows.push({ id: 'desktop', figure: 'desktop app', server: 'authdesk-desktop', value: null, unit: '', target: null, result: 'SKIP', note: d.skipped });
  }
  return rows;
}

function fmtNum(v, unit) {
  if (v === null || v === undefined) return '–';
  if (unit === 'MiB') return v.toFixed(1);
  if (unit === 'ms') return v < 10 ? v.toFixed(2) : v.toFixed(0);
  return v >= 100 ? Math.round(v).toLocaleString('en') : v.toFixed(1);
}

function md(text) {
  return String(text).replace(/\|/g, '\\|').replace(/</g, '&lt;');
}

function markdown(report) {
  const L = [];
  const c = report.config;
  L.push(`# Authdesk benchmark — ${report.finished_at}`);
  L.push('');
  L.push(`${report.valid ? 'Valid run' : '**INVALID RUN** (errors below)'}; ${c.runs} repetition(s), ${c.duration_s} s per load run after ${c.warmup_s} s warm-up, medians over repetitions; ` +
    `wrk ${report.host.wrk}, ${report.host.cpus} × ${report.host.cpu_model}, load average at start ${report.host.loadavg_start.map((x) => x.toFixed(2)).join(' ')}. Authdesk ${report.versions.authdesk}${c.authdesk_args?.length ? ` (serve ${c.authdesk_args.join(' ')})` : ''}, node-oidc-provider ${report.versions.node_oidc_provider} on Node ${report.host.node}.`);
  L.push('');
  L.push('| Figure | Server | Value | p50 ms | p99 ms | × ceiling | × floor | Target | Result |');
  L.push('| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |');
  for (const r of report.figures) {
    L.push(`| ${r.figure} | ${r.server} | ${fmtNum(r.value, r.unit)} ${r.unit} | ${r.p50_ms != null ? r.p50_ms.toFixed(2) : ''} | ${r.p99_ms != null ? r.p99_ms.toFixed(2) : ''} | ${r.ratio != null ? r.ratio.toFixed(2) + '×' : ''} | ${r.floor_ratio != null ? r.floor_ratio.toFixed(2) + '×' : ''} | ${r.target || ''} | ${r.result}${r.note ? ' — ' + md(r.note) : ''} |`);
  }
  if (report.big) {
    const b = report.big;
    L.push('');
    L.push(`Big-table mode: ${b.inserted.toLocaleString('en')} token rows inserted in ${b.fill_seconds.toFixed(1)} s (database ${(b.db_bytes / MiB).toFixed(0)} MiB); ${b.rows_after_start?.toLocaleString('en')} left after the provider's start-up pruning, ${b.rows_after_load?.toLocaleString('en')} after the load.`);
  }
  if (report.problems.length) {
    L.push('');
    L.push('## Problems');
    for (const p of report.problems) L.push(`- ${md(p)}`);
  }
  L.push('');
  L.push('Throughput ratios are to the ceiling\'s client_credentials rate at the same concurrency; "× floor" is a token or login rate over the work floor\'s same figure (bench/ceiling/src/bin/floor.rs); cold start and RSS ratios to the ceiling\'s. See bench/README.md for how each figure is taken.');
  return L.join('\n') + '\n';
}

function printTable(report) {
  const head = ['Figure', 'Server', 'Value', 'p50 ms', 'p99 ms', '×ceil', 'Target', 'Result'];
  const body = report.figures.map((r) => [
    r.figure, r.server, `${fmtNum(r.value, r.unit)} ${r.unit}`,
    r.p50_ms != null ? r.p50_ms.toFixed(2) : '', r.p99_ms != null ? r.p99_ms.toFixed(2) : '',
    r.ratio != null ? r.ratio.toFixed(2) + '×' : '', r.target || '', r.result,
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => String(b[i]).length)));
  const line = (cells) => cells.map((x, i) => (i === 2 || i === 3 || i === 4 || i === 5 ? String(x).padStart(w[i]) : String(x).padEnd(w[i]))).join('  ');
  console.log('');
  console.log(line(head));
  console.log(w.map((n) => '-'.repeat(n)).join('  '));
  for (const b of body) console.log(line(b));
  console.log('');
}

const loadStart = os.loadavg();
main()
  .then((results) => {
    const figures = summarize(results);
    const problems = [...results.problems];
    for (const f of figures) {
      for (const i of f.invalid || []) problems.push(`${f.figure} / ${f.server}: ${i}`);
    }
    if (results.desktop?.errors) for (const e of results.desktop.errors) problems.push(`desktop: ${e}`);
    const git = (args) => spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
    const nodeOidcVersion = (() => {
      try {
        return JSON.parse(fs.readFileSync(path.join(BENCH, 'peers/node-oidc/node_modules/oidc-provider/package.json'), 'utf8')).version;
      } catch {
        return null;
      }
    })();
    const report = {
      schema: 1,
      started_at: results.startedAt.toISOString(),
      finished_at: results.finishedAt.toISOString(),
      valid: problems.length === 0,
      config: {
        duration_s: cfg.duration, warmup_s: cfg.warmup, runs: cfg.runs, concurrency: cfg.concurrency,
        heavy_concurrency: cfg.heavyConcurrency, login_concurrency: cfg.loginConcurrency, wrk_threads: cfg.wrkThreads, coldstart_runs: cfg.coldstartRuns,
        tokens: cfg.tokens, servers: cfg.servers, authdesk_args: cfg.authdeskArgs,
      },
      host: {
        cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model?.trim(), kernel: os.release(), node: process.version,
        wrk: (spawnSync('wrk', ['-v'], { encoding: 'utf8' }).stdout || '').split('\n')[0].split(' ')[1] || '?',
        loadavg_start: loadStart, loadavg_end: os.loadavg(),
      },
      versions: {
        authdesk: `${git(['rev-parse', '--short', 'HEAD'])}${git(['status', '--porcelain', '--', 'src', 'Cargo.toml', 'Cargo.lock', 'migrations']) ? '+dirty' : ''}`,
        node_oidc_provider: nodeOidcVersion,
      },
      figures,
      big: results.big || null,
      memory: results.memory,
      coldstart: results.coldstart,
      desktop: results.desktop || null,
      problems,
      raw: Object.fromEntries(Object.entries(results.samples).map(([k, v]) => [k, v])),
    };
    fs.mkdirSync(cfg.out, { recursive: true });
    const stamp = report.finished_at.replace(/[:]/g, '').replace(/\..*/, 'Z');
    const suffix = cfg.tokens > 0 ? `-tokens${cfg.tokens}` : '';
    const json = JSON.stringify(report, null, 2) + '\n';
    const md = markdown(report);
    fs.writeFileSync(path.join(cfg.out, 'latest.json'), json);
    fs.writeFileSync(path.join(cfg.out, 'latest.md'), md);
    fs.writeFileSync(path.join(cfg.out, `${stamp}${suffix}.json`), json);
    fs.writeFileSync(path.join(cfg.out, `${stamp}${suffix}.md`), md);
    printTable(report);
    if (report.big) console.log(md.split('\n').find((l) => l.startsWith('Big-table mode')));
    for (const p of problems) console.log(`PROBLEM: ${p}`);
    console.log(`${report.valid ? 'valid run' : 'INVALID RUN'}; results in ${path.relative(process.cwd(), cfg.out) || '.'}/latest.{json,md} and ${stamp}${suffix}.{json,md}`);
    cleanup();
    process.exit(report.valid ? 0 : 1);
  })
  .catch((e) => {
    process.stderr.write(`bench: ${e.stack || e}\n`);
    cleanup();
    process.exit(2);
  });
