import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import { installHarness } from "../../test/harness";
import SettingsView from "./SettingsView.svelte";

describe("SettingsView", () => {
  it("offers a restart when the saved settings need one", async () => {
    const h = installHarness();
    render(SettingsView);
    const port = await screen.findByTestId("settings-port-input");
    expect(screen.queryByTestId("settings-restart-banner")).toBeNull();
    await fireEvent.input(port, { target: { value: "9443" } });
    await fireEvent.click(screen.getByTestId("settings-save"));
    expect(await screen.findByTestId("settings-restart-banner")).toHaveTextContent("Restart the provider to apply");
    expect(h.lastArgs("save_settings")).toEqual({
      settings: expect.objectContaining({ port: 9443, issuer_override: null }),
    });
    await fireEvent.click(screen.getByTestId("settings-restart"));
    await waitFor(() => expect(h.count("restart_provider")).toBe(1));
    await waitFor(() => expect(screen.queryByTestId("settings-restart-banner")).toBeNull());
  });

  it("does not offer a restart when none is needed", async () => {
    const h = installHarness();
    render(SettingsView);
    await fireEvent.click(await screen.findByTestId("settings-registration-checkbox"));
    await fireEvent.click(screen.getByTestId("settings-save"));
    await waitFor(() => expect(h.count("save_settings")).toBe(1));
    expect(h.lastArgs("save_settings")).toEqual({ settings: expect.objectContaining({ registration_open: true }) });
    await new Promise((r) => setTimeout(r, 10));
    expect(screen.queryByTestId("settings-restart-banner")).toBeNull();
  });

  it("applies and saves the theme at once", async () => {
    const h = installHarness();
    render(SettingsView);
    await fireEvent.click(await screen.findByTestId("settings-theme-dark"));
    expect(document.documentElement.dataset.theme).toBe("dark");
    await waitFor(() =>
      expect(h.lastArgs("save_settings")).toEqual({ settings: expect.objectContaining({ theme: "dark" }) }),
    );
    await fireEvent.click(screen.getByTestId("settings-theme-light"));
    expect(document.documentElement.dataset.theme).toBe("light");
  });

  it("refuses an invalid port before saving", async () => {
    const h = installHarness();
    render(SettingsView);
    await fireEvent.input(await screen.findByTestId("settings-port-input"), { target: { value: "70000" } });
    expect(screen.getByTestId("field-error-port")).toHaveTextContent(/1 to 65535/);
    await fireEvent.click(screen.getByTestId("settings-save"));
    expect(h.count("save_settings")).toBe(0);
  });
});
