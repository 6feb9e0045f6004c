import type { ExportFormat } from "../../bindings/ExportFormat";

/** Paths exported during this session, kept while the user moves between views. */
export const exported: Partial<Record<ExportFormat, string>> = $state({});
