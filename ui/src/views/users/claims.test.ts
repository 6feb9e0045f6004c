import { describe, expect, it } from "vitest";
import { makeFixtures } from "../../../scripts/fixtures";
import {
  RESERVED_CLAIMS,
  displayName,
  newUserForm,
  parseClaims,
  toUserInput,
  userToForm,
  validateUserForm,
  validateUsername,
} from "./claims";

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

describe("user form", () => {
  const alice = makeFixtures(1_700_000_000).users[0]!;

  it("starts with example claims that validate", () => {
    const f = { ...newUserForm(), username: "carol" };
    expect(validateUserForm(f)).toEqual({});
  });

  it("reports username and claims problems together", () => {
    const errors = validateUserForm({ ...newUserForm(), username: "", claims: '{"sub": "x"}' });
    expect(errors.username).toBeDefined();
    expect(errors.claims).toMatch(/'sub'/);
  });

  it("creates with an optional sub and password", () => {
    expect(toUserInput({ ...newUserForm(), username: "carol", claims: "{}" }, { isNew: true })).toEqual({
      username: "carol",
      claims: {},
    });
    expect(
      toUserInput(
        { username: "carol", sub: " s-1 ", password: "pw", remove_password: false, claims: '{"a":1}' },
        { isNew: true },
      ),
    ).toEqual({ username: "carol", sub: "s-1", password: "pw", claims: { a: 1 } });
  });

  it("edits without touching the password unless asked", () => {
    const f = userToForm(alice);
    expect(toUserInput(f, { isNew: false })).not.toHaveProperty("password");
    expect(toUserInput({ ...f, remove_password: true }, { isNew: false }).password).toBe("");
    expect(toUserInput({ ...f, password: "new" }, { isNew: false }).password).toBe("new");
    expect(toUserInput(f, { isNew: false })).not.toHaveProperty("sub");
  });

  it("refuses to build input from invalid claims", () => {
    expect(() => toUserInput({ ...userToForm(alice), claims: "[]" }, { isNew: false })).toThrow(/JSON object/);
  });

  it("shows the name claim, else the username", () => {
    expect(displayName(alice)).toBe("Alice Example");
    expect(displayName({ ...alice, claims: {} })).toBe("alice");
  });
});
