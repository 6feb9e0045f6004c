/**
 * The client form as pure data: defaults, conversions to and from `Client` /
 * `ClientInput`, and the checks shown as the user types. The rules mirror the
 * core's (`src/model.rs`), so most mistakes are caught before a round trip; the
 * core still has the last word and its errors are shown on the field it names.
 */
import type { AuthMethod } from "../../bindings/AuthMethod";
import type { Client } from "../../bindings/Client";
import type { ClientInput } from "../../bindings/ClientInput";
import type { ClientType } from "../../bindings/ClientType";
import type { GrantType } from "../../bindings/GrantType";
import type { ResponseType } from "../../bindings/ResponseType";
import type { SigningAlg } from "../../bindings/SigningAlg";
import type { TokenFormat } from "../../bindings/TokenFormat";

export const DEFAULT_SCOPES = ["openid", "profile", "email", "offline_access"];
export const DEFAULT_ACCESS_TOKEN_TTL = 3600;
export const DEFAULT_REFRESH_TOKEN_TTL = 30 * 24 * 3600;
export const DEFAULT_ID_TOKEN_TTL = 3600;
export const MAX_TTL = 10 * 365 * 24 * 3600;

export const GRANT_TYPES: { value: GrantType; label: string; help: string; legacy?: boolean }[] = [
  { value: "authorization_code", label: "Authorization code", help: "Browser sign-in with a redirect back" },
  { value: "refresh_token", label: "Refresh token", help: "Renew access without signing in again" },
  { value: "client_credentials", label: "Client credentials", help: "Machine-to-machine, no user" },
  {
    value: "urn:ietf:params:oauth:grant-type:device_code",
    label: "Device code",
    help: "TVs and CLIs: sign in on another device",
  },
  { value: "implicit", label: "Implicit", help: "Tokens returned in the redirect", legacy: true },
  { value: "password", label: "Password", help: "The client collects the password", legacy: true },
];

export const RESPONSE_TYPES: { value: ResponseType; needs: GrantType }[] = [
  { value: "code", needs: "authorization_code" },
  { value: "token", needs: "implicit" },
  { value: "id_token", needs: "implicit" },
  { value: "id_token token", needs: "implicit" },
];

export const AUTH_METHODS: { value: AuthMethod; label: string }[] = [
  { value: "client_secret_basic", label: "client_secret_basic — HTTP Basic with the secret" },
  { value: "client_secret_post", label: "client_secret_post — secret in the form body" },
  { value: "client_secret_jwt", label: "client_secret_jwt — JWT signed with the secret (HS256)" },
  { value: "private_key_jwt", label: "private_key_jwt — JWT signed with the client's key" },
  { value: "none", label: "none — public client (PKCE)" },
];

export const TOKEN_FORMATS: TokenFormat[] = ["jwt", "opaque"];
export const SIGNING_ALGS: SigningAlg[] = ["RS256", "ES256"];

/** What the form edits. Lists typed as text are kept as text until saved. */
export interface ClientForm {
  /** Empty: the core generates one. Only editable when creating. */
  client_id: string;
  name: string;
  client_type: ClientType;
  /** One URI per line. */
  redirect_uris: string;
  /** One URI per line. */
  post_logout_redirect_uris: string;
  grant_types: GrantType[];
  response_types: ResponseType[];
  scopes: string[];
  token_endpoint_auth_method: AuthMethod;
  require_pkce: boolean;
  allow_plain_pkce: boolean;
  access_token_format: TokenFormat;
  access_token_ttl: number | null;
  refresh_token_ttl: number | null;
  id_token_ttl: number | null;
  id_token_signed_response_alg: SigningAlg;
  auto_approve: boolean;
  /** Comma-separated. */
  tags: string;
  /** A JWK Set as JSON text; empty for none. */
  jwks: string;
}

export type ClientFormField = keyof ClientForm;
export type ClientFormErrors = Partial<Record<ClientFormField, string>>;

export function newClientForm(): ClientForm {
  return {
    client_id: "",
    name: "",
    client_type: "confidential",
    redirect_uris: "",
    post_logout_redirect_uris: "",
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
    scopes: [...DEFAULT_SCOPES],
    token_endpoint_auth_method: "client_secret_basic",
    require_pkce: false,
    allow_plain_pkce: false,
    access_token_format: "jwt",
    access_token_ttl: DEFAULT_ACCESS_TOKEN_TTL,
    refresh_token_ttl: DEFAULT_REFRESH_TOKEN_TTL,
    id_token_ttl: DEFAULT_ID_TOKEN_TTL,
    id_token_signed_response_alg: "RS256",
    auto_approve: false,
    tags: "",
    jwks: "",
  };
}

export function clientToForm(c: Client): ClientForm {
  return {
    client_id: c.client_id,
    name: c.name,
    client_type: c.client_type,
    redirect_uris: c.redirect_uris.join("\n"),
    post_logout_redirect_uris: c.post_logout_redirect_uris.join("\n"),
    grant_types: [...c.grant_types],
    response_types: [...c.response_types],
    scopes: [...c.scopes],
    token_endpoint_auth_method: c.token_endpoint_auth_method,
    require_pkce: c.client_type === "public" ? true : c.require_pkce,
    allow_plain_pkce: c.allow_plain_pkce,
    access_token_format: c.access_token_format,
    access_token_ttl: c.access_token_ttl,
    refresh_token_ttl: c.refresh_token_ttl,
    id_token_ttl: c.id_token_ttl,
    id_token_signed_response_alg: c.id_token_signed_response_alg,
    auto_approve: c.auto_approve,
    tags: c.tags.join(", "),
    jwks: c.jwks === null || c.jwks === undefined ? "" : JSON.stringify(c.jwks, null, 2),
  };
}

/** Auth methods a client of this type may use. */
export function allowedAuthMethods(type: ClientType): AuthMethod[] {
  return type === "public"
    ? ["none"]
    : ["client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt"];
}

/** Switches the client type and brings dependent fields along. */
export function withClientType(form: ClientForm, type: ClientType): ClientForm {
  const next = { ...form, client_type: type };
  if (type === "public") {
    next.token_endpoint_auth_method = "none";
    next.require_pkce = true;
    next.grant_types = form.grant_types.filter((g) => g !== "client_credentials");
  } else if (!allowedAuthMethods("confidential").includes(form.token_endpoint_auth_method)) {
    next.token_endpoint_auth_method = "client_secret_basic";
    next.require_pkce = false;
  }
  return next;
}

/** Turns a grant on or off, keeping response types consistent with the grants. */
export function withGrant(form: ClientForm, grant: GrantType, on: boolean): ClientForm {
  const grants = on
    ? form.grant_types.includes(grant)
      ? form.grant_types
      : [...form.grant_types, grant]
    : form.grant_types.filter((g) => g !== grant);
  let responses = form.response_types.filter((r) => {
    const needs = RESPONSE_TYPES.find((x) => x.value === r)?.needs;
    return needs === undefined || grants.includes(needs);
  });
  if (on && grant === "authorization_code" && !responses.includes("code")) responses = ["code", ...responses];
  if (on && grant === "implicit" && !responses.some((r) => r !== "code")) {
    responses = [...responses, "id_token token"];
  }
  return { ...form, grant_types: grants, response_types: responses };
}

/** Items typed one per line, trimmed, blanks dropped. */
export function parseLines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
}

/** Tags typed comma- or newline-separated; trimmed, unique, sorted as the core stores them. */
export function parseTags(text: string): string[] {
  const tags = text
    .split(/[,\n]/)
    .map((t) => t.trim())
    .filter((t) => t.length > 0);
  return [...new Set(tags)].sort();
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
 * Why a redirect URI would be refused, or null when it is fine: absolute, no
 * fragment, and https, loopback http, or a private-use scheme (com.example.app:/cb).
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

/** A scope token as RFC 6749 §3.3 defines it: printable ASCII except space, `"` and `\`. */
export function isValidScopeToken(scope: string): boolean {
  return /^[\x21\x23-\x5b\x5d-\x7e]+$/.test(scope);
}

/** Why a lifetime would be refused, or null. */
export function validateTtl(v: number | null): string | null {
  if (v === null || v === undefined || Number.isNaN(v)) return "enter a lifetime in seconds";
  if (!Number.isInteger(v)) return "a lifetime is a whole number of seconds";
  if (v < 1 || v > MAX_TTL) return `${v} is not a lifetime between 1 second and 10 years`;
  return null;
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

/** Every problem with the form, keyed by field. Empty when the form can be saved. */
export function validateClientForm(form: ClientForm, opts: { isNew: boolean }): ClientFormErrors {
  const errors: ClientFormErrors = {};

  if (form.name.trim() === "") errors.name = 'a client needs a name, e.g. "My web app"';

  if (opts.isNew && form.client_id !== "") {
    const id = form.client_id;
    if (id.length > 200) errors.client_id = "a client id is at most 200 characters";
    else if (/[\s:]/.test(id) || /\p{Cc}/u.test(id)) {
      errors.client_id = "use letters, digits, '-', '_' or '.' (no spaces or ':')";
    }
  }

  if (form.grant_types.length === 0) {
    errors.grant_types = "allow at least one grant type";
  } else if (form.client_type === "public" && form.grant_types.includes("client_credentials")) {
    errors.grant_types =
      "a public client cannot use client_credentials (it has no secret); make the client confidential";
  }

  for (const r of form.response_types) {
    const needs = RESPONSE_TYPES.find((x) => x.value === r)?.needs;
    if (needs && !form.grant_types.includes(needs)) {
      errors.response_types = `response type '${r}' needs the '${needs}' grant type`;
      break;
    }
  }

  const redirectError = validateUriLines(form.redirect_uris);
  if (redirectError) {
    errors.redirect_uris = redirectError;
  } else if (
    (form.grant_types.includes("authorization_code") || form.grant_types.includes("implicit")) &&
    parseLines(form.redirect_uris).length === 0
  ) {
    errors.redirect_uris =
      "the authorization code and implicit grants need at least one redirect URI, e.g. http://127.0.0.1:8080/callback";
  }
  const logoutError = validateUriLines(form.post_logout_redirect_uris);
  if (logoutError) errors.post_logout_redirect_uris = logoutError;

  const badScope = form.scopes.find((s) => !isValidScopeToken(s));
  if (badScope !== undefined) errors.scopes = `'${badScope}' is not a valid scope token`;

  if (!allowedAuthMethods(form.client_type).includes(form.token_endpoint_auth_method)) {
    errors.token_endpoint_auth_method =
      form.client_type === "public"
        ? "a public client authenticates with 'none'"
        : "a confidential client must authenticate; choose a secret or key method";
  }

  try {
    const jwks = parseJwks(form.jwks);
    if (jwks === undefined && form.token_endpoint_auth_method === "private_key_jwt") {
      errors.jwks = 'private_key_jwt needs the client\'s public keys: paste a JWK Set {"keys": [...]}';
    }
  } catch (e) {
    errors.jwks = (e as Error).message;
  }

  for (const f of ["access_token_ttl", "refresh_token_ttl", "id_token_ttl"] as const) {
    const err = validateTtl(form[f]);
    if (err) errors[f] = err;
  }

  return errors;
}

/** The input sent to `create_client` / `update_client`. Assumes the form validated. */
export function toClientInput(form: ClientForm, opts: { isNew: boolean }): ClientInput {
  const input: ClientInput = {
    name: form.name.trim(),
    client_type: form.client_type,
    redirect_uris: parseLines(form.redirect_uris),
    post_logout_redirect_uris: parseLines(form.post_logout_redirect_uris),
    grant_types: [...form.grant_types],
    response_types: [...form.response_types],
    scopes: [...form.scopes],
    token_endpoint_auth_method: form.token_endpoint_auth_method,
    require_pkce: form.client_type === "public" ? true : form.require_pkce,
    allow_plain_pkce: form.allow_plain_pkce,
    access_token_format: form.access_token_format,
    access_token_ttl: form.access_token_ttl ?? DEFAULT_ACCESS_TOKEN_TTL,
    refresh_token_ttl: form.refresh_token_ttl ?? DEFAULT_REFRESH_TOKEN_TTL,
    id_token_ttl: form.id_token_ttl ?? DEFAULT_ID_TOKEN_TTL,
    id_token_signed_response_alg: form.id_token_signed_response_alg,
    auto_approve: form.auto_approve,
    tags: parseTags(form.tags),
  };
  if (opts.isNew && form.client_id.trim() !== "") input.client_id = form.client_id.trim();
  const jwks = parseJwks(form.jwks);
  if (jwks !== undefined) input.jwks = jwks;
  return input;
}

/** Maps a field named by the core (snake_case, as in `ClientInput`) onto a form field. */
export function formFieldOf(field: string | null): ClientFormField | null {
  if (!field) return null;
  const known: ClientFormField[] = [
    "client_id",
    "name",
    "client_type",
    "redirect_uris",
    "post_logout_redirect_uris",
    "grant_types",
    "response_types",
    "scopes",
    "token_endpoint_auth_method",
    "require_pkce",
    "allow_plain_pkce",
    "access_token_format",
    "access_token_ttl",
    "refresh_token_ttl",
    "id_token_ttl",
    "id_token_signed_response_alg",
    "auto_approve",
    "tags",
    "jwks",
  ];
  return (known as string[]).includes(field) ? (field as ClientFormField) : null;
}

/** Case-insensitive match on name, client id, redirect URIs and tags. */
export function matchesSearch(c: Client, query: string): boolean {
  const q = query.trim().toLowerCase();
  if (!q) return true;
  return (
    c.name.toLowerCase().includes(q) ||
    c.client_id.toLowerCase().includes(q) ||
    c.redirect_uris.some((u) => u.toLowerCase().includes(q)) ||
    c.tags.some((t) => t.toLowerCase().includes(q))
  );
}

/** True when the client carries every selected tag. */
export function matchesTags(c: Client, selected: readonly string[]): boolean {
  return selected.every((t) => c.tags.includes(t));
}
