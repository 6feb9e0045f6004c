import type { PendingConsent } from "../../bindings/PendingConsent";
import type { RequestEntry } from "../../bindings/RequestEntry";
import type { RequestStatus } from "../../bindings/RequestStatus";
import type { User } from "../../bindings/User";

/** The persona preselected for a consent: the login_hint when it names one, else the first. */
export function defaultPersona(c: PendingConsent, users: readonly User[]): string | null {
  if (c.login_hint && users.some((u) => u.username === c.login_hint)) return c.login_hint;
  return users[0]?.username ?? null;
}

export interface RequestFilters {
  clientId: string;
  status: RequestStatus | "";
}

export function matchesFilters(e: RequestEntry, f: RequestFilters): boolean {
  if (f.clientId && e.client_id !== f.clientId) return false;
  if (f.status && e.status !== f.status) return false;
  return true;
}

/**
 * Adds a live entry to a newest-first timeline: an entry seen before is updated in
 * place (its status moved on), a new one goes on top; the list stays within `max`.
 */
export function mergeEntry(list: readonly RequestEntry[], e: RequestEntry, max = 500): RequestEntry[] {
  const i = list.findIndex((x) => x.id === e.id);
  if (i >= 0) {
    const next = [...list];
    next[i] = e;
    return next;
  }
  const next = [e, ...list];
  if (next.length > max) next.length = max;
  return next;
}

/**
 * What a folded entry stands for (identical successful requests counted into one
 * entry by the provider), e.g. "×1,840 · 14:02:11 – 14:02:13"; null for one request.
 */
export function foldSummary(e: RequestEntry, time: (ts: number) => string): string | null {
  if (!e.count || e.count <= 1) return null;
  const span = e.last_at > e.at ? `${time(e.at)} – ${time(e.last_at)}` : time(e.at);
  return `×${e.count.toLocaleString("en")} · ${span}`;
}
