import { describe, expect, it } from "vitest";
import { makeFixtures } from "../../../scripts/fixtures";
import { defaultPersona, matchesFilters, mergeEntry, withHeard } from "./requests";

const fx = makeFixtures(1_700_000_000);

describe("defaultPersona", () => {
  const consent = fx.consents[0]!;
  it("prefers the login_hint when it names a persona", () => {
    expect(defaultPersona({ ...consent, login_hint: "bob" }, fx.users)).toBe("bob");
  });
  it("falls back to the first persona, or none", () => {
    expect(defaultPersona({ ...consent, login_hint: "nobody" }, fx.users)).toBe("alice");
    expect(defaultPersona({ ...consent, login_hint: null }, [])).toBeNull();
  });
});

describe("mergeEntry", () => {
  const list = fx.requests;
  it("prepends new entries and caps the list", () => {
    const e = { ...list[0]!, id: "new" };
    expect(mergeEntry(list, e)[0]).toBe(e);
    expect(mergeEntry(list, e, 3)).toHaveLength(3);
  });
  it("replaces an entry with the same id in place", () => {
    const updated = { ...list[2]!, status: "rejected" as const };
    const merged = mergeEntry(list, updated);
    expect(merged).toHaveLength(list.length);
    expect(merged[2]).toBe(updated);
    expect(list[2]!.status).not.toBe("rejected");
  });
});

describe("matchesFilters", () => {
  const e = fx.requests[1]!; // mobile, rejected
  it("matches on client and status", () => {
    expect(matchesFilters(e, { clientId: "", status: "" })).toBe(true);
    expect(matchesFilters(e, { clientId: "com.acme.mobile", status: "rejected" })).toBe(true);
    expect(matchesFilters(e, { clientId: "acme-web", status: "" })).toBe(false);
    expect(matchesFilters(e, { clientId: "", status: "completed" })).toBe(false);
  });
});

describe("withHeard", () => {
  const stored = fx.requests;
  const all = { clientId: "", status: "" as const };
  it("adds the heard entries the store does not hold, placed by time", () => {
    const newest = { ...stored[0]!, id: "heard-new", at: stored[0]!.at + 5 };
    const merged = withHeard(stored, [newest], all);
    expect(merged[0]).toBe(newest);
    expect(merged.slice(1)).toEqual(stored);
  });
  it("keeps the stored version of an entry it heard too", () => {
    const again = { ...stored[1]!, count: 7 };
    expect(withHeard(stored, [again], all)).toEqual(stored);
  });
  it("leaves out heard entries the filters exclude, and caps the list", () => {
    const other = { ...stored[0]!, id: "heard-other", client_id: "someone-else", at: stored[0]!.at + 5 };
    const filters = { clientId: stored[0]!.client_id ?? "", status: "" as const };
    expect(withHeard(stored, [other], filters).map((e) => e.id)).not.toContain("heard-other");
    expect(withHeard(stored, [other], all, 2)).toHaveLength(2);
  });
});
