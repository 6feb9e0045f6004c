import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import { toasts } from "../../lib/toasts.svelte";
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
    await fireEvent.click(await screen.findByTestId("settings-start-minimized-checkbox"));
    await fireEvent.click(screen.getByTestId("settings-save"));
    await waitFor(() => expect(h.count("save_settings")).toBe(1));
    expect(h.lastArgs("save_settings")).toEqual({ settings: expect.objectContaining({ start_minimized: true }) });
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

  it("exports the records in the chosen format and says what an import changed", async () => {
    const h = installHarness();
    render(SettingsView);
    await fireEvent.click(await screen.findByTestId("settings-records-format-json"));
    await fireEvent.click(screen.getByTestId("settings-records-export"));
    await waitFor(() => expect(h.lastArgs("export_records")).toEqual({ format: "json" }));
    await waitFor(() =>
      expect(toasts.at(-1)).toMatchObject({ kind: "success", message: "Saved /home/dev/authdesk-records.json" }),
    );
    await fireEvent.click(screen.getByTestId("settings-records-import"));
    await waitFor(() => expect(h.count("import_records")).toBe(1));
    await waitFor(() =>
      expect(toasts.at(-1)?.message).toMatch(/^Imported — clients: 2 created, 1 updated; users: 1 created/),
    );
  });

  it("says nothing when the dialog is cancelled, and names the entry that stopped an import", async () => {
    const h = installHarness();
    render(SettingsView);
    h.override("import_records", () => null);
    const before = toasts.length;
    await fireEvent.click(await screen.findByTestId("settings-records-import"));
    await waitFor(() => expect(h.count("import_records")).toBe(1));
    await new Promise((r) => setTimeout(r, 10));
    expect(toasts.length).toBe(before);
    h.override("import_records", () => {
      throw { code: "invalid_input", message: "'not a url' is not a URL", field: "clients[0] (broken).redirect_uris" };
    });
    await fireEvent.click(screen.getByTestId("settings-records-import"));
    await waitFor(() =>
      expect(toasts.at(-1)).toMatchObject({
        kind: "error",
        message: "clients[0] (broken).redirect_uris: 'not a url' is not a URL",
      }),
    );
  });

  it("follows settings saved elsewhere, and a theme change keeps them", async () => {
    const h = installHarness();
    render(SettingsView);
    const port = await screen.findByTestId("settings-port-input");
    expect(port).toHaveValue(8443);
    // The port banner saved another port while the view was open.
    h.handle("change_port", { port: 9555 });
    await h.emitEvent({ type: "settings_changed" });
    await waitFor(() => expect(screen.getByTestId("settings-port-input")).toHaveValue(9555));
    await fireEvent.click(screen.getByTestId("settings-theme-dark"));
    await waitFor(() =>
      expect(h.lastArgs("save_settings")).toEqual({ settings: expect.objectContaining({ theme: "dark", port: 9555 }) }),
    );
  });

  it("keeps what is being edited when settings change elsewhere", async () => {
    const h = installHarness();
    render(SettingsView);
    await fireEvent.input(await screen.findByTestId("settings-port-input"), { target: { value: "9000" } });
    h.handle("change_port", { port: 9555 });
    await h.emitEvent({ type: "settings_changed" });
    await waitFor(() => expect(h.count("get_settings")).toBe(2));
    expect(screen.getByTestId("settings-port-input")).toHaveValue(9000);
  });

  it("adds a scope, edits it, and deletes one no client uses", async () => {
    const h = installHarness();
    render(SettingsView);
    await fireEvent.input(await screen.findByTestId("scope-name-input"), { target: { value: "orders.read" } });
    await fireEvent.input(screen.getByTestId("scope-description-input"), { target: { value: "Read orders" } });
    await fireEvent.input(screen.getByTestId("scope-claims-input"), { target: { value: "orders, region" } });
    await fireEvent.click(screen.getByTestId("scope-save"));
    await waitFor(() =>
      expect(h.lastArgs("save_scope")).toEqual({
        input: { name: "orders.read", description: "Read orders", claims: ["orders", "region"] },
      }),
    );
    expect(await screen.findByTestId("scope-row-orders.read")).toHaveTextContent("orders, region");
    // Edit fills the form; the button says it saves the existing scope.
    await fireEvent.click(screen.getByTestId("scope-edit-orders.read"));
    expect(screen.getByTestId("scope-save")).toHaveTextContent("Save scope");
    // Built-in scopes cannot be deleted here; a custom one can.
    expect(screen.queryByTestId("scope-delete-openid")).toBeNull();
    await fireEvent.click(screen.getByTestId("scope-delete-orders.read"));
    await fireEvent.click(await screen.findByTestId("confirm-ok"));
    await waitFor(() => expect(h.lastArgs("delete_scope")).toEqual({ name: "orders.read" }));
    await waitFor(() => expect(screen.queryByTestId("scope-row-orders.read")).toBeNull());
  });

  it("explains a bad scope name before sending, and a scope a client still uses", async () => {
    const h = installHarness();
    render(SettingsView);
    await fireEvent.input(await screen.findByTestId("scope-name-input"), { target: { value: "has space" } });
    expect(screen.getByTestId("scope-name-error")).toHaveTextContent(/printable ASCII without spaces/);
    expect(screen.getByTestId("scope-save")).toBeDisabled();
    await fireEvent.click(await screen.findByTestId("scope-delete-api:read"));
    await fireEvent.click(await screen.findByTestId("confirm-ok"));
    await waitFor(() => expect(screen.getByTestId("confirm-dialog")).toHaveTextContent(/allowed to clients/));
    expect(h.count("delete_scope")).toBe(1);
  });

  it("saves the request log's retention, which needs a restart, and refuses a tiny one", async () => {
    const h = installHarness();
    render(SettingsView);
    const entries = await screen.findByTestId("settings-log-max-entries-input");
    await fireEvent.input(entries, { target: { value: "50" } });
    expect(screen.getByTestId("field-error-log_max_entries")).toHaveTextContent(/between 100 and 1,000,000/);
    await fireEvent.input(entries, { target: { value: "2000" } });
    await fireEvent.input(screen.getByTestId("settings-log-max-age-days-input"), { target: { value: "3" } });
    await fireEvent.click(screen.getByTestId("settings-save"));
    await waitFor(() =>
      expect(h.lastArgs("save_settings")).toEqual({
        settings: expect.objectContaining({ log_max_entries: 2000, log_max_age_days: 3 }),
      }),
    );
    expect(await screen.findByTestId("settings-restart-banner")).toBeInTheDocument();
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
