import { describe, expect, it } from "vitest";
import { daysUntil, formatDuration, formatRelative, prettyJson } from "./format";
import { tokenizeJson } from "./json";
import { parseRoute } from "./router.svelte";
import { resolveTheme } from "./theme";

describe("format", () => {
  it("formats durations in their largest units", () => {
    expect(formatDuration(3600)).toBe("1 h");
    expect(formatDuration(2592000)).toBe("30 d");
    expect(formatDuration(90)).toBe("1 min 30 s");
    expect(formatDuration(0)).toBe("0 s");
    expect(formatDuration(3 * 365 * 86400 + 86400)).toBe("3 y 1 d");
  });
  it("formats relative times", () => {
    expect(formatRelative(1000, 1000)).toBe("just now");
    expect(formatRelative(1000 + 3540, 1000)).toBe("in 59 min");
    expect(formatRelative(1000, 1000 + 7200)).toBe("2 h ago");
  });
  it("counts whole days", () => {
    expect(daysUntil(86400 * 10 + 5, 0)).toBe(10);
    expect(daysUntil(0, 86400 * 2)).toBe(-2);
  });
  it("pretty-prints JSON and survives cycles", () => {
    expect(prettyJson({ a: 1 })).toBe('{\n  "a": 1\n}');
    const cyc: Record<string, unknown> = {};
    cyc.self = cyc;
    expect(prettyJson(cyc)).toBe("[object Object]");
  });
});

describe("tokenizeJson", () => {
  it("tells keys from string values and keeps every character", () => {
    const text = prettyJson({ key: "value", n: -1.5e3, ok: true, nil: null, list: ["x"] });
    const tokens = tokenizeJson(text);
    expect(tokens.map((t) => t.text).join("")).toBe(text);
    expect(tokens.filter((t) => t.kind === "key").map((t) => t.text)).toEqual([
      '"key"',
      '"n"',
      '"ok"',
      '"nil"',
      '"list"',
    ]);
    expect(tokens.filter((t) => t.kind === "string").map((t) => t.text)).toEqual(['"value"', '"x"']);
    expect(tokens.find((t) => t.kind === "number")?.text).toBe("-1500");
    expect(tokens.filter((t) => t.kind === "literal").map((t) => t.text)).toEqual(["true", "null"]);
  });
});

describe("routing and theme", () => {
  it("parses hash routes, defaulting to clients", () => {
    expect(parseRoute("#/tokens")).toBe("tokens");
    expect(parseRoute("#/settings?x=1")).toBe("settings");
    expect(parseRoute("")).toBe("clients");
    expect(parseRoute("#/nope")).toBe("clients");
  });
  it("resolves the system theme", () => {
    expect(resolveTheme("system", true)).toBe("dark");
    expect(resolveTheme("system", false)).toBe("light");
    expect(resolveTheme("dark", false)).toBe("dark");
  });
});
