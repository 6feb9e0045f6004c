/**
 * The Certificates view's trust-store section, the parts without a component: labels,
 * tones, which buttons apply, and what a change reports. Pure, so tested without a window.
 */
import type { Tone } from "../../lib/components/Badge.svelte";
import type { StoreStatus } from "../../bindings/StoreStatus";
import type { TrustReport } from "../../bindings/TrustReport";
import type { TrustState } from "../../bindings/TrustState";

export const STATE_LABEL: Record<TrustState, string> = {
  trusted: "Trusted",
  not_trusted: "Not trusted",
  partly: "Partly trusted",
  unknown: "Unknown",
  absent: "Not found",
};

export function stateTone(state: TrustState): Tone {
  switch (state) {
    case "trusted":
      return "success";
    case "partly":
    case "unknown":
      return "warning";
    case "not_trusted":
      return "danger";
    case "absent":
      return "neutral";
  }
}

/** Install applies when it would change something and nothing stands in the way. */
export function canInstall(s: StoreStatus): boolean {
  return s.install_commands.length > 0 && s.problem === null;
}

/** Remove applies when something of Authdesk's is there (the CA or a stale one). */
export function canRemove(s: StoreStatus): boolean {
  return s.uninstall_commands.length > 0 && s.problem === null;
}

/** One sentence for the toast after a change. */
export function reportMessage(report: TrustReport, install: boolean): string {
  const done = report.changes.filter((c) => c.outcome === (install ? "installed" : "removed"));
  if (done.length === 0) {
    return install ? "Already trusted there; nothing changed" : "Nothing of Authdesk's was there; nothing removed";
  }
  const where = done.map((c) => c.name).join(", ");
  const stale = done.reduce((n, c) => n + c.removed.filter((fp) => fp !== report.status.ca_sha256).length, 0);
  const staleNote = stale ? ` (and ${stale} stale Authdesk CA${stale === 1 ? "" : "s"} removed)` : "";
  return install
    ? `Installed in ${where}${staleNote}; restart browsers that are open`
    : `Removed from ${where}${staleNote}`;
}
