/**
 * The debugger's state, kept outside the view so a trial waiting for the browser goes
 * on while the person looks at another view (the consent in Requests, say).
 */
import type { Trial } from "../../bindings/Trial";
import type { TrialFlow } from "../../bindings/TrialFlow";
import type { TrialInput } from "../../bindings/TrialInput";
import { beginTrial, cancelTrial, ensurePlaygroundClient, finishTrial } from "../../ipc/debugger";
import { errorMessage } from "../../ipc/core";
import { navigate } from "../../lib/router.svelte";

export type DebuggerTab = "try" | "explain";

export const debug: {
  tab: DebuggerTab;
  /** The client the Try form starts with (the Clients view's "Try a sign-in"). */
  clientId: string | null;
  flow: TrialFlow;
  trial: Trial | null;
  running: boolean;
  error: string | null;
  /** The token the Explain tab starts with (a card's or the Tokens view's "Explain"). */
  token: string;
  /** The last refresh token a trial received, offered to the refresh flow. */
  refreshToken: string | null;
} = $state({
  tab: "try",
  clientId: null,
  flow: "authorization_code",
  trial: null,
  running: false,
  error: null,
  token: "",
  refreshToken: null,
});

function remember(t: Trial) {
  debug.trial = t;
  for (const s of t.steps) {
    const body = s.answer?.body as Record<string, unknown> | undefined;
    if (s.name === "token" && body && typeof body["refresh_token"] === "string") {
      debug.refreshToken = body["refresh_token"];
    }
  }
}

/** Runs a trial to its end: begins it, and while it waits, waits for the browser. */
export async function runTrial(input: TrialInput): Promise<void> {
  if (debug.trial?.state === "waiting") await cancelTrial(debug.trial.id).catch(() => {});
  debug.running = true;
  debug.error = null;
  debug.trial = null;
  try {
    let t = await beginTrial(input);
    remember(t);
    if (t.state === "waiting") {
      t = await finishTrial(t.id);
      // A newer trial may have replaced this one meanwhile.
      const current = debug.trial as Trial | null;
      if (current?.id === t.id) remember(t);
    }
  } catch (e) {
    debug.error = errorMessage(e);
  } finally {
    debug.running = false;
  }
}

export async function stopTrial(): Promise<void> {
  if (debug.trial?.state === "waiting") await cancelTrial(debug.trial.id).catch(() => {});
}

/** Opens the Try tab for a client (and starts the code flow right away when asked). */
export function tryClient(clientId: string, start = false): void {
  debug.tab = "try";
  debug.clientId = clientId;
  navigate("debugger");
  if (start) {
    debug.flow = "authorization_code";
    void runTrial({ client_id: clientId, flow: "authorization_code", extra: {} });
  }
}

/** The first run's "Try a sign-in with the playground client". */
export async function tryPlayground(): Promise<void> {
  try {
    const c = await ensurePlaygroundClient();
    tryClient(c.client_id, true);
  } catch (e) {
    debug.error = errorMessage(e);
    navigate("debugger");
  }
}

/** Opens the Explain tab with a token. */
export function explainToken(token: string): void {
  debug.tab = "explain";
  debug.token = token;
  navigate("debugger");
}
