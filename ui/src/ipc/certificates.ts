import type { ExportFormat } from "../bindings/ExportFormat";
import { call } from "./core";

export const certificates = () => call("certificates");
/** The core opens the native save dialog; resolves to the saved path, or null when cancelled. */
export const exportCertificate = (format: ExportFormat) => call("export_certificate", { format });
export const regenerateServerCertificate = () => call("regenerate_server_certificate");
