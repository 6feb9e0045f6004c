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
 * The timeline as loaded from the store, completed with the entries the window heard
 * live that the store does not hold yet (the provider stores its log a moment after it
 * publishes an entry, so a view opened right after a request would miss it). Stored
 * entries win; the heard ones that match the filters are placed by time, newest first.
 */
export function withHeard(
  stored: readonly RequestEntry[],
  heard: readonly RequestEntry[],
  filters: RequestFilters,
  max = 500,
): RequestEntry[] {
  const known = new Set(stored.map((e) => e.id));
  const missing = heard.filter((e) => !known.has(e.id) && matchesFilters(e, filters));
  if (missing.length === 0) return [...stored];
  // A stable sort: entries of the same second keep their order, the heard ones first.
  const all = [...missing, ...stored].sort((a, b) => b.at - a.at);
  if (all.length > max) all.length = max;
  return all;
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
