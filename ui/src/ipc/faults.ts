import type { FaultSpec } from "../bindings/FaultSpec";
import { call } from "./core";

/** Every fault rule, oldest first. */
export const listFaults = () => call("list_faults");
/** Adds a rule (or runs a scenario) from the window. */
export const addFault = (spec: FaultSpec) => call("add_fault", { spec });
/** Removes one rule, or every rule without an id; returns how many. */
export const clearFaults = (id: number | null = null) => call("clear_faults", id === null ? {} : { id });
/** Pauses or resumes one rule, or all without an id; returns how many. */
export const pauseFaults = (id: number | null, paused: boolean) =>
  call("pause_faults", id === null ? { paused } : { id, paused });
