/**
 * An in-memory stand-in for the Rust core, answering every command the UI calls.
 * Used by the screenshot script (bundled and injected before the page loads) and
 * usable in tests. It is deliberately simple: enough behaviour for the views to
 * be exercised, not a second implementation of the provider.
 */
import { mockIPC } from "@tauri-apps/api/mocks";
import type { Client } from "../src/bindings/Client";
import type { KeyInfo } from "../src/bindings/KeyInfo";
import type { SigningAlg } from "../src/bindings/SigningAlg";
import type { ClientInput } from "../src/bindings/ClientInput";
import type { ErrorPayload } from "../src/bindings/ErrorPayload";
import type { CommandName } from "../src/bindings/Ipc";
import { LIMITS } from "../src/bindings/Limits";
import type { ExportFormat } from "../src/bindings/ExportFormat";
import type { FaultSpec } from "../src/bindings/FaultSpec";
import type { FaultView } from "../src/bindings/FaultView";
import { PROVIDER_EVENT, type WindowEvent } from "../src/ipc/events";
import type { ProviderState } from "../src/bindings/ProviderState";
import type { RequestStatus } from "../src/bindings/RequestStatus";
import type { SeedFormat } from "../src/bindings/SeedFormat";
import type { Settings } from "../src/bindings/Settings";
import type { Theme } from "../src/bindings/Theme";
import type { TokenFilter } from "../src/bindings/TokenFilter";
import type { UserInput } from "../src/bindings/UserInput";
import type { MintInput } from "../src/bindings/MintInput";
import { fakeJwt, makeFixtures, sampleSnippets, type Fixtures } from "./fixtures";

export interface MockOptions {
  now?: number;
  theme?: Theme;
  state?: ProviderState;
  /** Start with no data at all (empty states). */
  empty?: boolean;
}

export interface MockBackend {
  data: Fixtures;
  calls: { cmd: string; args: Record<string, unknown> }[];
  handle: (cmd: string, args?: unknown) => unknown;
}

function fail(code: string, message: string, field: string | null = null): never {
  const payload: ErrorPayload = { code, message, field };
  throw payload;
}

let seq = 100;
const newId = (prefix: string) => `${prefix}_${(seq++).toString(36)}${Math.random().toString(36).slice(2, 6)}`;

export function createMockBackend(opts: MockOptions = {}): MockBackend {
  const now = () => opts.now ?? Math.floor(Date.now() / 1000);
  const data = makeFixtures(now());
  if (opts.theme) data.settings.theme = opts.theme;
  if (opts.state) {
    data.status.state = opts.state;
    if (opts.state === "port_in_use") {
      data.status.message = "Address 127.0.0.1:8443 is already in use (another Authdesk, or a dev server?).";
    }
  }
  if (opts.empty) {
    data.clients = [];
    data.tokens = [];
    data.requests = [];
    data.consents = [];
    data.remembered = [];
  }
  const calls: MockBackend["calls"] = [];
  // What each store's install and uninstall run, kept while the buttons toggle them.
  const trustCommands = new Map(
    data.trust.stores.map((s) => [
      s.store,
      {
        install: s.install_commands[0] ?? `authdesk ca install --store ${s.store}`,
        uninstall: s.uninstall_commands[0] ?? `authdesk ca uninstall --store ${s.store}`,
      },
    ]),
  );

  const findClient = (id: unknown): Client =>
    data.clients.find((c) => c.client_id === id) ?? fail("not_found", `client '${String(id)}' does not exist`);

  function applyClientInput(base: Client | null, input: ClientInput): Client {
    const name = (input.name ?? base?.name ?? "").trim();
    if (!name) fail("invalid_input", 'name: a client needs a name, e.g. "My web app"', "name");
    const type = input.client_type ?? base?.client_type ?? "confidential";
    const id = base?.client_id ?? input.client_id ?? newId("client");
    if (!base && data.clients.some((c) => c.client_id === id)) fail("conflict", `client '${id}' already exists`);
    const t = now();
    return {
      client_id: id,
      client_secret: type === "public" ? null : (base?.client_secret ?? newId("secret") + newId("x")),
      name,
      client_type: type,
      redirect_uris: input.redirect_uris ?? base?.redirect_uris ?? [],
      post_logout_redirect_uris: input.post_logout_redirect_uris ?? base?.post_logout_redirect_uris ?? [],
      grant_types: input.grant_types ?? base?.grant_types ?? ["authorization_code", "refresh_token"],
      response_types: input.response_types ?? base?.response_types ?? ["code"],
      scopes: input.scopes ?? base?.scopes ?? [...LIMITS.default_scopes],
      token_endpoint_auth_method:
        input.token_endpoint_auth_method ??
        base?.token_endpoint_auth_method ??
        (type === "public" ? "none" : "client_secret_basic"),
      require_pkce: input.require_pkce ?? base?.require_pkce ?? false,
      allow_plain_pkce: input.allow_plain_pkce ?? base?.allow_plain_pkce ?? false,
      access_token_format: input.access_token_format ?? base?.access_token_format ?? "jwt",
      access_token_ttl: input.access_token_ttl ?? base?.access_token_ttl ?? LIMITS.default_access_token_ttl,
      refresh_token_ttl: input.refresh_token_ttl ?? base?.refresh_token_ttl ?? LIMITS.default_refresh_token_ttl,
      id_token_ttl: input.id_token_ttl ?? base?.id_token_ttl ?? LIMITS.default_id_token_ttl,
      code_ttl: input.code_ttl ?? base?.code_ttl ?? LIMITS.default_code_ttl,
      id_token_signed_response_alg: input.id_token_signed_response_alg ?? base?.id_token_signed_response_alg ?? "RS256",
      auto_approve: input.auto_approve ?? base?.auto_approve ?? false,
      tags: [...(input.tags ?? base?.tags ?? [])].sort(),
      // As the core: inline keys replace a URL, a URL replaces inline keys, "" removes the URL.
      jwks: input.jwks ?? (input.jwks_uri?.trim() ? null : (base?.jwks ?? null)),
      jwks_uri:
        input.jwks !== undefined && input.jwks !== null
          ? null
          : input.jwks_uri === undefined || input.jwks_uri === null
            ? (base?.jwks_uri ?? null)
            : input.jwks_uri.trim() || null,
      extra_claims: input.extra_claims ?? base?.extra_claims ?? [],
      resources: input.resources ?? base?.resources ?? [],
      default_audience:
        input.default_audience === undefined || input.default_audience === null
          ? (base?.default_audience ?? null)
          : input.default_audience || null,
      preset:
        input.preset === undefined || input.preset === null
          ? (base?.preset ?? null)
          : ((input.preset || null) as Client["preset"]),
      require_pushed_authorization_requests:
        input.require_pushed_authorization_requests ?? base?.require_pushed_authorization_requests ?? false,
      allow_unsigned_request_objects:
        input.allow_unsigned_request_objects ?? base?.allow_unsigned_request_objects ?? false,
      dpop_bound_access_tokens: input.dpop_bound_access_tokens ?? base?.dpop_bound_access_tokens ?? false,
      trusted_issuers: input.trusted_issuers ?? base?.trusted_issuers ?? [],
      backchannel_logout_uri:
        input.backchannel_logout_uri === undefined
          ? (base?.backchannel_logout_uri ?? null)
          : input.backchannel_logout_uri.trim() || null,
      backchannel_logout_session_required:
        input.backchannel_logout_session_required ?? base?.backchannel_logout_session_required ?? false,
      created_at: base?.created_at ?? t,
      updated_at: t,
      access_token_signed_response_alg:
        input.access_token_signed_response_alg ?? base?.access_token_signed_response_alg ?? "ES256",
      userinfo_signed_response_alg:
        input.userinfo_signed_response_alg === undefined
          ? (base?.userinfo_signed_response_alg ?? null)
          : input.userinfo_signed_response_alg,
    };
  }

  function revokeWhere(pred: (s: Fixtures["tokens"][number]["summary"]) => boolean): number {
    let n = 0;
    for (const t of data.tokens) {
      if (t.summary.state === "active" && pred(t.summary)) {
        t.summary.state = "revoked";
        t.summary.revoked_at = now();
        t.introspection = { active: false };
        n++;
      }
    }
    return n;
  }

  function handle(name: string, rawArgs?: unknown): unknown {
    const args = (rawArgs ?? {}) as Record<string, unknown>;
    calls.push({ cmd: name, args });
    // Typed against the commands Rust registers: a case for a command that does not
    // exist, or a registered command without a case, fails the type-check.
    const cmd = name as CommandName;
    switch (cmd) {
      case "provider_status":
        return structuredClone(data.status);
      case "restart_provider":
        data.status.state = "running";
        data.status.message = null;
        return structuredClone(data.status);
      case "change_port": {
        const port = Number(args.port);
        if (!Number.isInteger(port) || port < 1 || port > 65535) fail("invalid_input", "port: 1–65535", "port");
        data.status = {
          ...data.status,
          state: "running",
          port,
          message: null,
          issuer: `https://localhost:${port}`,
        };
        data.settings.port = port;
        return structuredClone(data.status);
      }

      case "list_clients":
        return structuredClone(data.clients);
      case "get_client":
        return structuredClone(findClient(args.clientId));
      case "create_client": {
        const c = applyClientInput(null, args.input as ClientInput);
        data.clients.push(c);
        return structuredClone(c);
      }
      case "update_client": {
        const base = findClient(args.clientId);
        const c = applyClientInput(base, args.input as ClientInput);
        data.clients[data.clients.indexOf(base)] = c;
        return structuredClone(c);
      }
      case "delete_client":
        findClient(args.clientId);
        data.clients = data.clients.filter((c) => c.client_id !== args.clientId);
        return null;
      case "regenerate_client_secret": {
        const c = findClient(args.clientId);
        if (c.client_type === "public") fail("invalid_input", "a public client has no secret", "client_type");
        c.client_secret = newId("secret") + newId("s");
        c.updated_at = now();
        return structuredClone(c);
      }
      case "client_snippets":
        return sampleSnippets(findClient(args.clientId), data.status.issuer);

      case "list_users":
        return structuredClone(data.users);
      case "create_user": {
        const input = args.input as UserInput;
        const username = input.username ?? "";
        if (data.users.some((u) => u.username === username)) fail("conflict", `user '${username}' already exists`);
        const u = {
          sub: input.sub ?? crypto.randomUUID(),
          username,
          has_password: !!input.password,
          claims: input.claims ?? {},
          created_at: now(),
          updated_at: now(),
        };
        data.users.push(u);
        return structuredClone(u);
      }
      case "update_user": {
        const u = data.users.find((x) => x.username === args.username) ?? fail("not_found", "no such user");
        const input = args.input as UserInput;
        if (input.username) u.username = input.username;
        if (input.claims) u.claims = input.claims;
        if (input.password !== undefined) u.has_password = input.password !== "";
        u.updated_at = now();
        return structuredClone(u);
      }
      case "delete_user":
        data.users = data.users.filter((u) => u.username !== args.username);
        return null;
      case "list_scopes":
        return structuredClone(data.scopes);
      case "save_scope": {
        const input = args.input as { name: string; description?: string; claims?: string[] };
        if (!/^[\x21\x23-\x5B\x5D-\x7E]+$/.test(input.name))
          fail("invalid_input", `name: '${input.name}' is not a valid scope token`, "name");
        const old = data.scopes.find((s) => s.name === input.name);
        const scope = {
          name: input.name,
          description: input.description ?? old?.description ?? "",
          claims: input.claims ?? old?.claims ?? [],
        };
        data.scopes = [...data.scopes.filter((s) => s.name !== input.name), scope];
        return structuredClone(scope);
      }
      case "delete_scope": {
        const users = data.clients.filter((c) => c.scopes.includes(args.name as string)).map((c) => c.client_id);
        if (users.length)
          fail("invalid_input", `scope '${String(args.name)}' is allowed to clients ${users.join(", ")}`, "name");
        data.scopes = data.scopes.filter((s) => s.name !== args.name);
        return null;
      }

      case "list_tokens": {
        const f = (args.filter ?? {}) as TokenFilter;
        return data.tokens
          .map((t) => t.summary)
          .filter(
            (s) =>
              (!f.client_id || s.client_id === f.client_id) &&
              (!f.username || s.username === f.username) &&
              (!f.kind || s.kind === f.kind) &&
              (!f.state || s.state === f.state),
          )
          .sort((a, b) => b.issued_at - a.issued_at)
          .slice(0, f.limit ?? 500)
          .map((s) => structuredClone(s));
      }
      case "get_token":
        return structuredClone(
          data.tokens.find((t) => t.summary.id === args.id) ??
            fail("not_found", `token '${String(args.id)}' does not exist`),
        );
      case "revoke_token":
        revokeWhere((s) => s.id === args.id);
        return null;
      case "revoke_client_tokens":
        return revokeWhere((s) => s.client_id === args.clientId);
      case "revoke_user_tokens":
        return revokeWhere((s) => s.username === args.username);
      case "mint_token": {
        // Tokens as `authdesk tokens mint` shapes them (unsigned here); not stored.
        const r = args.request as MintInput;
        const client = data.clients.find((c) => c.client_id === r.client_id);
        if (!client) fail("invalid_request", `no client '${r.client_id}'; see \`authdesk clients list\``);
        if (r.username && !data.users.some((u) => u.username === r.username))
          fail("invalid_request", `no persona '${r.username}'`);
        const scopes = r.scopes.length ? r.scopes : client.scopes;
        const ttl = r.ttl ?? client.access_token_ttl;
        const iat = r.expired ? now() - ttl - 60 : now();
        const base = { iss: data.status.issuer, iat, exp: iat + ttl, ...(r.claims ?? {}) };
        const sub = r.username ?? r.client_id;
        const aud = r.audiences.length ? r.audiences : r.client_id;
        const accessToken = fakeJwt(
          { alg: "ES256", typ: "at+jwt", kid: "mock" },
          { ...base, sub, aud, client_id: r.client_id, scope: scopes.join(" "), jti: `mint-${iat}` },
        );
        const idToken =
          r.username && scopes.includes("openid")
            ? fakeJwt({ alg: "RS256", typ: "JWT", kid: "mock" }, { ...base, sub, aud: r.client_id })
            : null;
        return {
          access_token: accessToken,
          token_type: "Bearer",
          expires_in: r.expired ? 0 : ttl,
          refresh_token: null,
          id_token: idToken,
          scope: scopes.join(" "),
        };
      }
      case "expire_token": {
        const t = data.tokens.find((x) => x.summary.id === args.id) ?? fail("not_found", "no such token");
        t.summary.expires_at = now() - 1;
        t.summary.state = "expired";
        t.introspection = { active: false };
        return structuredClone(t.summary);
      }

      case "certificates":
        return structuredClone(data.certificates);
      case "export_certificate": {
        const names: Record<ExportFormat, string> = {
          pem: "authdesk-ca.pem",
          der: "authdesk-ca.cer",
          bundle: "authdesk-bundle.pem",
          p12: "authdesk-truststore.p12",
        };
        return `/home/dev/${names[args.format as ExportFormat]}`;
      }
      case "export_records":
        return `/home/dev/authdesk-records.${args.format as SeedFormat}`;
      case "import_records":
        return {
          scopes_created: 0,
          scopes_updated: data.scopes.length,
          users_created: 1,
          users_updated: 0,
          clients_created: 2,
          clients_updated: 1,
        };
      case "regenerate_server_certificate":
        data.certificates.server.not_before = now();
        data.certificates.server.not_after = now() + 86400 * 397;
        return structuredClone(data.certificates);

      case "trust_status":
        return structuredClone(data.trust);
      case "install_trust":
      case "uninstall_trust": {
        const install = cmd === "install_trust";
        const store = data.trust.stores.find((s) => s.store === args.store);
        if (!store || store.locations.length === 0)
          fail("no_store", `${String(args.store)}: not found on this machine`);
        if (store.problem) fail("missing_tool", `nothing changed: ${store.store}: ${store.problem}`);
        const changes = store.locations.map((l) => {
          const had = l.state === "trusted";
          const removed = install ? l.stale : [...(had ? [data.trust.ca_sha256] : []), ...l.stale];
          const outcome = install
            ? had && l.stale.length === 0
              ? ("already_trusted" as const)
              : ("installed" as const)
            : removed.length
              ? ("removed" as const)
              : ("nothing_to_remove" as const);
          l.state = install ? "trusted" : "not_trusted";
          l.stale = [];
          l.action = install ? "" : `authdesk ca install --store ${store.store}`;
          return { store: store.store, name: l.name, path: l.path, outcome, removed };
        });
        store.state = install ? "trusted" : "not_trusted";
        const commands = trustCommands.get(store.store)!;
        store.install_commands = install ? [] : [commands.install];
        store.uninstall_commands = install ? [commands.uninstall] : [];
        return { changes, status: structuredClone(data.trust) };
      }

      case "get_settings":
        return structuredClone(data.settings);
      case "save_settings": {
        const next = args.settings as Settings;
        const restart =
          next.port !== data.settings.port ||
          next.bind_address !== data.settings.bind_address ||
          next.issuer_override !== data.settings.issuer_override ||
          next.registration_open !== data.settings.registration_open ||
          next.log_max_entries !== data.settings.log_max_entries ||
          next.log_max_age_days !== data.settings.log_max_age_days;
        data.settings = structuredClone(next);
        return { restart_required: restart };
      }

      case "list_requests":
        return data.requests
          .filter(
            (r) =>
              (!args.clientId || r.client_id === args.clientId) &&
              (!args.status || r.status === (args.status as RequestStatus)),
          )
          .slice(0, (args.limit as number | undefined) ?? 300)
          .map((r) => structuredClone(r));
      case "list_consents": {
        const username = args.username as string | null;
        return structuredClone(data.remembered.filter((c) => username === null || c.username === username));
      }
      case "revoke_consent": {
        const before = data.remembered.length;
        data.remembered = data.remembered.filter(
          (c) => !(c.username === args.username && c.client_id === args.clientId),
        );
        if (data.remembered.length === before)
          fail("not_found", `no consent ${String(args.username)} → ${String(args.clientId)}`);
        return null;
      }
      case "sign_out_user": {
        // The mock has no sessions: nothing was signed in to end.
        if (!data.users.some((u) => u.username === args.username))
          fail("not_found", `user '${String(args.username)}' does not exist`);
        return { sessions: 0, notified: 0 };
      }
      case "list_faults":
        return structuredClone(data.faults);
      case "add_fault": {
        const spec = args.spec as FaultSpec;
        if (!spec.scenario && !spec.endpoint)
          fail("invalid_input", "fault endpoint: say which endpoint the rule targets", "fault endpoint");
        const id = (data.faults.at(-1)?.id ?? 0) + 1;
        const what = spec.scenario ?? spec.error ?? (spec.status ? `HTTP ${spec.status}` : (spec.bad_token ?? "fault"));
        const rule: FaultView = {
          id,
          summary: `rule ${id}: ${spec.endpoint ?? "scenario"} requests -> ${what}, ${spec.count ? `${spec.count} more request${spec.count === 1 ? "" : "s"}` : "until cleared"}`,
          endpoint: spec.endpoint ?? "token",
          client: spec.client ?? null,
          grant_type: spec.grant_type ?? null,
          effect: String(what),
          duration: spec.count ? `${spec.count} more requests` : "until cleared",
          remaining: spec.count ?? null,
          expires_at: null,
          paused: false,
          active: true,
          injected: 0,
          origin: "window",
          scenario: spec.scenario ?? null,
          created_at: now(),
          spec,
        };
        data.faults.push(rule);
        return { rules: [structuredClone(rule)], done: [] };
      }
      case "clear_faults": {
        const before = data.faults.length;
        data.faults = args.id === undefined ? [] : data.faults.filter((f) => f.id !== args.id);
        return before - data.faults.length;
      }
      case "pause_faults": {
        const hit = data.faults.filter((f) => args.id === undefined || f.id === args.id);
        for (const f of hit) {
          f.paused = args.paused as boolean;
          f.active = !f.paused;
        }
        return hit.length;
      }
      case "list_pending_consents":
        return structuredClone(data.consents);
      case "decide_consent": {
        data.consents = data.consents.filter((c) => c.request_id !== args.requestId);
        const r = data.requests.find((x) => x.id === args.requestId);
        if (r) {
          r.status = args.approve ? "approved" : "denied";
          r.username = (args.username as string | null) ?? null;
        }
        return null;
      }
      case "list_keys":
        return structuredClone(data.keys);
      case "rotate_keys": {
        const algs: SigningAlg[] = args.alg
          ? [args.alg as SigningAlg]
          : [...new Set(data.keys.filter((k) => k.state === "active").map((k) => k.alg))];
        const after = args.retireAfterSecs as number | null | undefined;
        const retireAt = now() + (after ?? 86400);
        const made: KeyInfo[] = [];
        for (const alg of algs) {
          for (const k of data.keys.filter((x) => x.alg === alg && x.state !== "retired")) {
            if (k.state === "active") k.rotated_at = now();
            k.retire_at = Math.min(k.retire_at ?? retireAt, retireAt);
            k.state = k.retire_at <= now() ? "retired" : "published";
          }
          const key: KeyInfo = {
            kid: `${alg.toLowerCase()}-kid-${data.keys.length + 1}`,
            alg,
            state: "active",
            created_at: now(),
            rotated_at: null,
            retire_at: null,
          };
          data.keys.unshift(key);
          made.push(key);
        }
        return structuredClone(made);
      }
      case "retire_key": {
        const k = data.keys.find((x) => x.kid === args.kid);
        if (!k) fail("not_found", `signing key '${String(args.kid)}' does not exist`);
        if (k.state === "active") fail("invalid_input", `kid: '${k.kid}' is the active ${k.alg} key; rotate first`);
        k.state = "retired";
        k.retire_at = now();
        return structuredClone(k);
      }
      // The debugger talks to a running provider; the mock has none.
      case "ensure_playground_client": {
        const existing = data.clients.find((c) => c.client_id === "authdesk-playground");
        if (existing) return structuredClone(existing);
        fail("not_in_mock", "the mock backend does not make the playground client");
        break;
      }
      case "begin_trial":
      case "finish_trial":
      case "cancel_trial":
      case "apply_fix":
      case "token_facts":
        fail("not_in_mock", "the mock backend has no provider to try a sign-in against");
        break;
      case "compare_request":
        return null;
      default: {
        const unknown: never = cmd;
        fail("unknown_command", `the mock backend does not know '${String(unknown)}'`);
      }
    }
  }

  return { data, calls, handle };
}

/**
 * Installs the mock on `window.__TAURI_INTERNALS__` (events included) and exposes
 * `window.__authdeskMock` with the data and an `emit` for provider events.
 */
export function install(opts: MockOptions = {}): MockBackend {
  const backend = createMockBackend(opts);
  mockIPC((cmd, args) => backend.handle(cmd, args), { shouldMockEvents: true });
  const emit = (event: string, payload: unknown) =>
    (
      window as unknown as { __TAURI_INTERNALS__: { invoke: (c: string, a: unknown) => Promise<unknown> } }
    ).__TAURI_INTERNALS__.invoke("plugin:event|emit", { event, payload });
  (window as unknown as { __authdeskMock: unknown }).__authdeskMock = {
    backend,
    emit,
    emitProviderEvent: (e: WindowEvent) => emit(PROVIDER_EVENT, e),
  };
  return backend;
}
