import { describe, expect, it } from "vitest";
import {
  base64UrlDecode,
  base64UrlEncode,
  base64UrlToBytes,
  decodeJwt,
  JwtDecodeError,
  looksLikeJwt,
  timeClaims,
} from "./jwt";

// RFC 7515 Appendix A.1's example JWS (HS256), verbatim.
const RFC7515 =
  "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9" +
  ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ" +
  ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

const make = (header: unknown, payload: unknown, sig = "c2ln") =>
  `${base64UrlEncode(JSON.stringify(header))}.${base64UrlEncode(JSON.stringify(payload))}.${sig}`;

describe("base64url", () => {
  it("decodes with and without padding", () => {
    expect(base64UrlDecode("aGVsbG8")).toBe("hello");
    expect(base64UrlDecode("aGVsbG8=")).toBe("hello");
    expect(base64UrlDecode("")).toBe("");
  });

  it("uses the URL-safe alphabet", () => {
    // 0xfb 0xff → "-_8" in base64url, "+/8" in base64.
    expect([...base64UrlToBytes("-_8")]).toEqual([0xfb, 0xff]);
    expect(() => base64UrlToBytes("+/8")).toThrow(JwtDecodeError);
  });

  it("round-trips UTF-8", () => {
    const text = 'Zoë — 東京 🚀 "quoted"';
    expect(base64UrlDecode(base64UrlEncode(text))).toBe(text);
    expect(base64UrlEncode(text)).not.toMatch(/[+/=]/);
  });

  it("refuses impossible lengths and invalid UTF-8", () => {
    expect(() => base64UrlToBytes("abcde")).toThrow(/impossible base64url length/);
    // 0xff 0xfe is not UTF-8.
    expect(() => base64UrlDecode("__4")).toThrow(/not valid UTF-8/);
  });
});

describe("decodeJwt", () => {
  it("decodes the RFC 7515 example", () => {
    const d = decodeJwt(RFC7515);
    expect(d.header).toEqual({ typ: "JWT", alg: "HS256" });
    expect(d.payload).toEqual({ iss: "joe", exp: 1300819380, "http://example.com/is_root": true });
    expect(d.signature).toBe("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
    expect(d.alg).toBe("HS256");
    expect(d.kid).toBeNull();
  });

  it("reads the kid of the signing key and UTF-8 claims", () => {
    const d = decodeJwt(make({ alg: "RS256", kid: "key-1", typ: "at+jwt" }, { name: "Zoë", sub: "1" }));
    expect(d.kid).toBe("key-1");
    expect(d.payload.name).toBe("Zoë");
  });

  it("trims surrounding whitespace", () => {
    expect(decodeJwt(`  ${RFC7515}\n`).payload.iss).toBe("joe");
  });

  it.each([
    ["", /empty/],
    ["abc", /three dot-separated parts; this value has 1/],
    ["a.b", /this value has 2/],
    ["a.b.c.d.e", /encrypted JWT \(JWE\)/],
    [".eyJhIjoxfQ.sig", /header or payload part is empty/],
    ["e30.!!!.sig", /payload contains characters outside/],
    [`${base64UrlEncode("not json")}.e30.sig`, /header is not JSON/],
    [`e30.${base64UrlEncode("[1,2]")}.sig`, /payload is not a JSON object/],
    [`e30.${base64UrlEncode("{}")}.s*g`, /signature contains/],
    ["e30.__4.sig", /payload is not valid UTF-8/],
  ])("refuses %j", (token, message) => {
    expect(() => decodeJwt(token)).toThrow(JwtDecodeError);
    expect(() => decodeJwt(token)).toThrow(message);
  });

  it("tells a JWT from an opaque token", () => {
    expect(looksLikeJwt(RFC7515)).toBe(true);
    expect(looksLikeJwt("ad_tk_01_opaque")).toBe(false);
    expect(looksLikeJwt("a.b")).toBe(false);
  });

  it("picks the numeric time claims in display order", () => {
    expect(timeClaims({ exp: 20, iat: 10, nbf: "soon", auth_time: 9, name: "x" })).toEqual([
      ["iat", 10],
      ["auth_time", 9],
      ["exp", 20],
    ]);
  });
});
