import { describe, expect, it } from "vitest";
import { makeFixtures } from "../../../scripts/fixtures";
import { allowedAuthMethods, parseJwks } from "../../lib/forms/rules";
import {
  clientToForm,
  formFieldOf,
  matchesSearch,
  matchesTags,
  newClientForm,
  parseTags,
  parseTrustedIssuers,
  toClientInput,
  validateClientForm,
  withClientType,
  withGrant,
  type ClientForm,
} from "./clientForm";

const valid = (): ClientForm => ({ ...newClientForm(), name: "My app", redirect_uris: "http://127.0.0.1:8080/cb" });

describe("validateClientForm", () => {
  it("accepts the defaults once named and given a redirect URI", () => {
    expect(validateClientForm(valid(), { isNew: true })).toEqual({});
  });

  it("starts from the documented defaults", () => {
    const f = newClientForm();
    expect(f.client_type).toBe("confidential");
    expect(f.grant_types).toEqual(["authorization_code", "refresh_token"]);
    expect(f.response_types).toEqual(["code"]);
    expect(f.scopes).toEqual(["openid", "profile", "email", "offline_access"]);
    expect(f.token_endpoint_auth_method).toBe("client_secret_basic");
    expect(f.access_token_format).toBe("jwt");
    expect([f.access_token_ttl, f.refresh_token_ttl, f.id_token_ttl]).toEqual([3600, 2592000, 3600]);
    expect(f.id_token_signed_response_alg).toBe("RS256");
  });

  it("needs a name", () => {
    expect(validateClientForm({ ...valid(), name: "   " }, { isNew: true }).name).toMatch(/needs a name/);
  });

  it("needs a redirect URI for the authorization code grant, not for client credentials", () => {
    const noUris = { ...valid(), redirect_uris: "" };
    expect(validateClientForm(noUris, { isNew: true }).redirect_uris).toMatch(/at least one redirect URI/);
    const m2m = withGrant(withGrant(noUris, "authorization_code", false), "refresh_token", false);
    const cc = withGrant(m2m, "client_credentials", true);
    expect(validateClientForm(cc, { isNew: true })).toEqual({});
  });

  it("reports a bad redirect URI on its line", () => {
    const errors = validateClientForm(
      { ...valid(), redirect_uris: "http://127.0.0.1/cb\nhttps://x.example/cb#a" },
      { isNew: true },
    );
    expect(errors.redirect_uris).toMatch(/^Line 2: .*fragment/);
  });

  it("checks post-logout redirect URIs too", () => {
    const errors = validateClientForm(
      { ...valid(), post_logout_redirect_uris: "http://example.com/" },
      { isNew: true },
    );
    expect(errors.post_logout_redirect_uris).toMatch(/non-local/);
  });

  it("needs at least one grant", () => {
    expect(
      validateClientForm({ ...valid(), grant_types: [], response_types: [] }, { isNew: true }).grant_types,
    ).toMatch(/at least one grant/);
  });

  it("refuses client credentials for a public client", () => {
    const f = { ...withClientType(valid(), "public"), grant_types: ["client_credentials" as const] };
    expect(validateClientForm(f, { isNew: true }).grant_types).toMatch(/public client cannot use client_credentials/);
  });

  it("refuses response types whose grant is missing", () => {
    const f = { ...valid(), response_types: ["code" as const, "token" as const] };
    expect(validateClientForm(f, { isNew: true }).response_types).toMatch(/'token' needs the 'implicit' grant/);
  });

  it("constrains the auth method by client type", () => {
    expect(
      validateClientForm({ ...valid(), token_endpoint_auth_method: "none" }, { isNew: true })
        .token_endpoint_auth_method,
    ).toMatch(/must authenticate/);
    const pub = { ...withClientType(valid(), "public"), token_endpoint_auth_method: "client_secret_post" as const };
    expect(validateClientForm(pub, { isNew: true }).token_endpoint_auth_method).toMatch(/'none'/);
  });

  it("needs a JWK Set for private_key_jwt, and checks its shape", () => {
    const f = { ...valid(), token_endpoint_auth_method: "private_key_jwt" as const };
    expect(validateClientForm(f, { isNew: true }).jwks).toMatch(/needs the client's public keys/);
    expect(validateClientForm({ ...f, jwks: "{" }, { isNew: true }).jwks).toMatch(/not valid JSON/);
    expect(validateClientForm({ ...f, jwks: '{"kty":"RSA"}' }, { isNew: true }).jwks).toMatch(/"keys" array/);
    expect(validateClientForm({ ...f, jwks: '{"keys":[]}' }, { isNew: true })).toEqual({});
  });

  it("takes the keys by URL instead, https or loopback http, never both ways", () => {
    const f = { ...valid(), token_endpoint_auth_method: "private_key_jwt" as const };
    expect(validateClientForm({ ...f, jwks_uri: "https://keys.example/jwks.json" }, { isNew: true })).toEqual({});
    expect(validateClientForm({ ...f, jwks_uri: "http://127.0.0.1:9000/jwks" }, { isNew: true })).toEqual({});
    expect(validateClientForm({ ...f, jwks_uri: "http://keys.example/jwks" }, { isNew: true }).jwks_uri).toMatch(
      /non-local host/,
    );
    expect(validateClientForm({ ...f, jwks_uri: "jwks.json" }, { isNew: true }).jwks_uri).toMatch(/absolute URL/);
    expect(
      validateClientForm({ ...f, jwks: '{"keys":[]}', jwks_uri: "https://keys.example/jwks" }, { isNew: true }).jwks,
    ).toMatch(/not both/);
    const input = toClientInput({ ...f, jwks_uri: " https://keys.example/jwks " }, { isNew: true });
    expect(input.jwks_uri).toBe("https://keys.example/jwks");
    expect(input).not.toHaveProperty("jwks");
    expect(clientToForm({ ...makeFixtures().clients[0], jwks_uri: "https://keys.example/jwks" }).jwks_uri).toBe(
      "https://keys.example/jwks",
    );
  });

  it("checks lifetimes", () => {
    expect(validateClientForm({ ...valid(), access_token_ttl: 0 }, { isNew: true }).access_token_ttl).toMatch(
      /between 1 second/,
    );
    expect(validateClientForm({ ...valid(), refresh_token_ttl: null }, { isNew: true }).refresh_token_ttl).toMatch(
      /enter/,
    );
    expect(validateClientForm({ ...valid(), id_token_ttl: 1.5 }, { isNew: true }).id_token_ttl).toMatch(/whole number/);
    expect(validateClientForm({ ...valid(), id_token_ttl: 11 * 365 * 86400 }, { isNew: true }).id_token_ttl).toMatch(
      /10 years/,
    );
  });

  it("checks a chosen client id only when creating", () => {
    expect(validateClientForm({ ...valid(), client_id: "my app" }, { isNew: true }).client_id).toMatch(/no spaces/);
    expect(validateClientForm({ ...valid(), client_id: "urn:x" }, { isNew: true }).client_id).toMatch(/':'/);
    expect(validateClientForm({ ...valid(), client_id: "my app" }, { isNew: false }).client_id).toBeUndefined();
  });

  it("refuses invalid scope tokens", () => {
    expect(validateClientForm({ ...valid(), scopes: ['bad"scope'] }, { isNew: true }).scopes).toMatch(
      /not a valid scope/,
    );
  });
});

describe("withClientType / withGrant", () => {
  it("public clients authenticate with none, require PKCE and lose client credentials", () => {
    const f = withClientType({ ...valid(), grant_types: ["authorization_code", "client_credentials"] }, "public");
    expect(f.token_endpoint_auth_method).toBe("none");
    expect(f.require_pkce).toBe(true);
    expect(f.grant_types).toEqual(["authorization_code"]);
    expect(allowedAuthMethods("public")).toEqual(["none"]);
  });

  it("back to confidential picks client_secret_basic", () => {
    const f = withClientType(withClientType(valid(), "public"), "confidential");
    expect(f.token_endpoint_auth_method).toBe("client_secret_basic");
    expect(allowedAuthMethods("confidential")).not.toContain("none");
  });

  it("keeps response types in step with grants", () => {
    let f = withGrant(valid(), "authorization_code", false);
    expect(f.response_types).toEqual([]);
    f = withGrant(f, "implicit", true);
    expect(f.response_types).toEqual(["id_token token"]);
    f = withGrant(f, "authorization_code", true);
    expect(f.response_types).toEqual(["code", "id_token token"]);
    f = withGrant(f, "implicit", false);
    expect(f.response_types).toEqual(["code"]);
    expect(withGrant(f, "refresh_token", true).grant_types.filter((g) => g === "refresh_token")).toHaveLength(1);
  });
});

describe("conversions", () => {
  it("round-trips a client through the form", () => {
    const c = makeFixtures(1_700_000_000).clients[0]!;
    const input = toClientInput(clientToForm(c), { isNew: false });
    expect(input).toMatchObject({
      name: c.name,
      client_type: c.client_type,
      redirect_uris: c.redirect_uris,
      post_logout_redirect_uris: c.post_logout_redirect_uris,
      grant_types: c.grant_types,
      response_types: c.response_types,
      scopes: c.scopes,
      token_endpoint_auth_method: c.token_endpoint_auth_method,
      access_token_ttl: c.access_token_ttl,
      tags: c.tags,
    });
    expect(input).not.toHaveProperty("client_id");
    expect(input).not.toHaveProperty("client_secret");
    expect(input).not.toHaveProperty("jwks");
  });

  it("carries the PAR, DPoP and request-object switches and the back-channel logout URI both ways", () => {
    const c = {
      ...makeFixtures(1_700_000_000).clients[0]!,
      require_pushed_authorization_requests: true,
      dpop_bound_access_tokens: true,
      allow_unsigned_request_objects: false,
      backchannel_logout_uri: "https://app.example.test/bcl",
    };
    const form = clientToForm(c);
    expect(form.require_pushed_authorization_requests).toBe(true);
    expect(toClientInput(form, { isNew: false })).toMatchObject({
      require_pushed_authorization_requests: true,
      dpop_bound_access_tokens: true,
      allow_unsigned_request_objects: false,
      backchannel_logout_uri: "https://app.example.test/bcl",
    });
    // Cleared in the form: sent as "" (the core reads it as none).
    expect(toClientInput({ ...form, backchannel_logout_uri: " " }, { isNew: false }).backchannel_logout_uri).toBe("");
    expect(validateClientForm({ ...valid(), backchannel_logout_uri: "app/bcl" }, { isNew: true })).toHaveProperty(
      "backchannel_logout_uri",
    );
  });

  it("sends a chosen client id and the parsed lists when creating", () => {
    const input = toClientInput(
      {
        ...valid(),
        client_id: " my-app ",
        redirect_uris: " https://a.example/cb \n\nhttp://[::1]/cb",
        tags: "web, ,api,web",
        jwks: '{"keys":[]}',
      },
      { isNew: true },
    );
    expect(input.client_id).toBe("my-app");
    expect(input.redirect_uris).toEqual(["https://a.example/cb", "http://[::1]/cb"]);
    expect(input.tags).toEqual(["api", "web"]);
    expect(input.jwks).toEqual({ keys: [] });
  });

  it("parses tags and JWK Sets", () => {
    expect(parseTags("b, a\nc,,a")).toEqual(["a", "b", "c"]);
    expect(parseJwks("  ")).toBeUndefined();
    expect(() => parseJwks("[]")).toThrow(/"keys" array/);
  });

  it("maps core field names onto form fields", () => {
    expect(formFieldOf("redirect_uris")).toBe("redirect_uris");
    expect(formFieldOf("nonsense")).toBeNull();
    expect(formFieldOf(null)).toBeNull();
  });
});

describe("list filters", () => {
  const [web, mobile] = makeFixtures(1_700_000_000).clients;
  it("searches name, id, redirect URIs and tags", () => {
    expect(matchesSearch(web!, "next")).toBe(true);
    expect(matchesSearch(web!, "ACME-WEB")).toBe(true);
    expect(matchesSearch(mobile!, "oauth2redirect")).toBe(true);
    expect(matchesSearch(mobile!, "staging")).toBe(false);
    expect(matchesSearch(mobile!, "  ")).toBe(true);
  });
  it("needs every selected tag", () => {
    expect(matchesTags(web!, ["web", "staging"])).toBe(true);
    expect(matchesTags(web!, ["web", "mobile"])).toBe(false);
    expect(matchesTags(web!, [])).toBe(true);
  });
});

describe("claims and audience fields", () => {
  it("round-trip through the form into ClientInput", () => {
    const rules = [
      { name: "roles", from: "roles", into: ["access_token" as const, "id_token" as const] },
      { name: "tenant", value: "acme", into: ["access_token" as const] },
    ];
    const input = toClientInput(
      {
        ...valid(),
        preset: "keycloak",
        resources: " https://api.example.test \n\nurn:acme:api",
        default_audience: " https://api.example.test ",
        extra_claims: JSON.stringify(rules),
      },
      { isNew: true },
    );
    expect(input.preset).toBe("keycloak");
    expect(input.resources).toEqual(["https://api.example.test", "urn:acme:api"]);
    expect(input.default_audience).toBe("https://api.example.test");
    expect(input.extra_claims).toEqual(rules);
  });

  it("clears them with empty values the core reads as none", () => {
    const input = toClientInput(valid(), { isNew: true });
    expect(input.preset).toBe("");
    expect(input.default_audience).toBe("");
    expect(input.resources).toEqual([]);
    expect(input.extra_claims).toEqual([]);
  });

  it("refuses extra claims that are not an array of named rules", () => {
    const err = (extra_claims: string) =>
      validateClientForm({ ...valid(), extra_claims }, { isNew: true }).extra_claims;
    expect(err("")).toBeUndefined();
    expect(err("[{")).toMatch(/Not valid JSON/);
    expect(err('{"name": "roles"}')).toMatch(/JSON array of rules/);
    expect(err('[{"value": 1}]')).toMatch(/with a "name"/);
    expect(err('[{"name": "roles", "from": "roles"}]')).toBeUndefined();
  });
});

describe("parseTrustedIssuers", () => {
  it("reads an array of issuers with their JWK Sets, blank for none", () => {
    expect(parseTrustedIssuers("  ")).toEqual({ issuers: [], error: null });
    const one = [{ issuer: "https://idp.example.test", jwks: { keys: [] } }];
    expect(parseTrustedIssuers(JSON.stringify(one))).toEqual({ issuers: one, error: null });
  });
  it("names the shape it wants", () => {
    expect(parseTrustedIssuers("{").error).toMatch(/^Not valid JSON/);
    expect(parseTrustedIssuers('[{"issuer": "x"}]').error).toMatch(/array of \{issuer, jwks\}/);
    expect(parseTrustedIssuers('{"issuer": "x", "jwks": {"keys": []}}').error).toMatch(/array/);
  });
});
