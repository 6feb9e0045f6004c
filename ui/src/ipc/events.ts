/**
 * Window events from the core. `provider://event` carries every `ProviderEvent`;
 * `provider://status` carries a bare `ProviderStatus` when the server changes state.
 */
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import type { ProviderEvent } from "../bindings/ProviderEvent";
import type { ProviderStatus } from "../bindings/ProviderStatus";

export const PROVIDER_EVENT = "provider://event";
export const PROVIDER_STATUS_EVENT = "provider://status";

/**
 * Events the desktop shell itself may put on `provider://event` besides the core's
 * `ProviderEvent`s. Declared here too so the window keeps compiling when the
 * generated `ProviderEvent` binding lists only the core's variants.
 */
export type ShellEvent = { type: "status"; status: ProviderStatus } | { type: "settings_changed" };
export type WindowEvent = ProviderEvent | ShellEvent;
export type ProviderEventType = WindowEvent["type"];
export type EventOf<T extends ProviderEventType> = Extract<WindowEvent, { type: T }>;

/** Stops a subscription; safe to call before the subscription is established. */
export type Unsubscribe = () => void;

function subscribe<T>(event: string, handler: (payload: T) => void): Unsubscribe {
  let disposed = false;
  let unlisten: UnlistenFn | null = null;
  listen<T>(event, (e) => {
    if (!disposed) handler(e.payload);
  })
    .then((fn) => {
      if (disposed) quietly(fn);
      else unlisten = fn;
    })
    .catch(() => {
      // No event bridge (e.g. a plain browser); views still work from commands.
    });
  return () => {
    disposed = true;
    if (unlisten) quietly(unlisten);
    unlisten = null;
  };
}

/** Unlistening can fail while the window goes away; nothing is left to clean then. */
function quietly(fn: UnlistenFn): void {
  try {
    void Promise.resolve(fn() as unknown).catch(() => {});
  } catch {
    // ignored, as above
  }
}

/** Every provider event. Returns a function that stops listening (use it as an effect's teardown). */
export function onProviderEvent(handler: (event: WindowEvent) => void): Unsubscribe {
  return subscribe<WindowEvent>(PROVIDER_EVENT, handler);
}

/** Only the provider events of the given types. */
export function onProviderEvents<T extends ProviderEventType>(
  types: readonly T[],
  handler: (event: EventOf<T>) => void,
): Unsubscribe {
  return onProviderEvent((e) => {
    if ((types as readonly string[]).includes(e.type)) handler(e as EventOf<T>);
  });
}

/** Status changes, whether sent as `provider://status` or as a `status` provider event. */
export function onProviderStatus(handler: (status: ProviderStatus) => void): Unsubscribe {
  const a = subscribe<ProviderStatus>(PROVIDER_STATUS_EVENT, handler);
  const b = onProviderEvents(["status"], (e) => handler(e.status));
  return () => {
    a();
    b();
  };
}
