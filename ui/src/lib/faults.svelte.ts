/**
 * The fault rules the window knows of (failures on demand): the Faults view lists them
 * and the banner on every view counts the active ones, so nobody forgets a rule.
 * Refreshed on `faults_changed` and every few seconds (a rule added by the CLI, or one
 * that ended, shows without a click).
 */
import type { FaultView } from "../bindings/FaultView";
import { listFaults } from "../ipc/faults";

export const faults: { items: FaultView[]; error: string | null } = $state({ items: [], error: null });

export async function refreshFaults(): Promise<void> {
  try {
    faults.items = await listFaults();
    faults.error = null;
  } catch (e) {
    faults.error = e instanceof Error ? e.message : String(e);
  }
}

/** The rules that still change requests. */
export function activeFaults(): FaultView[] {
  return faults.items.filter((f) => f.active);
}
