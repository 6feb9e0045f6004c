import type { CertificatesInfo } from "../bindings/CertificatesInfo";
import type { ExportFormat } from "../bindings/ExportFormat";
import { call } from "./core";

export const certificates = () => call<CertificatesInfo>("certificates");
/** The core opens the native save dialog; resolves to the saved path, or null when cancelled. */
export const exportCertificate = (format: ExportFormat) => call<string | null>("export_certificate", { format });
export const regenerateServerCertificate = () => call<CertificatesInfo>("regenerate_server_certificate");
