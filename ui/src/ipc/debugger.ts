import type { Change } from "../bindings/Change";
import type { RequestEntry } from "../bindings/RequestEntry";
import type { TrialInput } from "../bindings/TrialInput";
import { call } from "./core";

/** Starts a sign-in as the client; a code or device trial comes back `waiting`. */
export const beginTrial = (input: TrialInput) => call("begin_trial", { input });
/** Waits for the browser (or the device) and runs the rest of the trial. */
export const finishTrial = (id: string) => call("finish_trial", { id });
export const cancelTrial = (id: string) => call("cancel_trial", { id });
export const ensurePlaygroundClient = () => call("ensure_playground_client");
/** A logged request beside its client's registration (null: no such client). */
export const compareRequest = (entry: RequestEntry) => call("compare_request", { entry });
export const applyFix = (clientId: string, change: Change) => call("apply_fix", { clientId, change });
/** What the running provider knows about a token (signature, stored record). */
export const tokenFacts = (token: string) => call("token_facts", { token });
