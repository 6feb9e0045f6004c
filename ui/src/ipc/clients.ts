import type { Client } from "../bindings/Client";
import type { ClientInput } from "../bindings/ClientInput";
import type { Snippet } from "../bindings/Snippet";
import { call } from "./core";

export const listClients = () => call<Client[]>("list_clients");
export const getClient = (clientId: string) => call<Client>("get_client", { clientId });
export const createClient = (input: ClientInput) => call<Client>("create_client", { input });
export const updateClient = (clientId: string, input: ClientInput) =>
  call<Client>("update_client", { clientId, input });
export const deleteClient = (clientId: string) => call<void>("delete_client", { clientId });
export const regenerateClientSecret = (clientId: string) => call<Client>("regenerate_client_secret", { clientId });
/** Configuration snippets rendered by the core, one per client library. */
export const clientSnippets = (clientId: string) => call<Snippet[]>("client_snippets", { clientId });
