import { describe, expect, it } from "vitest";
import { LIMITS } from "../../bindings/Limits";
import {
  RESERVED_CLAIMS,
  collectErrors,
  isLoopbackHost,
  parseClaims,
  validateClientId,
  validateCodeTtl,
  validateLogMaxAgeDays,
  validateLogMaxEntries,
  validateRedirectUri,
  validateScopeName,
  validateTtl,
  validateUriLines,
  validateUsername,
} from "./rules";

describe("validateRedirectUri", () => {
  it.each([
    "https://app.example.com/callback",
    "https://app.example.com:8443/cb?x=1",
    "http://127.0.0.1:8080/callback",
    "http://127.0.0.1/callback",
    "http://127.5.6.7:1234/cb",
    "http://[::1]:3000/cb",
    "http://localhost:3000/api/auth/callback/authdesk",
    "http://LOCALHOST/cb",
    "com.example.app:/oauth2redirect",
    "com.example.app://callback",
    "myapp:/cb",
  ])("accepts %s", (uri) => {
    expect(validateRedirectUri(uri)).toBeNull();
  });

  it.each([
    ["", /empty/],
    ["/callback", /not an absolute URI/],
    ["localhost:3000/cb", /has no scheme; write it in full, e.g. http:\/\/localhost:3000\/cb/],
    ["127.0.0.1:8080/cb", /absolute|not a valid/],
    ["https://app.example.com/cb#frag", /#fragment/],
    ["https://app.example.com/cb#", /#fragment/],
    ["http://example.com/cb", /http on a non-local host/],
    ["http://192.168.1.10/cb", /http on a non-local host/],
    ["http://localhost.evil.com/cb", /http on a non-local host/],
    ["https://app.example.com/cb with space", /space/],
    ["https://*.example.com/cb", /wildcard|not a valid/],
    ["https://app.example.com/*", /wildcard/],
    ["javascript:alert(1)", /never a valid redirect/],
    ["data:text/html,hi", /never a valid redirect/],
    ["file:///etc/passwd", /never a valid redirect/],
    ["http://", /not a valid URI/],
  ])("refuses %j", (uri, message) => {
    expect(validateRedirectUri(uri)).toMatch(message);
  });
});

describe("isLoopbackHost", () => {
  it("knows the loopback names", () => {
    expect(isLoopbackHost("127.0.0.1")).toBe(true);
    expect(isLoopbackHost("[::1]")).toBe(true);
    expect(isLoopbackHost("localhost")).toBe(true);
    expect(isLoopbackHost("128.0.0.1")).toBe(false);
    expect(isLoopbackHost("example.com")).toBe(false);
  });
});

describe("validateUriLines", () => {
  it("names the line of the first bad URI and ignores blank lines", () => {
    expect(validateUriLines("https://a.example/cb\n\n  http://evil.example/cb  ")).toMatch(/^Line 3: /);
  });
  it("refuses duplicates", () => {
    expect(validateUriLines("https://a.example/cb\nhttps://a.example/cb")).toMatch(/Line 2: .* listed twice/);
  });
  it("accepts an empty list", () => {
    expect(validateUriLines("  \n")).toBeNull();
  });
});

describe("parseClaims", () => {
  it("accepts an object", () => {
    expect(parseClaims('{"name": "Carol", "groups": ["a"], "nested": {"sub": 1}}')).toEqual({
      ok: true,
      claims: { name: "Carol", groups: ["a"], nested: { sub: 1 } },
    });
  });

  it("treats blank text as no claims", () => {
    expect(parseClaims("  \n ")).toEqual({ ok: true, claims: {} });
  });

  it.each(["[]", '"carol"', "42", "null", "true"])("refuses a non-object: %s", (text) => {
    const r = parseClaims(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(/must be a JSON object/);
  });

  it("reports invalid JSON", () => {
    const r = parseClaims('{\n  "name": "Carol",\n}');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(/^Not valid JSON/);
  });

  it.each(RESERVED_CLAIMS.map((c) => [c]))("refuses the reserved claim %s", (claim) => {
    const r = parseClaims(JSON.stringify({ name: "x", [claim]: "y" }));
    expect(r).toEqual({ ok: false, error: expect.stringContaining(`'${claim}' is set by the provider`) });
  });

  it("names every reserved claim present", () => {
    const r = parseClaims('{"iss": 1, "aud": 2, "email": "e"}');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(/'iss', 'aud' are set by the provider.*remove them/);
  });

  it("lists exactly the reserved claims of the core", () => {
    expect([...RESERVED_CLAIMS].sort()).toEqual(
      [
        "sub",
        "iss",
        "aud",
        "exp",
        "iat",
        "nbf",
        "jti",
        "auth_time",
        "nonce",
        "at_hash",
        "c_hash",
        "azp",
        "acr",
        "amr",
        "sid",
      ].sort(),
    );
  });
});

describe("validateUsername", () => {
  it("accepts identifiers", () => {
    expect(validateUsername("alice")).toBeNull();
    expect(validateUsername("bob.smith-2_x@example.com")).toBeNull();
  });
  it("refuses empty, spaces, colons and long names", () => {
    expect(validateUsername("")).toMatch(/needs a username/);
    expect(validateUsername("carol smith")).toMatch(/a space/);
    expect(validateUsername("a:b")).toMatch(/":"/);
    expect(validateUsername("x".repeat(201))).toMatch(/200/);
  });
});

describe("bounds from Rust (LIMITS)", () => {
  it("takes a lifetime within the core's bounds, in whole seconds", () => {
    expect(validateTtl(LIMITS.ttl.min)).toBeNull();
    expect(validateTtl(LIMITS.ttl.max)).toBeNull();
    expect(validateTtl(LIMITS.ttl.max + 1)).toBe(
      `${LIMITS.ttl.max + 1} is not a lifetime between 1 second and 10 years`,
    );
    expect(validateTtl(0)).toMatch(/between 1 second and 10 years/);
    expect(validateTtl(1.5)).toMatch(/whole number/);
    expect(validateTtl(null)).toMatch(/enter a lifetime/);
    expect(validateTtl(Number.NaN)).toMatch(/enter a lifetime/);
  });

  it("keeps the request log within the shell's bounds", () => {
    const { log_max_entries: entries, log_max_age_days: days } = LIMITS;
    expect([entries.min, entries.max, days.min, days.max]).toEqual([100, 1_000_000, 1, 365]);
    expect(validateLogMaxEntries(entries.min)).toBeNull();
    expect(validateLogMaxEntries(entries.max)).toBeNull();
    expect(validateLogMaxEntries(entries.min - 1)).toBe("keep between 100 and 1,000,000 entries");
    expect(validateLogMaxEntries(entries.max + 1)).toMatch(/1,000,000/);
    expect(validateLogMaxEntries(150.5)).toMatch(/keep between/);
    expect(validateLogMaxEntries(null)).toMatch(/keep between/);
    expect(validateLogMaxAgeDays(days.max)).toBeNull();
    expect(validateLogMaxAgeDays(days.max + 1)).toBe("keep entries between 1 and 365 days");
    expect(validateLogMaxAgeDays(undefined)).toMatch(/between 1 and 365/);
  });

  it("starts new clients from the core's default lifetimes and scopes", () => {
    expect(LIMITS.default_access_token_ttl).toBe(3600);
    expect(LIMITS.default_refresh_token_ttl).toBe(30 * 24 * 3600);
    expect(LIMITS.default_scopes).toEqual(["openid", "profile", "email", "offline_access"]);
  });

  it("limits identifiers to the core's length", () => {
    const longest = "x".repeat(LIMITS.max_identifier_len);
    expect(validateClientId(longest)).toBeNull();
    expect(validateClientId(longest + "x")).toMatch(/at most 200 characters/);
    expect(validateUsername(longest)).toBeNull();
    expect(validateUsername(longest + "x")).toMatch(/at most 200 characters/);
    expect(validateClientId("")).toBeNull();
  });
});

describe("scope names", () => {
  it("accepts RFC 6749 scope tokens and nothing typed yet", () => {
    expect(validateScopeName("")).toBeNull();
    expect(validateScopeName(" api:read ")).toBeNull();
    expect(validateScopeName("has space")).toMatch(/printable ASCII without spaces/);
    expect(validateScopeName('quo"te')).toMatch(/RFC 6749/);
    expect(validateScopeName("back\\slash")).toMatch(/RFC 6749/);
  });
});

describe("collectErrors", () => {
  it("keeps the messages of the rules that failed", () => {
    expect(collectErrors({ a: null, b: "bad", c: "" })).toEqual({ b: "bad" });
    expect(collectErrors({})).toEqual({});
  });
});

describe("validateCodeTtl", () => {
  it("accepts 1 to the core's maximum and refuses the rest", () => {
    expect(LIMITS.code_ttl).toEqual({ min: 1, max: 600 });
    expect(validateCodeTtl(LIMITS.default_code_ttl)).toBeNull();
    expect(validateCodeTtl(1)).toBeNull();
    expect(validateCodeTtl(600)).toBeNull();
    expect(validateCodeTtl(601)).toMatch(/between 1 and 600 seconds/);
    expect(validateCodeTtl(0)).toMatch(/between 1 and 600 seconds/);
    expect(validateCodeTtl(1.5)).toMatch(/between 1 and 600 seconds/);
    expect(validateCodeTtl(null)).toMatch(/enter a lifetime/);
  });
});
