import type { SigningAlg } from "../bindings/SigningAlg";
import { call } from "./core";

/** Every signing key, newest first, with its state now. */
export const listKeys = () => call("list_keys");
/**
 * Rotates `alg`'s key (every algorithm in use when null). The replaced keys retire after
 * `retireAfterSecs` (0: at once; null: the provider's setting, 24 h).
 */
export const rotateKeys = (alg: SigningAlg | null, retireAfterSecs: number | null) =>
  call("rotate_keys", { alg, retireAfterSecs });
/** Retires a published key now: it leaves the JWKS; tokens it signed no longer verify. */
export const retireKey = (kid: string) => call("retire_key", { kid });
