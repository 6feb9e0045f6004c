import type { MintInput } from "../bindings/MintInput";
import type { TokenFilter } from "../bindings/TokenFilter";
import { call } from "./core";

export const listTokens = (filter: TokenFilter = {}) => call("list_tokens", { filter });
export const getToken = (id: string) => call("get_token", { id });
export const revokeToken = (id: string) => call("revoke_token", { id });
/** Returns how many tokens were revoked. */
export const revokeClientTokens = (clientId: string) => call("revoke_client_tokens", { clientId });
/** Returns how many tokens were revoked. */
export const revokeUserTokens = (username: string) => call("revoke_user_tokens", { username });
export const expireToken = (id: string) => call("expire_token", { id });
/**
 * Mints a token without a flow, as `authdesk tokens mint` (stored, introspectable,
 * logged as minted); needs the running provider.
 */
export const mintToken = (request: MintInput) => call("mint_token", { request });
