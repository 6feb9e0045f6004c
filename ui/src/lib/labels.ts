/** Display labels and badge tones for the core's enums. */
import type { ProviderState } from "../bindings/ProviderState";
import type { RequestStatus } from "../bindings/RequestStatus";
import type { TokenState } from "../bindings/TokenState";
import type { Tone } from "./components/Badge.svelte";

export const PROVIDER_STATE: Record<ProviderState, { label: string; tone: Tone }> = {
  starting: { label: "Starting", tone: "warning" },
  running: { label: "Running", tone: "success" },
  port_in_use: { label: "Port in use", tone: "danger" },
  stopped: { label: "Stopped", tone: "neutral" },
  error: { label: "Error", tone: "danger" },
};

export const TOKEN_STATE: Record<TokenState, { label: string; tone: Tone }> = {
  active: { label: "Active", tone: "success" },
  expired: { label: "Expired", tone: "neutral" },
  revoked: { label: "Revoked", tone: "danger" },
};

export const REQUEST_STATUS: Record<RequestStatus, { label: string; tone: Tone }> = {
  received: { label: "Received", tone: "info" },
  rejected: { label: "Rejected", tone: "danger" },
  pending_consent: { label: "Pending consent", tone: "warning" },
  approved: { label: "Approved", tone: "accent" },
  denied: { label: "Denied", tone: "danger" },
  completed: { label: "Completed", tone: "success" },
};

export const REQUEST_STATUSES = Object.keys(REQUEST_STATUS) as RequestStatus[];
export const TOKEN_STATES = Object.keys(TOKEN_STATE) as TokenState[];
