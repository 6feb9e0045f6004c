import type { TokenDetail } from "../bindings/TokenDetail";
import type { TokenFilter } from "../bindings/TokenFilter";
import type { TokenSummary } from "../bindings/TokenSummary";
import { call } from "./core";

export const listTokens = (filter: TokenFilter = {}) => call<TokenSummary[]>("list_tokens", { filter });
export const getToken = (id: string) => call<TokenDetail>("get_token", { id });
export const revokeToken = (id: string) => call<void>("revoke_token", { id });
/** Returns how many tokens were revoked. */
export const revokeClientTokens = (clientId: string) => call<number>("revoke_client_tokens", { clientId });
/** Returns how many tokens were revoked. */
export const revokeUserTokens = (username: string) => call<number>("revoke_user_tokens", { username });
export const expireToken = (id: string) => call<TokenSummary>("expire_token", { id });
