import type { ScopeInput } from "../bindings/ScopeInput";
import type { UserInput } from "../bindings/UserInput";
import { call } from "./core";

export const listUsers = () => call("list_users");
export const createUser = (input: UserInput) => call("create_user", { input });
export const updateUser = (username: string, input: UserInput) => call("update_user", { username, input });
export const deleteUser = (username: string) => call("delete_user", { username });
export const listScopes = () => call("list_scopes");
/** Remembered consents (persona × client × scopes), of one persona or all. */
export const listConsents = (username: string | null) => call("list_consents", { username });
/** Forgets a persona's consent to a client and revokes what it granted. */
export const revokeConsent = (username: string, clientId: string) => call("revoke_consent", { username, clientId });
/** Ends a persona's provider sessions; the clients they signed in to get a back-channel logout. */
export const signOutUser = (username: string) => call("sign_out_user", { username });
/** Creates a scope, or updates the one of that name. */
export const saveScope = (input: ScopeInput) => call("save_scope", { input });
/** Deletes a scope no client is allowed. */
export const deleteScope = (name: string) => call("delete_scope", { name });
