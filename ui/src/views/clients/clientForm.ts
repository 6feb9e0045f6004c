/**
 * The client form as pure data: defaults, conversions to and from `Client` /
 * `ClientInput`, and which rule (`lib/forms/rules.ts`) checks which field.
 */
import type { AuthMethod } from "../../bindings/AuthMethod";
import type { Client } from "../../bindings/Client";
import type { ClaimRule } from "../../bindings/ClaimRule";
import type { ClientInput } from "../../bindings/ClientInput";
import type { ClientType } from "../../bindings/ClientType";
import type { GrantType } from "../../bindings/GrantType";
import { LIMITS } from "../../bindings/Limits";
import type { Preset } from "../../bindings/Preset";
import type { ResponseType } from "../../bindings/ResponseType";
import type { SigningAlg } from "../../bindings/SigningAlg";
import type { TrustedIssuer } from "../../bindings/TrustedIssuer";
import type { TokenFormat } from "../../bindings/TokenFormat";
import {
  RESPONSE_TYPE_GRANT,
  allowedAuthMethods,
  collectErrors,
  parseJwks,
  parseLines,
  validateAuthMethod,
  validateClientId,
  validateClientName,
  validateGrants,
  validateJwks,
  validateJwksUri,
  validateRedirectUris,
  validateResponseTypes,
  validateScopes,
  validateCodeTtl,
  validateTtl,
  validateUriLines,
} from "../../lib/forms/rules";

export const GRANT_TYPES: { value: GrantType; label: string; help: string; legacy?: boolean }[] = [
  { value: "authorization_code", label: "Authorization code", help: "Browser sign-in with a redirect back" },
  { value: "refresh_token", label: "Refresh token", help: "Renew access without signing in again" },
  { value: "client_credentials", label: "Client credentials", help: "Machine-to-machine, no user" },
  {
    value: "urn:ietf:params:oauth:grant-type:device_code",
    label: "Device code",
    help: "TVs and CLIs: sign in on another device",
  },
  {
    value: "urn:ietf:params:oauth:grant-type:jwt-bearer",
    label: "JWT bearer",
    help: "A signed assertion about a user, traded for a token (RFC 7523)",
  },
  {
    value: "urn:ietf:params:oauth:grant-type:token-exchange",
    label: "Token exchange",
    help: "Trade a user's token for one for another audience, acting for them (RFC 8693)",
  },
  { value: "implicit", label: "Implicit", help: "Tokens returned in the redirect", legacy: true },
  { value: "password", label: "Password", help: "The client collects the password", legacy: true },
];

export const RESPONSE_TYPES: { value: ResponseType; needs: GrantType }[] = (
  ["code", "token", "id_token", "id_token token"] as const
).map((value) => ({ value, needs: RESPONSE_TYPE_GRANT[value] }));

export const AUTH_METHODS: { value: AuthMethod; label: string }[] = [
  { value: "client_secret_basic", label: "client_secret_basic — HTTP Basic with the secret" },
  { value: "client_secret_post", label: "client_secret_post — secret in the form body" },
  { value: "client_secret_jwt", label: "client_secret_jwt — JWT signed with the secret (HS256)" },
  { value: "private_key_jwt", label: "private_key_jwt — JWT signed with the client's key" },
  { value: "none", label: "none — public client (PKCE)" },
];

export const TOKEN_FORMATS: TokenFormat[] = ["jwt", "opaque"];
export const PRESETS: { value: Preset; label: string }[] = [
  { value: "entra_id", label: "Microsoft Entra ID (v2)" },
  { value: "auth0", label: "Auth0" },
  { value: "keycloak", label: "Keycloak" },
  { value: "cognito", label: "Amazon Cognito" },
  { value: "okta", label: "Okta" },
  { value: "google", label: "Google" },
];
export const SIGNING_ALGS: SigningAlg[] = ["RS256", "PS256", "ES256", "EdDSA"];

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
  code_ttl: number | null;
  id_token_signed_response_alg: SigningAlg;
  access_token_signed_response_alg: SigningAlg;
  /** "" answers userinfo as plain JSON. */
  userinfo_signed_response_alg: SigningAlg | "";
  auto_approve: boolean;
  /** Comma-separated. */
  tags: string;
  /** A JWK Set as JSON text; empty for none. */
  jwks: string;
  /** The URL the client publishes its JWK Set at; empty for none. */
  jwks_uri: string;
  /** A preset's name; "" for none (Authdesk's own claims). */
  preset: Preset | "";
  /** RFC 8707 resources the client may ask for, one per line. */
  resources: string;
  /** The access token's audience when none is asked for; "" for the client id. */
  default_audience: string;
  /** The extra claim rules as a JSON array; empty for none. */
  extra_claims: string;
  /** The JWT bearer grant's trusted issuers as a JSON array; empty for none. */
  trusted_issuers: string;
  /** Where logout tokens are POSTed; empty for none. */
  backchannel_logout_uri: string;
  require_pushed_authorization_requests: boolean;
  dpop_bound_access_tokens: boolean;
  allow_unsigned_request_objects: boolean;
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
    scopes: [...LIMITS.default_scopes],
    token_endpoint_auth_method: "client_secret_basic",
    require_pkce: false,
    allow_plain_pkce: false,
    access_token_format: "jwt",
    access_token_ttl: LIMITS.default_access_token_ttl,
    refresh_token_ttl: LIMITS.default_refresh_token_ttl,
    id_token_ttl: LIMITS.default_id_token_ttl,
    code_ttl: LIMITS.default_code_ttl,
    id_token_signed_response_alg: "RS256",
    access_token_signed_response_alg: "ES256",
    userinfo_signed_response_alg: "",
    auto_approve: false,
    tags: "",
    jwks: "",
    jwks_uri: "",
    preset: "",
    resources: "",
    default_audience: "",
    extra_claims: "",
    trusted_issuers: "",
    backchannel_logout_uri: "",
    require_pushed_authorization_requests: false,
    dpop_bound_access_tokens: false,
    allow_unsigned_request_objects: false,
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
    code_ttl: c.code_ttl,
    id_token_signed_response_alg: c.id_token_signed_response_alg,
    access_token_signed_response_alg: c.access_token_signed_response_alg,
    userinfo_signed_response_alg: c.userinfo_signed_response_alg ?? "",
    auto_approve: c.auto_approve,
    tags: c.tags.join(", "),
    jwks: c.jwks === null || c.jwks === undefined ? "" : JSON.stringify(c.jwks, null, 2),
    jwks_uri: c.jwks_uri ?? "",
    preset: c.preset ?? "",
    resources: c.resources.join("\n"),
    default_audience: c.default_audience ?? "",
    extra_claims: c.extra_claims.length ? JSON.stringify(c.extra_claims, null, 2) : "",
    trusted_issuers: c.trusted_issuers.length ? JSON.stringify(c.trusted_issuers, null, 2) : "",
    backchannel_logout_uri: c.backchannel_logout_uri ?? "",
    require_pushed_authorization_requests: c.require_pushed_authorization_requests,
    dpop_bound_access_tokens: c.dpop_bound_access_tokens,
    allow_unsigned_request_objects: c.allow_unsigned_request_objects,
  };
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

/** Tags typed comma- or newline-separated; trimmed, unique, sorted as the core stores them. */
export function parseTags(text: string): string[] {
  const tags = text
    .split(/[,\n]/)
    .map((t) => t.trim())
    .filter((t) => t.length > 0);
  return [...new Set(tags)].sort();
}

/** Every problem with the form, keyed by field. Empty when the form can be saved. */
export function validateClientForm(form: ClientForm, opts: { isNew: boolean }): ClientFormErrors {
  return collectErrors({
    name: validateClientName(form.name),
    client_id: opts.isNew ? validateClientId(form.client_id) : null,
    grant_types: validateGrants(form.grant_types, form.client_type),
    response_types: validateResponseTypes(form.response_types, form.grant_types),
    redirect_uris: validateRedirectUris(form.redirect_uris, form.grant_types),
    post_logout_redirect_uris: validateUriLines(form.post_logout_redirect_uris),
    scopes: validateScopes(form.scopes),
    token_endpoint_auth_method: validateAuthMethod(form.token_endpoint_auth_method, form.client_type),
    jwks: validateJwks(form.jwks, form.token_endpoint_auth_method, form.jwks_uri),
    jwks_uri: validateJwksUri(form.jwks_uri),
    access_token_ttl: validateTtl(form.access_token_ttl),
    refresh_token_ttl: validateTtl(form.refresh_token_ttl),
    id_token_ttl: validateTtl(form.id_token_ttl),
    code_ttl: validateCodeTtl(form.code_ttl),
    extra_claims: parseClaimRules(form.extra_claims).error,
    trusted_issuers: parseTrustedIssuers(form.trusted_issuers).error,
    backchannel_logout_uri: validateBackchannelUri(form.backchannel_logout_uri),
  });
}

/** A back-channel logout URI: blank, or an absolute http(s) URL (the core checks the rest). */
export function validateBackchannelUri(text: string): string | null {
  const t = text.trim();
  if (t === "") return null;
  let url: URL;
  try {
    url = new URL(t);
  } catch {
    return `'${t}' is not an absolute URL, e.g. https://app.example.com/backchannel-logout`;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return "Use https (or http on a loopback address)";
  return null;
}

/**
 * The JWT bearer grant's trusted issuers typed as JSON: an array of `{issuer, jwks}`,
 * or blank for none. The core checks each issuer's keys.
 */
export function parseTrustedIssuers(text: string): { issuers: TrustedIssuer[]; error: string | null } {
  if (text.trim() === "") return { issuers: [], error: null };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { issuers: [], error: `Not valid JSON: ${(e as Error).message}` };
  }
  const example = '[{"issuer": "https://idp.example.com", "jwks": {"keys": [...]}}]';
  const ok =
    Array.isArray(value) &&
    value.every((t) => {
      const o = t as { issuer?: unknown; jwks?: { keys?: unknown } } | null;
      return typeof o === "object" && o !== null && typeof o.issuer === "string" && Array.isArray(o.jwks?.keys);
    });
  if (!ok) return { issuers: [], error: `Trusted issuers are a JSON array of {issuer, jwks}, e.g. ${example}` };
  return { issuers: value as TrustedIssuer[], error: null };
}

/**
 * The extra claim rules typed as JSON: an array of `{name, value | from, into?}`, or
 * blank for none. The core checks each rule (reserved names, value and from).
 */
export function parseClaimRules(text: string): { rules: ClaimRule[]; error: string | null } {
  if (text.trim() === "") return { rules: [], error: null };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { rules: [], error: `Not valid JSON: ${(e as Error).message}` };
  }
  const example = '[{"name": "roles", "from": "roles", "into": ["access_token"]}]';
  if (!Array.isArray(value)) return { rules: [], error: `Extra claims are a JSON array of rules, e.g. ${example}` };
  for (const r of value) {
    if (typeof r !== "object" || r === null || Array.isArray(r) || typeof (r as { name?: unknown }).name !== "string") {
      return { rules: [], error: `Each extra claim is an object with a "name", e.g. ${example}` };
    }
  }
  return { rules: value as ClaimRule[], error: null };
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
    access_token_ttl: form.access_token_ttl ?? LIMITS.default_access_token_ttl,
    refresh_token_ttl: form.refresh_token_ttl ?? LIMITS.default_refresh_token_ttl,
    id_token_ttl: form.id_token_ttl ?? LIMITS.default_id_token_ttl,
    code_ttl: form.code_ttl ?? LIMITS.default_code_ttl,
    id_token_signed_response_alg: form.id_token_signed_response_alg,
    access_token_signed_response_alg: form.access_token_signed_response_alg,
    userinfo_signed_response_alg: form.userinfo_signed_response_alg || null,
    auto_approve: form.auto_approve,
    tags: parseTags(form.tags),
  };
  if (opts.isNew && form.client_id.trim() !== "") input.client_id = form.client_id.trim();
  input.extra_claims = parseClaimRules(form.extra_claims).rules;
  input.resources = parseLines(form.resources);
  input.default_audience = form.default_audience.trim();
  input.preset = form.preset;
  input.trusted_issuers = parseTrustedIssuers(form.trusted_issuers).issuers;
  input.backchannel_logout_uri = form.backchannel_logout_uri.trim();
  input.require_pushed_authorization_requests = form.require_pushed_authorization_requests;
  input.dpop_bound_access_tokens = form.dpop_bound_access_tokens;
  input.allow_unsigned_request_objects = form.allow_unsigned_request_objects;
  const jwks = parseJwks(form.jwks);
  if (jwks !== undefined) input.jwks = jwks;
  // "" removes the URL (inline keys, if any, then stay).
  input.jwks_uri = form.jwks_uri.trim();
  return input;
}

const FIELDS: ReadonlySet<string> = new Set(Object.keys(newClientForm()));

/** Maps a field named by the core (snake_case, as in `ClientInput`) onto a form field. */
export function formFieldOf(field: string | null): ClientFormField | null {
  return field !== null && FIELDS.has(field) ? (field as ClientFormField) : null;
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
