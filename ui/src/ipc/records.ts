import type { SeedFormat } from "../bindings/SeedFormat";
import { call } from "./core";

/** Clients, users and scopes as a seed file (what `authdesk export` writes and
 * `serve --seed` reads). The core opens the save dialog; resolves to the saved path,
 * or null when cancelled. */
export const exportRecords = (format: SeedFormat) => call("export_records", { format });
/** Applies a seed file the person picks (all or nothing); null when cancelled. */
export const importRecords = () => call("import_records");
