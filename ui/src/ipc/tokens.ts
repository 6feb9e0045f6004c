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
