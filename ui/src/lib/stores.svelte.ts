/**
 * State shared by the shell and several views: provider status, pending consents and
 * the request entries heard lately.
 */
import type { PendingConsent } from "../bindings/PendingConsent";
import type { RequestEntry } from "../bindings/RequestEntry";
import type { ProviderStatus } from "../bindings/ProviderStatus";
import { errorMessage } from "../ipc/core";
import { providerStatus } from "../ipc/provider";
import { listPendingConsents } from "../ipc/requests";

export const provider: { status: ProviderStatus | null; error: string | null } = $state({
  status: null,
  error: null,
});

export function setStatus(status: ProviderStatus): void {
  provider.status = status;
  provider.error = null;
}

export async function refreshStatus(): Promise<void> {
  try {
    setStatus(await providerStatus());
  } catch (e) {
    provider.error = errorMessage(e);
  }
}

export const consents: { items: PendingConsent[]; error: string | null } = $state({ items: [], error: null });

/** A token another view asked the Tokens view to open (a request's issued tokens). */
export const tokenFocus: { id: string | null } = $state({ id: null });

export async function refreshConsents(): Promise<void> {
  try {
    consents.items = await listPendingConsents();
    consents.error = null;
  } catch (e) {
    consents.error = errorMessage(e);
  }
}

export function addConsent(c: PendingConsent): void {
  const i = consents.items.findIndex((x) => x.request_id === c.request_id);
  if (i >= 0) consents.items[i] = c;
  else consents.items.unshift(c);
}

export function removeConsent(requestId: string): void {
  consents.items = consents.items.filter((c) => c.request_id !== requestId);
}

/** How many request entries the window keeps from the event stream. */
const HEARD_MAX = 300;

/**
 * The request entries the window heard lately, newest first, whichever view is open:
 * the Requests view adds the ones its store query did not return yet.
 */
export const heardRequests: RequestEntry[] = [];

export function hearRequest(e: RequestEntry): void {
  const i = heardRequests.findIndex((x) => x.id === e.id);
  if (i >= 0) heardRequests.splice(i, 1);
  heardRequests.unshift(e);
  if (heardRequests.length > HEARD_MAX) heardRequests.length = HEARD_MAX;
}
