import "@testing-library/jest-dom/vitest";
import { clearMocks } from "@tauri-apps/api/mocks";
import { cleanup } from "@testing-library/svelte";
import { afterEach, vi } from "vitest";
import { heardRequests } from "../lib/stores.svelte";

// Unmount components while the IPC mock still exists, then drop the mock.
afterEach(() => {
  cleanup();
  clearMocks();
  vi.useRealTimers();
  heardRequests.length = 0;
});
