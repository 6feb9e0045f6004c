import type { ClientInput } from "../bindings/ClientInput";
import { call } from "./core";

export const listClients = () => call("list_clients");
export const getClient = (clientId: string) => call("get_client", { clientId });
export const createClient = (input: ClientInput) => call("create_client", { input });
export const updateClient = (clientId: string, input: ClientInput) => call("update_client", { clientId, input });
export const deleteClient = (clientId: string) => call("delete_client", { clientId });
export const regenerateClientSecret = (clientId: string) => call("regenerate_client_secret", { clientId });
/** Configuration snippets rendered by the core, one per client library. */
export const clientSnippets = (clientId: string) => call("client_snippets", { clientId });
