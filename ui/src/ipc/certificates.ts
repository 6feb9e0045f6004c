import type { ExportFormat } from "../bindings/ExportFormat";
import type { TrustStore } from "../bindings/TrustStore";
import { call } from "./core";

export const certificates = () => call("certificates");
/** The core opens the native save dialog; resolves to the saved path, or null when cancelled. */
export const exportCertificate = (format: ExportFormat) => call("export_certificate", { format });
export const regenerateServerCertificate = () => call("regenerate_server_certificate");
/** Whether each trust store and language runtime trusts the CA (`authdesk ca status`). */
export const trustStatus = () => call("trust_status");
/** Installs the CA in one store; one that needs root goes through the desktop's privilege prompt. */
export const installTrust = (store: TrustStore) => call("install_trust", { store });
export const uninstallTrust = (store: TrustStore) => call("uninstall_trust", { store });
