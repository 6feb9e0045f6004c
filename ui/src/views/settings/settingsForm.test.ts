import { describe, expect, it } from "vitest";
import { makeFixtures } from "../../../scripts/fixtures";
import { isLoopbackAddress, validatePort } from "../../lib/forms/rules";
import { normalizeSettings, validateSettings } from "./settingsForm";

const base = makeFixtures(1_700_000_000).settings;

describe("settings validation", () => {
  it("accepts the defaults", () => {
    expect(validateSettings(base)).toEqual({});
  });
  it("checks the port", () => {
    expect(validatePort(8443)).toBeNull();
    expect(validatePort(0)).toMatch(/1 to 65535/);
    expect(validatePort(65536)).toMatch(/1 to 65535/);
    expect(validatePort(null)).toMatch(/enter/);
  });
  it("checks the bind address and the issuer", () => {
    expect(validateSettings({ ...base, bind_address: " " }).bind_address).toMatch(/enter an address/);
    expect(validateSettings({ ...base, bind_address: "300.1.1.1" }).bind_address).toMatch(/not an IPv4/);
    expect(validateSettings({ ...base, issuer_override: "http://host.docker.internal:8443" }).issuer_override).toMatch(
      /https/,
    );
    expect(validateSettings({ ...base, issuer_override: "https://h:8443/?x" }).issuer_override).toMatch(/no query/);
    expect(validateSettings({ ...base, issuer_override: "https://host.docker.internal:8443" })).toEqual({});
  });
  it("knows loopback addresses", () => {
    expect(isLoopbackAddress("127.0.0.1")).toBe(true);
    expect(isLoopbackAddress("::1")).toBe(true);
    expect(isLoopbackAddress("0.0.0.0")).toBe(false);
  });
  it("sends an empty issuer override as null", () => {
    expect(normalizeSettings({ ...base, issuer_override: "  " }).issuer_override).toBeNull();
    expect(normalizeSettings({ ...base, bind_address: " 127.0.0.1 " }).bind_address).toBe("127.0.0.1");
  });
});
