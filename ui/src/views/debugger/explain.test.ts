import { describe, expect, it } from "vitest";
import type { TokenFacts } from "../../bindings/TokenFacts";
import type { TokenSummary } from "../../bindings/TokenSummary";
import { base64UrlEncode } from "../tokens/jwt";
import { explain, relative, type Expectation } from "./explain";

const ISS = "https://localhost:8443";
const NOW = 1_800_000_000;

/** A compact JWS with the given header and claims (the signature is not checked here: the facts say). */
function jwt(header: Record<string, unknown>, claims: Record<string, unknown>): string {
  return `${base64UrlEncode(JSON.stringify(header))}.${base64UrlEncode(JSON.stringify(claims))}.c2lnbmF0dXJl`;
}

const header = { alg: "ES256", kid: "k1", typ: "at+jwt" };
const claims = { iss: ISS, sub: "alice", aud: "web-app", client_id: "web-app", iat: NOW - 60, exp: NOW + 3600 };

function facts(over: Partial<TokenFacts> = {}): TokenFacts {
  return { issuer: ISS, signature: "valid", stored: null, claims: null, now: NOW, ...over };
}

function summary(over: Partial<TokenSummary> = {}): TokenSummary {
  return {
    id: "t1",
    kind: "access_token",
    format: "jwt",
    client_id: "web-app",
    sub: "alice",
    username: "alice",
    scopes: ["openid"],
    issued_at: NOW - 60,
    expires_at: NOW + 3600,
    revoked_at: null,
    state: "active",
    grant_id: null,
    ...over,
  };
}

const expectApi: Expectation = { issuer: ISS, audience: "web-app", use: "access_token" };
const codes = (token: string, f: TokenFacts | null = facts(), e: Expectation = expectApi, now = NOW) =>
  explain(token, f, e, now).reasons.map((r) => r.code);

describe("explain", () => {
  it("accepts a valid access token for its audience", () => {
    const x = explain(jwt(header, claims), facts({ stored: summary() }), expectApi, NOW);
    expect(x.reasons).toEqual([]);
    expect(x.accepted).toBe(true);
    expect(x.claims?.["sub"]).toBe("alice");
    expect(x.times.map((t) => [t.claim, t.ok])).toEqual([
      ["iat", true],
      ["exp", true],
    ]);
  });

  it("wrong aud", () => {
    const x = explain(jwt(header, claims), facts(), { ...expectApi, audience: "https://api.example.com" }, NOW);
    expect(x.reasons.map((r) => r.code)).toEqual(["wrong_aud"]);
    expect(x.reasons[0]!.title).toContain("web-app");
    expect(x.accepted).toBe(false);
    // An audience among several is accepted.
    expect(codes(jwt(header, { ...claims, aud: ["a", "web-app"] }))).toEqual([]);
  });

  it("wrong iss", () => {
    const t = jwt(header, { ...claims, iss: "https://127.0.0.1:8443" });
    expect(codes(t)).toEqual(["wrong_iss"]);
    expect(codes(jwt(header, { ...claims, iss: undefined }))).toEqual(["wrong_iss"]);
  });

  it("expired, against the given now", () => {
    const t = jwt(header, claims);
    expect(codes(t, facts(), expectApi, NOW + 3600)).toEqual(["expired"]);
    expect(codes(t, facts(), expectApi, NOW + 3599)).toEqual([]);
    const x = explain(t, facts(), expectApi, NOW + 7200);
    expect(x.reasons[0]!.title).toBe("expired 1 h ago");
  });

  it("not yet valid", () => {
    expect(codes(jwt(header, { ...claims, nbf: NOW + 300 }))).toEqual(["not_yet_valid"]);
    expect(codes(jwt(header, { ...claims, nbf: NOW }))).toEqual([]);
  });

  it("issued in the future", () => {
    expect(codes(jwt(header, { ...claims, iat: NOW + 600 }))).toEqual(["issued_in_future"]);
  });

  it("typ not at+jwt for an access token, but fine for an ID token", () => {
    const idToken = jwt({ alg: "RS256", kid: "k2", typ: "JWT" }, claims);
    expect(codes(idToken)).toEqual(["typ_not_at_jwt"]);
    expect(codes(jwt({ alg: "RS256", kid: "k2" }, claims))).toEqual(["typ_not_at_jwt"]);
    expect(codes(idToken, facts(), { ...expectApi, use: "id_token" })).toEqual([]);
    expect(codes(jwt({ ...header, typ: "application/at+jwt" }, claims))).toEqual([]);
  });

  it("revoked", () => {
    const f = facts({ stored: summary({ state: "revoked", revoked_at: NOW - 5 }) });
    expect(codes(jwt(header, claims), f)).toEqual(["revoked"]);
  });

  it("unknown kid", () => {
    const x = explain(jwt({ ...header, kid: "rotated" }, claims), facts({ signature: "unknown_kid" }), expectApi, NOW);
    expect(x.reasons.map((r) => r.code)).toEqual(["unknown_kid"]);
    expect(x.reasons[0]!.title).toContain("rotated");
  });

  it("a changed token's signature, another provider's token, an unsigned one", () => {
    expect(codes(jwt(header, claims), facts({ signature: "invalid" }))).toEqual(["bad_signature"]);
    const foreign = jwt(header, { ...claims, iss: "https://login.example.com" });
    expect(codes(foreign, facts({ signature: "foreign" }))).toEqual(["foreign", "wrong_iss"]);
    expect(codes(jwt({ alg: "none", typ: "at+jwt" }, claims), facts({ signature: "unsigned" }))).toEqual(["unsigned"]);
  });

  it("no exp", () => {
    expect(codes(jwt(header, { ...claims, exp: undefined }))).toEqual(["no_exp"]);
  });

  it("several reasons at once", () => {
    const t = jwt({ alg: "RS256", kid: "k9" }, { iss: "https://evil.example", aud: "x", exp: NOW - 10 });
    expect(codes(t, facts({ signature: "foreign" }))).toEqual([
      "foreign",
      "expired",
      "wrong_iss",
      "wrong_aud",
      "typ_not_at_jwt",
    ]);
  });

  it("an opaque token Authdesk knows is explained from its record", () => {
    const f = facts({
      signature: "not_jwt",
      stored: summary({ format: "opaque", state: "revoked", revoked_at: NOW - 1 }),
      claims: { iss: ISS, aud: "web-app", exp: NOW + 100, iat: NOW - 100, sub: "alice" },
    });
    const x = explain("Zq3opaque-token-value", f, expectApi, NOW);
    expect(x.format).toBe("opaque");
    expect(x.claims?.["sub"]).toBe("alice");
    expect(x.reasons.map((r) => r.code)).toEqual(["revoked"]);
    // …and checked for expiry and audience like a JWT (no typ for an opaque token).
    expect(codes("Zq3opaque-token-value", f, { ...expectApi, audience: "other" }, NOW + 200)).toEqual([
      "revoked",
      "expired",
      "wrong_aud",
    ]);
  });

  it("an opaque token Authdesk does not know", () => {
    const x = explain("nope", facts({ signature: "not_jwt" }), expectApi, NOW);
    expect(x.reasons.map((r) => r.code)).toEqual(["unknown_token"]);
    expect(x.accepted).toBe(false);
  });

  it("a malformed JWT", () => {
    expect(codes("abc.!!!.def")).toContain("malformed");
  });

  it("without the provider's facts nothing is called accepted", () => {
    const x = explain(jwt(header, claims), null, expectApi, NOW);
    expect(x.reasons).toEqual([]);
    expect(x.accepted).toBe(false);
    expect(x.signature).toBeNull();
  });

  it("relative times", () => {
    expect(relative(30)).toBe("in 30 s");
    expect(relative(-120)).toBe("2 min ago");
    expect(relative(3 * 86400)).toBe("in 3 days");
  });
});
