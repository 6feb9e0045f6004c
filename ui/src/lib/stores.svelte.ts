/** State shared by the shell and several views: provider status and pending consents. */
import type { PendingConsent } from "../bindings/PendingConsent";
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
