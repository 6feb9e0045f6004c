import { describe, expect, it } from "vitest";
import { makeFixtures } from "../../../scripts/fixtures";
import { displayName, newUserForm, toUserInput, userToForm, validateUserForm } from "./userForm";

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
