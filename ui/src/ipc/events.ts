/**
 * Window events from the core. `provider://event` carries every `ProviderEvent` and the
 * shell's own `ShellEvent`s; `provider://status` carries a bare `ProviderStatus` when
 * the server changes state. Names and payloads are generated from Rust.
 */
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import { PROVIDER_EVENT, PROVIDER_STATUS_EVENT } from "../bindings/Ipc";
import type { ProviderEvent } from "../bindings/ProviderEvent";
import type { ProviderStatus } from "../bindings/ProviderStatus";
import type { ShellEvent } from "../bindings/ShellEvent";

export { PROVIDER_EVENT, PROVIDER_STATUS_EVENT };

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

/** Status changes (`provider://status`). */
export function onProviderStatus(handler: (status: ProviderStatus) => void): Unsubscribe {
  return subscribe<ProviderStatus>(PROVIDER_STATUS_EVENT, handler);
}
