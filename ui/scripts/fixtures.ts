/**
 * Sample provider data for screenshots and tests, typed with the generated bindings
 * so it breaks loudly when the Rust types move. Times are relative to `now`.
 */
import type { CertificatesInfo } from "../src/bindings/CertificatesInfo";
import type { Consent } from "../src/bindings/Consent";
import type { Client } from "../src/bindings/Client";
import type { PendingConsent } from "../src/bindings/PendingConsent";
import type { ProviderStatus } from "../src/bindings/ProviderStatus";
import type { RequestEntry } from "../src/bindings/RequestEntry";
import type { Scope } from "../src/bindings/Scope";
import type { Settings } from "../src/bindings/Settings";
import type { Snippet } from "../src/bindings/Snippet";
import type { TokenDetail } from "../src/bindings/TokenDetail";
import type { TrustStatus } from "../src/bindings/TrustStatus";
import type { FaultView } from "../src/bindings/FaultView";
import type { User } from "../src/bindings/User";
import type { KeyInfo } from "../src/bindings/KeyInfo";
import { base64UrlEncode } from "../src/views/tokens/jwt";

export interface Fixtures {
  status: ProviderStatus;
  settings: Settings;
  clients: Client[];
  users: User[];
  scopes: Scope[];
  tokens: TokenDetail[];
  certificates: CertificatesInfo;
  requests: RequestEntry[];
  consents: PendingConsent[];
  /** Remembered consents. */
  remembered: Consent[];
  /** The trust stores of the machine: system not trusted (needs root), NSS trusted, Java with a stale CA. */
  trust: TrustStatus;
  /** Signing keys: an active RS256 and ES256 key, an ES256 key published until tomorrow. */
  keys: KeyInfo[];
  /** Fault rules (none by default). */
  faults: FaultView[];
}

const ISSUER = "https://localhost:8443";

/** An unsigned-looking compact JWS with the given header and claims (the signature is filler). */
export function fakeJwt(header: Record<string, unknown>, payload: Record<string, unknown>): string {
  const sig = base64UrlEncode("not-a-real-signature:" + JSON.stringify(payload).length).replace(/=/g, "");
  return `${base64UrlEncode(JSON.stringify(header))}.${base64UrlEncode(JSON.stringify(payload))}.${sig}`;
}

function client(now: number, c: Partial<Client> & Pick<Client, "client_id" | "name">): Client {
  return {
    client_secret: null,
    client_type: "confidential",
    redirect_uris: [],
    post_logout_redirect_uris: [],
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
    scopes: ["openid", "profile", "email", "offline_access"],
    token_endpoint_auth_method: "client_secret_basic",
    require_pkce: false,
    allow_plain_pkce: false,
    access_token_format: "jwt",
    access_token_ttl: 3600,
    refresh_token_ttl: 2592000,
    id_token_ttl: 3600,
    code_ttl: 120,
    id_token_signed_response_alg: "RS256",
    access_token_signed_response_alg: "ES256",
    userinfo_signed_response_alg: null,
    extra_claims: [],
    resources: [],
    default_audience: null,
    preset: null,
    require_pushed_authorization_requests: false,
    allow_unsigned_request_objects: false,
    dpop_bound_access_tokens: false,
    trusted_issuers: [],
    backchannel_logout_uri: null,
    backchannel_logout_session_required: false,
    auto_approve: false,
    tags: [],
    jwks: null,
    jwks_uri: null,
    created_at: now - 86400 * 12,
    updated_at: now - 3600 * 5,
    ...c,
  };
}

export function makeFixtures(now: number = Math.floor(Date.now() / 1000)): Fixtures {
  const clients: Client[] = [
    client(now, {
      client_id: "acme-web",
      name: "Acme Web (Next.js)",
      client_secret: "q8J3nV0xZt5rL2mW7pYc4sKd9fHg6bNe1uAa",
      redirect_uris: [
        "http://localhost:3000/api/auth/callback/authdesk",
        "https://acme.test/api/auth/callback/authdesk",
      ],
      post_logout_redirect_uris: ["http://localhost:3000/"],
      tags: ["staging", "web"],
    }),
    client(now, {
      client_id: "com.acme.mobile",
      name: "Acme Mobile",
      client_type: "public",
      redirect_uris: ["com.acme.mobile:/oauth2redirect", "http://127.0.0.1/callback"],
      token_endpoint_auth_method: "none",
      require_pkce: true,
      tags: ["mobile"],
      grant_types: ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"],
    }),
    client(now, {
      client_id: "reporting-svc",
      name: "Reporting service",
      client_secret: "Zm9yIHNjcmVlbnNob3RzIG9ubHkgLSBub3QgYSBzZWNyZXQ",
      grant_types: ["client_credentials"],
      response_types: [],
      scopes: ["api:read"],
      access_token_format: "opaque",
      access_token_ttl: 900,
      tags: ["backend"],
    }),
    client(now, {
      client_id: "legacy-spa",
      name: "Legacy SPA",
      client_type: "public",
      redirect_uris: ["http://localhost:8080/silent-renew.html"],
      grant_types: ["implicit"],
      response_types: ["id_token token"],
      token_endpoint_auth_method: "none",
      require_pkce: true,
      auto_approve: true,
      tags: ["legacy", "web"],
    }),
  ];

  const users: User[] = [
    {
      sub: "3f6c1a52-9c55-4d5e-8a0e-5b1a7c1d2e01",
      username: "alice",
      has_password: true,
      claims: { name: "Alice Example", email: "alice@example.com", email_verified: true },
      created_at: now - 86400 * 30,
      updated_at: now - 86400 * 30,
    },
    {
      sub: "8b2d9f10-3e41-4c7a-9d2b-6a8e4f3c1b02",
      username: "bob",
      has_password: true,
      claims: { name: "Bob Example", email: "bob@example.com", email_verified: true },
      created_at: now - 86400 * 30,
      updated_at: now - 86400 * 30,
    },
    {
      sub: "c9e0a7d3-1f2b-4e8c-b5a6-7d9e0f1a2b03",
      username: "carol",
      has_password: false,
      claims: {
        name: "Carol Admin",
        given_name: "Carol",
        email: "carol@acme.test",
        email_verified: false,
        groups: ["admins", "billing"],
        locale: "fr-FR",
      },
      created_at: now - 86400 * 3,
      updated_at: now - 3600,
    },
  ];

  const scopes: Scope[] = [
    { name: "openid", description: "Sign you in and share a stable identifier", claims: [] },
    {
      name: "profile",
      description: "Your name, username and profile details",
      claims: ["name", "family_name", "given_name", "nickname", "preferred_username", "picture", "locale"],
    },
    { name: "email", description: "Your email address", claims: ["email", "email_verified"] },
    { name: "offline_access", description: "Stay signed in (refresh tokens)", claims: [] },
    { name: "api:read", description: "Read the Acme API", claims: [] },
  ];

  const kid = "rs256-2024-05-01-9f3a";
  const accessJwt = (id: string, sub: string, clientId: string, scope: string, iat: number, exp: number) =>
    fakeJwt(
      { alg: "RS256", typ: "at+jwt", kid },
      { iss: ISSUER, sub, aud: clientId, client_id: clientId, scope, iat, exp, jti: id, auth_time: iat - 4 },
    );

  const tokens: TokenDetail[] = [];
  const addToken = (
    id: string,
    kind: "access_token" | "refresh_token",
    format: "jwt" | "opaque",
    clientId: string,
    username: string | null,
    scope: string[],
    iat: number,
    ttl: number,
    state: "active" | "expired" | "revoked",
  ) => {
    const user = users.find((u) => u.username === username) ?? null;
    const exp = iat + ttl;
    const value =
      format === "jwt"
        ? accessJwt(id, user?.sub ?? clientId, clientId, scope.join(" "), iat, exp)
        : `ad_${id}_opaque7Xk2`;
    tokens.push({
      summary: {
        id,
        kind,
        format,
        client_id: clientId,
        sub: user?.sub ?? null,
        username,
        scopes: scope,
        issued_at: iat,
        expires_at: exp,
        revoked_at: state === "revoked" ? iat + 120 : null,
        state,
        grant_id: kind === "refresh_token" || username ? `grant_${id.slice(0, 6)}` : null,
      },
      value,
      introspection:
        state === "active"
          ? {
              active: true,
              client_id: clientId,
              scope: scope.join(" "),
              sub: user?.sub ?? clientId,
              username: username ?? undefined,
              token_type: kind === "access_token" ? "Bearer" : "refresh_token",
              iat,
              exp,
              iss: ISSUER,
            }
          : { active: false },
      origin: null,
    });
  };
  const std = ["openid", "profile", "email", "offline_access"];
  addToken("tk_01HZX4A7Q2", "access_token", "jwt", "acme-web", "alice", std, now - 420, 3600, "active");
  addToken("tk_01HZX4A7Q3", "refresh_token", "opaque", "acme-web", "alice", std, now - 420, 2592000, "active");
  addToken(
    "tk_01HZX3N1K8",
    "access_token",
    "jwt",
    "com.acme.mobile",
    "bob",
    ["openid", "profile"],
    now - 5400,
    3600,
    "expired",
  );
  addToken("tk_01HZX2B9D4", "access_token", "opaque", "reporting-svc", null, ["api:read"], now - 200, 900, "active");
  addToken(
    "tk_01HZX1C3F5",
    "access_token",
    "jwt",
    "acme-web",
    "bob",
    ["openid", "email"],
    now - 86400,
    3600,
    "revoked",
  );

  const pem = (label: string, seed: string) =>
    `-----BEGIN CERTIFICATE-----\n${Array.from({ length: 12 }, (_, i) =>
      base64UrlEncode(`${seed}:${label}:${i}:authdesk-sample-certificate-bytes`).slice(0, 64).padEnd(64, "A"),
    ).join("\n")}\n-----END CERTIFICATE-----\n`;

  const certificates: CertificatesInfo = {
    ca: {
      subject: "CN=Authdesk Local CA, O=Authdesk",
      issuer: "CN=Authdesk Local CA, O=Authdesk",
      serial: "4F:2A:91:0C:7D:E3:18:B6",
      sans: [],
      not_before: now - 86400 * 40,
      not_after: now + 86400 * 3610,
      sha256_fingerprint:
        "A1:3F:9C:22:7B:E0:41:D8:6A:5C:93:0E:F4:12:B7:8D:2C:61:E9:05:7A:3B:C4:98:11:F0:6D:AE:52:87:3C:D9",
      sha1_fingerprint: "6B:19:E4:02:AF:3C:71:D5:88:0E:C2:9A:4F:B3:15:7D:E0:62:A8:91",
      pem: pem("ca", "1"),
      path: "/home/dev/.local/share/authdesk/tls/ca.pem",
    },
    server: {
      subject: "CN=localhost",
      issuer: "CN=Authdesk Local CA, O=Authdesk",
      serial: "7C:05:D2:A8:33:19:E6:4B",
      sans: ["localhost", "127.0.0.1", "::1"],
      not_before: now - 86400 * 40,
      not_after: now + 86400 * 357,
      sha256_fingerprint:
        "5E:C8:01:7A:B2:94:3F:D6:20:8B:E7:4C:19:A5:F3:62:0D:B8:7E:31:C6:59:A2:04:EF:93:18:7B:D4:2A:65:C0",
      sha1_fingerprint: "D2:8E:41:B7:06:CA:93:5F:E1:28:7D:04:B9:63:FA:1C:85:30:E7:4A",
      pem: pem("server", "2"),
      path: "/home/dev/.local/share/authdesk/tls/server.pem",
    },
  };

  const requests: RequestEntry[] = (
    [
      {
        id: "rq_0009",
        at: now - 12,
        kind: "authorize",
        client_id: "acme-web",
        username: null,
        status: "pending_consent",
        error: null,
        error_description: null,
        params: {
          response_type: "code",
          client_id: "acme-web",
          redirect_uri: "http://localhost:3000/api/auth/callback/authdesk",
          scope: "openid profile email offline_access",
          state: "x9Kq2…",
          code_challenge_method: "S256",
          login_hint: "alice",
        },
        detail: { prompt: null, consent_remembered: false },
      },
      {
        id: "rq_0008",
        at: now - 95,
        kind: "token",
        client_id: "com.acme.mobile",
        username: "bob",
        status: "rejected",
        error: "invalid_grant",
        error_description:
          "The code_verifier does not match the code_challenge sent to /authorize (S256). Send the verifier generated together with that challenge.",
        params: {
          grant_type: "authorization_code",
          code: "ac_…7Yq",
          redirect_uri: "com.acme.mobile:/oauth2redirect",
          code_verifier: "dBjftJeZ4CVP…",
        },
        detail: { pkce_method: "S256", expected_challenge: "E9Melhoa2Owv…", computed_challenge: "x1Q9c0eRt7…" },
      },
      {
        id: "rq_0007",
        at: now - 200,
        kind: "token",
        client_id: "reporting-svc",
        username: null,
        status: "completed",
        error: null,
        error_description: null,
        params: { grant_type: "client_credentials", scope: "api:read" },
        detail: { issued: ["access_token"], token_id: "tk_01HZX2B9D4", auth_method: "client_secret_basic" },
      },
      {
        id: "rq_0006",
        at: now - 418,
        kind: "token",
        client_id: "acme-web",
        username: "alice",
        status: "completed",
        error: null,
        error_description: null,
        params: {
          grant_type: "authorization_code",
          code: "ac_…Q2f",
          redirect_uri: "http://localhost:3000/api/auth/callback/authdesk",
        },
        detail: { issued: ["access_token", "refresh_token", "id_token"], auth_method: "client_secret_basic" },
      },
      {
        id: "rq_0005",
        at: now - 425,
        kind: "authorize",
        client_id: "acme-web",
        username: "alice",
        status: "approved",
        error: null,
        error_description: null,
        params: { response_type: "code", scope: "openid profile email offline_access", state: "a7Fh3…" },
        detail: { approved_in: "window" },
      },
      {
        id: "rq_0004",
        at: now - 1300,
        kind: "authorize",
        client_id: "acme-web",
        username: null,
        status: "rejected",
        error: "invalid_request",
        error_description:
          "redirect_uri 'http://localhost:3001/api/auth/callback/authdesk' is not registered for client 'acme-web'. Registered: http://localhost:3000/api/auth/callback/authdesk, https://acme.test/api/auth/callback/authdesk. Add it to the client's redirect URIs (exact match).",
        params: {
          response_type: "code",
          client_id: "acme-web",
          redirect_uri: "http://localhost:3001/api/auth/callback/authdesk",
          scope: "openid",
        },
        detail: { shown_on_page: true, redirected: false },
      },
      {
        id: "rq_0003",
        at: now - 2400,
        kind: "introspect",
        client_id: "reporting-svc",
        username: null,
        status: "completed",
        error: null,
        error_description: null,
        params: { token: "ad_tk_01…", token_type_hint: "access_token" },
        detail: { active: true },
      },
      {
        id: "rq_0002",
        at: now - 3100,
        kind: "userinfo",
        client_id: "com.acme.mobile",
        username: "bob",
        status: "rejected",
        error: "invalid_token",
        error_description: "The access token expired 2 minutes ago. Use the refresh token to get a new one.",
        params: {},
        detail: { www_authenticate: 'Bearer error="invalid_token"' },
      },
      {
        id: "rq_0001",
        at: now - 3600,
        kind: "revoke",
        client_id: "acme-web",
        username: "bob",
        status: "completed",
        error: null,
        error_description: null,
        params: { token: "…", token_type_hint: "refresh_token" },
        detail: { revoked: 2 },
      },
      {
        id: "rq_0000",
        at: now - 7260,
        kind: "introspect",
        client_id: "acme-api",
        username: null,
        status: "completed",
        error: null,
        error_description: null,
        params: { token: "[redacted, 612 characters]" },
        detail: { active: true },
        count: 1840,
        last_at: now - 7258,
      },
    ] as (Omit<RequestEntry, "count" | "last_at"> & Partial<RequestEntry>)[]
  ).map((e) => ({ count: 1, last_at: e.at, ...e }));

  const consents: PendingConsent[] = [
    {
      request_id: "rq_0009",
      client_id: "acme-web",
      client_name: "Acme Web (Next.js)",
      scopes: ["openid", "profile", "email", "offline_access"],
      redirect_uri: "http://localhost:3000/api/auth/callback/authdesk",
      login_hint: "alice",
      created_at: now - 12,
    },
  ];

  return {
    status: {
      state: "running",
      issuer: ISSUER,
      bind: "127.0.0.1",
      port: 8443,
      message: null,
      data_dir: "/home/dev/.local/share/authdesk",
    },
    settings: {
      port: 8443,
      bind_address: "127.0.0.1",
      issuer_override: null,
      registration_open: false,
      access_token_ttl: 3600,
      refresh_token_ttl: 2592000,
      id_token_ttl: 3600,
      theme: "light",
      start_minimized: false,
      log_max_entries: 10000,
      log_max_age_days: 7,
    },
    clients,
    users,
    scopes,
    tokens,
    certificates,
    requests,
    consents,
    trust: sampleTrust(certificates.ca.sha256_fingerprint, certificates.ca.path),
    keys: [
      { kid: "es-new-kid", alg: "ES256", state: "active", created_at: now - 3600, rotated_at: null, retire_at: null },
      { kid: "rs-kid", alg: "RS256", state: "active", created_at: now - 86400 * 12, rotated_at: null, retire_at: null },
      {
        kid: "es-old-kid",
        alg: "ES256",
        state: "published",
        created_at: now - 86400 * 12,
        rotated_at: now - 3600,
        retire_at: now - 3600 + 86400,
      },
    ],
    faults: [],
    remembered: [
      {
        sub: "3f6c1a52-9c55-4d5e-8a0e-5b1a7c1d2e01",
        username: "alice",
        client_id: "acme-web",
        scopes: ["openid", "profile", "email", "offline_access"],
        granted_at: now - 86400 * 3,
      },
      {
        sub: "3f6c1a52-9c55-4d5e-8a0e-5b1a7c1d2e01",
        username: "alice",
        client_id: "com.acme.mobile",
        scopes: ["openid", "profile"],
        granted_at: now - 3600,
      },
    ],
  };
}

/** Snippets as the core might render them (the real ones come from `client_snippets`). */
export function sampleSnippets(c: Client, issuer = ISSUER): Snippet[] {
  const secret = c.client_secret ?? "";
  const redirect = c.redirect_uris[0] ?? "http://127.0.0.1:8080/callback";
  return [
    {
      language: "python",
      label: "Python · Authlib",
      code: `from authlib.integrations.requests_client import OAuth2Session

# export REQUESTS_CA_BUNDLE=~/authdesk-bundle.pem
client = OAuth2Session(
    client_id="${c.client_id}",${secret ? `\n    client_secret="${secret}",` : ""}
    scope="${c.scopes.join(" ")}",
    redirect_uri="${redirect}",
    code_challenge_method="S256",
)
metadata = client.get("${issuer}/.well-known/openid-configuration").json()
uri, state = client.create_authorization_url(metadata["authorization_endpoint"])
`,
    },
    {
      language: "node",
      label: "Node · openid-client",
      code: `import * as client from "openid-client";

// NODE_EXTRA_CA_CERTS=~/authdesk-ca.pem node app.js
const config = await client.discovery(new URL("${issuer}"), "${c.client_id}"${secret ? `, "${secret}"` : ""});
const verifier = client.randomPKCECodeVerifier();
const url = client.buildAuthorizationUrl(config, {
  redirect_uri: "${redirect}",
  scope: "${c.scopes.join(" ")}",
  code_challenge: await client.calculatePKCECodeChallenge(verifier),
  code_challenge_method: "S256",
});
`,
    },
    {
      language: "nextauth",
      label: "Auth.js (NextAuth)",
      code: `// auth.ts
export const { handlers, auth } = NextAuth({
  providers: [
    {
      id: "authdesk",
      name: "Authdesk",
      type: "oidc",
      issuer: "${issuer}",
      clientId: "${c.client_id}",${secret ? `\n      clientSecret: "${secret}",` : ""}
    },
  ],
});
`,
    },
    {
      language: "curl",
      label: "curl",
      code: c.grant_types.includes("client_credentials")
        ? `curl --cacert ~/authdesk-ca.pem -u '${c.client_id}:${secret}' \\
  -d grant_type=client_credentials -d scope='${c.scopes.join(" ")}' \\
  ${issuer}/token`
        : `curl --cacert ~/authdesk-ca.pem ${issuer}/.well-known/openid-configuration`,
    },
  ];
}

/** A machine where the system store does not trust the CA yet (and needs root), Chromium
 * does, and Java holds a stale Authdesk CA from an earlier data directory. */
export function sampleTrust(fingerprint: string, caPath: string): TrustStatus {
  const stale = "0F:33:8A:51:C2:7E:90:14:D6:3B:A8:5F:E1:22:9C:04:B7:6D:13:F8:2A:C5:90:E7:48:1B:6F:D2:39:A0:5C:81";
  const anchor = "/usr/local/share/ca-certificates/authdesk-ca-a13f9c227be041d8.crt";
  return {
    ca_sha256: fingerprint,
    ca_path: caPath,
    stores: [
      {
        store: "system",
        title: "System store (Debian/Ubuntu)",
        state: "not_trusted",
        locations: [
          {
            name: "System store (Debian/Ubuntu)",
            path: "/etc/ssl/certs/ca-certificates.crt",
            state: "not_trusted",
            stale: [],
            action: `sudo sh -c 'install -m 0644 ${caPath} ${anchor} && update-ca-certificates'`,
          },
        ],
        problem: null,
        needs_root: true,
        install_commands: [`install -m 0644 ${caPath} ${anchor} && update-ca-certificates`],
        uninstall_commands: [],
      },
      {
        store: "nss",
        title: "NSS (Chromium, Chrome, Firefox)",
        state: "trusted",
        locations: [{ name: "Chromium/Chrome", path: "/home/dev/.pki/nssdb", state: "trusted", stale: [], action: "" }],
        problem: null,
        needs_root: false,
        install_commands: [],
        uninstall_commands: ["certutil -D -d sql:/home/dev/.pki/nssdb -n authdesk-ca-a13f9c227be041d8"],
      },
      {
        store: "java",
        title: "Java (cacerts)",
        state: "not_trusted",
        locations: [
          {
            name: "Java (temurin-21-jdk-amd64)",
            path: "/home/dev/.sdkman/candidates/java/21/lib/security/cacerts",
            state: "not_trusted",
            stale: [stale],
            action: "authdesk ca install --store java (replaces the stale Authdesk CA)",
          },
        ],
        problem: null,
        needs_root: false,
        install_commands: [
          "keytool -delete -alias authdesk-ca-0f338a51c27e9014 … && keytool -importcert -noprompt -trustcacerts -alias authdesk-ca-a13f9c227be041d8 …",
        ],
        uninstall_commands: ["keytool -delete -alias authdesk-ca-0f338a51c27e9014 …"],
      },
    ],
    ecosystems: [
      {
        id: "python-requests",
        name: "Python requests",
        uses: "certifi's bundle (requests does not read the system store)",
        state: "not_trusted",
        variable: "REQUESTS_CA_BUNDLE",
        action:
          'authdesk ca export --format bundle --out authdesk-bundle.pem && export REQUESTS_CA_BUNDLE="$PWD/authdesk-bundle.pem"',
      },
      {
        id: "python-ssl",
        name: "Python ssl, httpx, aiohttp",
        uses: "the system store (ssl, aiohttp); certifi's bundle (httpx)",
        state: "not_trusted",
        variable: "SSL_CERT_FILE",
        action:
          'authdesk ca export --format bundle --out authdesk-bundle.pem && export SSL_CERT_FILE="$PWD/authdesk-bundle.pem"',
      },
      {
        id: "node",
        name: "Node.js",
        uses: "its built-in roots (Node does not read the system store)",
        state: "not_trusted",
        variable: "NODE_EXTRA_CA_CERTS",
        action: `export NODE_EXTRA_CA_CERTS=${caPath}`,
      },
    ],
  };
}
