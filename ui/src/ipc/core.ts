/**
 * The one door to the Rust side. Every command goes through `call`, which turns
 * whatever the command rejected with into an `IpcError`. Its names, argument keys and
 * answers are those of `Commands`, generated from the shell's registered commands
 * (`bindings/Ipc.ts`), so a command or an argument key Rust does not have fails the
 * type-check.
 */
import { invoke } from "@tauri-apps/api/core";
import type { ErrorPayload } from "../bindings/ErrorPayload";
import type { CommandName, Commands } from "../bindings/Ipc";

export type { CommandName, Commands };
/** The arguments of a command, keyed as Tauri reads them. */
export type ArgsOf<C extends CommandName> = Commands[C]["args"];
/** What a command resolves to. */
export type ResultOf<C extends CommandName> = Commands[C]["result"];

/** A command failed. `field` names the input at fault, when there is one. */
export class IpcError extends Error {
  readonly code: string;
  readonly field: string | null;

  constructor(payload: ErrorPayload) {
    super(payload.message);
    this.name = "IpcError";
    this.code = payload.code;
    this.field = payload.field;
  }

  toPayload(): ErrorPayload {
    return { code: this.code, message: this.message, field: this.field };
  }
}

function isErrorPayload(v: unknown): v is ErrorPayload {
  return (
    typeof v === "object" &&
    v !== null &&
    typeof (v as { code?: unknown }).code === "string" &&
    typeof (v as { message?: unknown }).message === "string"
  );
}

/** Normalises anything a command can reject with into an `IpcError`. */
export function toIpcError(e: unknown): IpcError {
  if (e instanceof IpcError) return e;
  if (isErrorPayload(e)) {
    const field = (e as { field?: unknown }).field;
    return new IpcError({ code: e.code, message: e.message, field: typeof field === "string" ? field : null });
  }
  if (typeof e === "string") return new IpcError({ code: "error", message: e, field: null });
  if (e instanceof Error) {
    // Outside the desktop shell (plain browser, vite dev) there is no IPC bridge.
    if (typeof window !== "undefined" && !("__TAURI_INTERNALS__" in window)) {
      return new IpcError({
        code: "no_backend",
        message: "Not connected to the Authdesk core (this page is not running inside the desktop app).",
        field: null,
      });
    }
    return new IpcError({ code: "error", message: e.message, field: null });
  }
  return new IpcError({ code: "error", message: String(e), field: null });
}

/** Arguments may be left out when the command needs none (or only optional ones). */
type ArgsParam<C extends CommandName> = {} extends ArgsOf<C> ? [args?: ArgsOf<C>] : [args: ArgsOf<C>];

/** Invokes a Tauri command; rejects with an `IpcError`. */
export async function call<C extends CommandName>(cmd: C, ...args: ArgsParam<C>): Promise<ResultOf<C>> {
  try {
    return await invoke<ResultOf<C>>(cmd, args[0]);
  } catch (e) {
    throw toIpcError(e);
  }
}

/** A user-facing message for any error, IPC or not. */
export function errorMessage(e: unknown): string {
  return toIpcError(e).message;
}
