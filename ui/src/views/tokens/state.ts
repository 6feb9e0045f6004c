import type { TokenState } from "../../bindings/TokenState";

/** A token's state now: the core's, except that an active token past its expiry shows
 * as expired without waiting for an event (nothing announces a natural expiry). */
export function stateAt(t: { state: TokenState; expires_at: number }, now: number): TokenState {
  return t.state === "active" && t.expires_at <= now ? "expired" : t.state;
}
