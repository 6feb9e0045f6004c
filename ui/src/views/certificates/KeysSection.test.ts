import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import { installHarness } from "../../test/harness";
import KeysSection from "./KeysSection.svelte";

describe("KeysSection", () => {
  it("lists each key with its state, and offers Retire only for a published key", async () => {
    installHarness();
    render(KeysSection);
    await waitFor(() => expect(screen.getByTestId("key-es-old-kid-state")).toHaveTextContent("published"));
    expect(screen.getByTestId("key-es-new-kid-state")).toHaveTextContent("active");
    expect(screen.getByTestId("key-rs-kid-state")).toHaveTextContent("active");
    expect(screen.getByTestId("key-es-old-kid-retire")).toBeInTheDocument();
    expect(screen.queryByTestId("key-es-new-kid-retire")).toBeNull();
  });

  it("rotates the chosen algorithm with the chosen retirement, and shows the new key", async () => {
    const h = installHarness();
    render(KeysSection);
    await screen.findByTestId("key-es-new-kid");
    await fireEvent.change(screen.getByTestId("keys-alg"), { target: { value: "PS256" } });
    await fireEvent.change(screen.getByTestId("keys-retire-old"), { target: { value: "2" } });
    await fireEvent.click(screen.getByTestId("keys-rotate"));
    await waitFor(() => expect(h.count("rotate_keys")).toBe(1));
    expect(h.lastArgs("rotate_keys")).toEqual({ alg: "PS256", retireAfterSecs: 0 });
    const made = h.data.keys.find((k) => k.alg === "PS256");
    expect(made).toBeDefined();
    await waitFor(() => expect(screen.getByTestId(`key-${made!.kid}-state`)).toHaveTextContent("active"));
  });

  it("rotates every algorithm in use by default, with the provider's retirement", async () => {
    const h = installHarness();
    render(KeysSection);
    await screen.findByTestId("key-es-new-kid");
    await fireEvent.click(screen.getByTestId("keys-rotate"));
    await waitFor(() => expect(h.count("rotate_keys")).toBe(1));
    expect(h.lastArgs("rotate_keys")).toEqual({ alg: null, retireAfterSecs: null });
    // The old active ES256 key is published now.
    await waitFor(() => expect(screen.getByTestId("key-es-new-kid-state")).toHaveTextContent("published"));
  });

  it("retires a published key by hand", async () => {
    const h = installHarness();
    render(KeysSection);
    await fireEvent.click(await screen.findByTestId("key-es-old-kid-retire"));
    await waitFor(() => expect(screen.getByTestId("key-es-old-kid-state")).toHaveTextContent("retired"));
    expect(h.lastArgs("retire_key")).toEqual({ kid: "es-old-kid" });
    expect(screen.queryByTestId("key-es-old-kid-retire")).toBeNull();
  });

  it("reloads when a rotation happens elsewhere", async () => {
    const h = installHarness();
    render(KeysSection);
    await screen.findByTestId("key-es-new-kid");
    const before = h.count("list_keys");
    await h.emitEvent({ type: "keys_changed" });
    await waitFor(() => expect(h.count("list_keys")).toBeGreaterThan(before));
  });
});
