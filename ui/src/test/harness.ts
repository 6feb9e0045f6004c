/** Test helpers: a recording mock backend on top of `mockIPC`, with events. */
import { mockIPC } from "@tauri-apps/api/mocks";
import { emit } from "@tauri-apps/api/event";
import { vi } from "vitest";
import type { CommandName } from "../bindings/Ipc";
import { PROVIDER_EVENT, type WindowEvent } from "../ipc/events";
import { createMockBackend, type MockBackend, type MockOptions } from "../../scripts/mock-backend";

export const NOW = 1_750_000_000;

export interface Harness extends MockBackend {
  /** How many times a command was invoked. */
  count: (cmd: CommandName) => number;
  /** The arguments of the last call of a command. */
  lastArgs: (cmd: CommandName) => Record<string, unknown> | undefined;
  /** Replaces the answer of one command (return a value or throw an ErrorPayload). */
  override: (cmd: CommandName, fn: (args: Record<string, unknown>) => unknown) => void;
  /** Emits a provider event as the Rust bridge would. */
  emitEvent: (e: WindowEvent) => Promise<void>;
}

/** Installs the mock backend; the clock reads NOW (timers stay real). */
export function installHarness(opts: MockOptions = {}): Harness {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(NOW * 1000);
  const backend = createMockBackend({ now: NOW, ...opts });
  const overrides = new Map<string, (args: Record<string, unknown>) => unknown>();
  mockIPC(
    (cmd, args) => {
      const o = overrides.get(cmd);
      if (o) {
        backend.calls.push({ cmd, args: (args ?? {}) as Record<string, unknown> });
        return o((args ?? {}) as Record<string, unknown>);
      }
      return backend.handle(cmd, args);
    },
    { shouldMockEvents: true },
  );
  return {
    ...backend,
    count: (cmd) => backend.calls.filter((c) => c.cmd === cmd).length,
    lastArgs: (cmd) => backend.calls.filter((c) => c.cmd === cmd).at(-1)?.args,
    override: (cmd, fn) => overrides.set(cmd, fn),
    emitEvent: (e) => emit(PROVIDER_EVENT, e),
  };
}
