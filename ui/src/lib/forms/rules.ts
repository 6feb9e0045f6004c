/**
 * Every check the window's forms make as the person types, in one place. A rule takes a
 * value (and what it depends on) and answers why it would be refused, or null. The
 * bounds come from Rust (`LIMITS`, generated into the bindings), the checks mirror the
 * core's (`src/model.rs`) and the shell's (`src-tauri/src/settings.rs`); the core still
 * has the last word, and its errors are shown on the field it names.
 *
 * Forms say which rule applies to which field (`validateClientForm`, `validateUserForm`,
 * `validateSettings`); they hold no check of their own.
 */
import type { AuthMethod } from "../../bindings/AuthMethod";
import type { ClientType } from "../../bindings/ClientType";
import type { GrantType } from "../../bindings/GrantType";
import type { ResponseType } from "../../bindings/ResponseType";
import { LIMITS } from "../../bindings/Limits";

/** Why a value would be refused, or null. */
export type Rule<V> = (value: V) => string | null;

const thousands = (n: number) => n.toLocaleString("en-US");
const isWhole = (v: number | null | undefined): v is number => v !== null && v !== undefined && Number.isInteger(v);

// ---- numbers ----

/** A port: 1 to 65535. */
export function validatePort(port: number | null | undefined): string | null {
  if (port === null || port === undefined || Number.isNaN(port)) return "enter a port number";
  if (!Number.isInteger(port) || port < 1 || port > 65535) return "a port is a whole number from 1 to 65535";
  return null;
}

const MAX_TTL_YEARS = Math.floor(LIMITS.ttl.max / (365 * 86400));

/** A token lifetime in whole seconds, within the core's bounds. */
export function validateTtl(v: number | null | undefined): string | null {
  if (v === null || v === undefined || Number.isNaN(v)) return "enter a lifetime in seconds";
  if (!Number.isInteger(v)) return "a lifetime is a whole number of seconds";
  if (v < LIMITS.ttl.min || v > LIMITS.ttl.max) {
    return `${v} is not a lifetime between ${LIMITS.ttl.min} second and ${MAX_TTL_YEARS} years`;
  }
  return null;
}

/** An authorization code's lifetime in whole seconds, within the core's bounds. */
export function validateCodeTtl(v: number | null | undefined): string | null {
  const { min, max } = LIMITS.code_ttl;
  if (v === null || v === undefined || Number.isNaN(v)) return "enter a lifetime in seconds";
  return isWhole(v) && v >= min && v <= max ? null : `an authorization code lives between ${min} and ${max} seconds`;
}

/** How many entries the request log keeps. */
export function validateLogMaxEntries(v: number | null | undefined): string | null {
  const { min, max } = LIMITS.log_max_entries;
  return isWhole(v) && v >= min && v <= max ? null : `keep between ${thousands(min)} and ${thousands(max)} entries`;
}

/** How many days the request log keeps an entry. */
export function validateLogMaxAgeDays(v: number | null | undefined): string | null {
  const { min, max } = LIMITS.log_max_age_days;
  return isWhole(v) && v >= min && v <= max ? null : `keep entries between ${min} and ${max} days`;
}

// ---- addresses ----

/** True for addresses that only this machine can reach. */
export function isLoopbackAddress(addr: string): boolean {
  const a = addr.trim().toLowerCase();
  return a === "localhost" || a === "::1" || a === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

/** An address to listen on: an IP address or `localhost`. */
export function validateBindAddress(addr: string): string | null {
  const a = addr.trim();
  if (a === "") return "enter an address to listen on, e.g. 127.0.0.1";
  if (/\s/.test(a)) return "an address has no spaces";
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(a);
  if (v4 && v4.slice(1).some((n) => Number(n) > 255)) return `'${a}' is not an IPv4 address`;
  return null;
}

/** An issuer override: empty (none), or an https URL without query or fragment. */
export function validateIssuer(issuer: string | null): string | null {
  if (issuer === null || issuer.trim() === "") return null;
  let url: URL;
  try {
    url = new URL(issuer.trim());
  } catch {
    return "the issuer is an absolute URL, e.g. https://host.docker.internal:8443";
  }
  if (url.protocol !== "https:") return "the issuer must use https";
  if (url.search || url.hash) return "the issuer has no query or fragment (OpenID Connect Discovery §4.1)";
  return null;
}

const LOOPBACK_HOSTS = new Set(["localhost", "[::1]"]);

/** `127.0.0.0/8`, `[::1]` and `localhost`: the hosts plain http may redirect to (RFC 8252 §7.3). */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase();
  if (LOOPBACK_HOSTS.has(h)) return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

const FORBIDDEN_SCHEMES = new Set(["javascript", "data", "file", "vbscript", "blob", "about"]);

/**
 * A redirect URI: absolute, no fragment, and https, loopback http, or a private-use
 * scheme (com.example.app:/cb).
 */
export function validateRedirectUri(raw: string): string | null {
  const uri = raw.trim();
  if (uri.length === 0) return "empty redirect URI";
  if (/\s/.test(uri)) return `'${uri}' contains a space; a redirect URI is a single URL without spaces`;
  if (!/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(uri)) {
    return `'${uri}' is not an absolute URI; write it in full, e.g. http://127.0.0.1:8080/callback`;
  }
  // `localhost:3000/cb` parses as the scheme "localhost"; it is a forgotten http://.
  if (/^[a-z0-9.-]+:\d+(?:[/?]|$)/i.test(uri)) {
    return `'${uri}' has no scheme; write it in full, e.g. http://${uri}`;
  }
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return `'${uri}' is not a valid URI; write it in full, e.g. http://127.0.0.1:8080/callback`;
  }
  if (uri.includes("#")) {
    return `'${uri}' has a #fragment, which RFC 6749 §3.1.2 forbids in a redirect URI; remove it`;
  }
  if (uri.includes("*")) {
    return `'${uri}' contains a wildcard; redirect URIs match exactly, so list each one in full`;
  }
  const scheme = url.protocol.slice(0, -1).toLowerCase();
  if (scheme === "https") {
    if (!url.hostname) return `'${uri}' has no host`;
  } else if (scheme === "http") {
    if (!isLoopbackHost(url.hostname)) {
      return `'${uri}' uses http on a non-local host; use https, or a loopback address (127.0.0.1, [::1], localhost)`;
    }
  } else if (FORBIDDEN_SCHEMES.has(scheme)) {
    return `'${uri}' uses the '${scheme}' scheme, which is never a valid redirect target`;
  }
  // Otherwise a private-use scheme for native apps (RFC 8252 §7.1).
  return normalFormProblem(uri, url);
}

/**
 * The core's last two checks (`src/model.rs`): no userinfo, and the URI written as the
 * URL parser writes it (both are WHATWG parsers), since redirect URIs are matched
 * exactly as written. An empty path may be left out.
 */
function normalFormProblem(uri: string, url: URL): string | null {
  if (url.username || url.password) {
    const without = new URL(url.href);
    without.username = "";
    without.password = "";
    return `'${uri}' has userinfo (the part before '@'), which a redirect URI must not have: it makes the URI read like another host; write it as ${without.href}`;
  }
  const normal = url.href;
  const emptyPath = url.pathname === "/" && url.host !== "" && uri.length + 1 === normal.length;
  const origin = normal.slice(0, normal.length - url.search.length - url.hash.length - 1);
  if (uri === normal || (emptyPath && uri === origin + url.search + url.hash)) return null;
  return `'${uri}' is not written in normal form, and redirect URIs are matched exactly as written; write it as ${normal} (lower-case scheme and host, no default port, no '.' or '..' segments or backslashes, percent-encoded spaces)`;
}

/** Items typed one per line, trimmed, blanks dropped. */
export function parseLines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
}

/** The first problem in a one-per-line list of redirect URIs, prefixed with its line number. */
export function validateUriLines(text: string): string | null {
  const lines = text.split(/\r?\n/);
  const seen = new Set<string>();
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (!line) continue;
    const err = validateRedirectUri(line);
    if (err) return `Line ${i + 1}: ${err}`;
    if (seen.has(line)) return `Line ${i + 1}: '${line}' is listed twice`;
    seen.add(line);
  }
  return null;
}

// ---- names ----

/** A scope token as RFC 6749 §3.3 defines it: printable ASCII except space, `"` and `\`. */
export function isValidScopeToken(scope: string): boolean {
  return /^[\x21\x23-\x5b\x5d-\x7e]+$/.test(scope);
}

/** The name of a scope being added (empty: nothing typed yet, not an error). */
export function validateScopeName(name: string): string | null {
  const n = name.trim();
  return n === "" || isValidScopeToken(n)
    ? null
    : "A scope name is printable ASCII without spaces, quotes or backslashes (RFC 6749 §3.3)";
}

/** A client id chosen when creating (empty: the core generates one). */
export function validateClientId(id: string): string | null {
  if (id === "") return null;
  if (id.length > LIMITS.max_identifier_len) return `a client id is at most ${LIMITS.max_identifier_len} characters`;
  if (/[\s:]/.test(id) || /\p{Cc}/u.test(id)) return "use letters, digits, '-', '_' or '.' (no spaces or ':')";
  return null;
}

/** A persona's username, as the core checks identifiers. */
export function validateUsername(username: string): string | null {
  if (username.length === 0) return "a persona needs a username, e.g. carol";
  if (username.length > LIMITS.max_identifier_len) {
    return `a username is at most ${LIMITS.max_identifier_len} characters`;
  }
  const bad = [...username].find((c) => /[\s:]/.test(c) || /\p{Cc}/u.test(c));
  if (bad !== undefined) {
    return `'${username}' contains ${bad === " " ? "a space" : JSON.stringify(bad)}; use letters, digits, '-', '_' or '.'`;
  }
  return null;
}

/** A persona's subject chosen when creating (empty: the core generates one). */
export function validateSubject(sub: string): string | null {
  return sub !== "" && /\s/.test(sub) ? "a subject identifier has no spaces" : null;
}

/** A client needs a name. */
export function validateClientName(name: string): string | null {
  return name.trim() === "" ? 'a client needs a name, e.g. "My web app"' : null;
}

// ---- JSON ----

/** Claims the provider sets itself; a persona cannot override them. */
export const RESERVED_CLAIMS: readonly string[] = LIMITS.reserved_claims;

export type ClaimsResult = { ok: true; claims: Record<string, unknown> } | { ok: false; error: string };

/** Where a JSON.parse error points, as "line L, column C", when the engine says so. */
function locate(text: string, message: string): string | null {
  const m = /position (\d+)/i.exec(message);
  if (!m) {
    const lc = /line (\d+) column (\d+)/i.exec(message);
    return lc ? `line ${lc[1]}, column ${lc[2]}` : null;
  }
  const pos = Number(m[1]);
  const before = text.slice(0, pos);
  const line = before.split("\n").length;
  const column = pos - before.lastIndexOf("\n");
  return `line ${line}, column ${column}`;
}

/** Parses and checks claims text: a JSON object without reserved claims. Blank text means no claims. */
export function parseClaims(text: string): ClaimsResult {
  if (text.trim() === "") return { ok: true, claims: {} };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    const where = locate(text, msg);
    return { ok: false, error: `Not valid JSON${where ? ` (${where})` : ""}: ${msg}` };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return {
      ok: false,
      error: 'Claims must be a JSON object, e.g. {"name": "Carol", "email": "carol@example.com"}',
    };
  }
  const reserved = Object.keys(value).filter((k) => RESERVED_CLAIMS.includes(k));
  if (reserved.length > 0) {
    const list = reserved.map((k) => `'${k}'`).join(", ");
    return {
      ok: false,
      error: `${list} ${reserved.length === 1 ? "is" : "are"} set by the provider and cannot be a persona claim; remove ${reserved.length === 1 ? "it" : "them"}`,
    };
  }
  return { ok: true, claims: value as Record<string, unknown> };
}

/** Parses the JWK Set text; `undefined` for empty text. Throws a message on bad input. */
export function parseJwks(text: string): Record<string, unknown> | undefined {
  if (text.trim() === "") return undefined;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new Error(`not valid JSON: ${(e as Error).message}`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v) || !Array.isArray((v as { keys?: unknown }).keys)) {
    throw new Error('a JWK Set is an object with a "keys" array');
  }
  return v as Record<string, unknown>;
}

/**
 * The client's public keys: a JWK Set, or the URL of one (`jwksUri`), which
 * `private_key_jwt` needs; never both (RFC 7591 §2).
 */
export function validateJwks(text: string, method: AuthMethod, jwksUri = ""): string | null {
  try {
    const jwks = parseJwks(text);
    const byUrl = jwksUri.trim() !== "";
    if (jwks !== undefined && byUrl) {
      return "Give the client's public keys one way: a JWK Set here, or its URL, not both";
    }
    if (jwks === undefined && !byUrl && method === "private_key_jwt") {
      return 'private_key_jwt needs the client\'s public keys: paste a JWK Set {"keys": [...]}, or give its URL';
    }
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

/** The URL of the client's JWK Set: https, or http on a loopback address; blank for none. */
export function validateJwksUri(text: string): string | null {
  const uri = text.trim();
  if (uri === "") return null;
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return `'${uri}' is not an absolute URL; write it in full, e.g. https://app.example/jwks.json`;
  }
  if (url.protocol === "http:" && !isLoopbackHost(url.hostname)) {
    return `'${uri}' uses http on a non-local host; use https, or a loopback address (127.0.0.1, [::1], localhost)`;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    return `'${uri}' is not an https URL`;
  }
  if (url.hash !== "") return `'${uri}' has a #fragment; remove it`;
  return null;
}

// ---- a client's flows ----

/** The grant each response type needs. */
export const RESPONSE_TYPE_GRANT: Record<ResponseType, GrantType> = {
  code: "authorization_code",
  token: "implicit",
  id_token: "implicit",
  "id_token token": "implicit",
};

/** Auth methods a client of this type may use. */
export function allowedAuthMethods(type: ClientType): AuthMethod[] {
  return type === "public"
    ? ["none"]
    : ["client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt"];
}

/** At least one grant; none a public client cannot use. */
export function validateGrants(grants: readonly GrantType[], type: ClientType): string | null {
  if (grants.length === 0) return "allow at least one grant type";
  if (type === "public" && grants.includes("client_credentials")) {
    return "a public client cannot use client_credentials (it has no secret); make the client confidential";
  }
  return null;
}

/** Each response type needs its grant. */
export function validateResponseTypes(responses: readonly ResponseType[], grants: readonly GrantType[]): string | null {
  for (const r of responses) {
    const needs = RESPONSE_TYPE_GRANT[r];
    if (needs && !grants.includes(needs)) return `response type '${r}' needs the '${needs}' grant type`;
  }
  return null;
}

/** Valid redirect URIs, and at least one for the grants that redirect. */
export function validateRedirectUris(text: string, grants: readonly GrantType[]): string | null {
  const err = validateUriLines(text);
  if (err) return err;
  if ((grants.includes("authorization_code") || grants.includes("implicit")) && parseLines(text).length === 0) {
    return "the authorization code and implicit grants need at least one redirect URI, e.g. http://127.0.0.1:8080/callback";
  }
  return null;
}

/** Only valid scope tokens. */
export function validateScopes(scopes: readonly string[]): string | null {
  const bad = scopes.find((s) => !isValidScopeToken(s));
  return bad === undefined ? null : `'${bad}' is not a valid scope token`;
}

/** The auth method must fit the client type. */
export function validateAuthMethod(method: AuthMethod, type: ClientType): string | null {
  if (allowedAuthMethods(type).includes(method)) return null;
  return type === "public"
    ? "a public client authenticates with 'none'"
    : "a confidential client must authenticate; choose a secret or key method";
}

/** Keeps the messages of the rules that failed, keyed by field. */
export function collectErrors<F extends string>(checks: Record<F, string | null>): Partial<Record<F, string>> {
  const errors: Partial<Record<F, string>> = {};
  for (const f of Object.keys(checks) as F[]) {
    const msg = checks[f];
    if (msg) errors[f] = msg;
  }
  return errors;
}
