import { describe, expect, it } from "vitest";
import { stateAt } from "./state";

describe("stateAt", () => {
  it("shows an active token past its expiry as expired", () => {
    expect(stateAt({ state: "active", expires_at: 100 }, 99)).toBe("active");
    expect(stateAt({ state: "active", expires_at: 100 }, 100)).toBe("expired");
  });
  it("keeps what the core decided otherwise", () => {
    expect(stateAt({ state: "revoked", expires_at: 100 }, 200)).toBe("revoked");
    expect(stateAt({ state: "expired", expires_at: 300 }, 200)).toBe("expired");
  });
});
