import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import App from "./App.svelte";
import { installHarness } from "./test/harness";

describe("App", () => {
  it("shows the issuer and state, and follows provider://status", async () => {
    const h = installHarness();
    render(App);
    expect(await screen.findByTestId("provider-issuer")).toHaveTextContent("https://localhost:8443");
    expect(screen.getByTestId("provider-state")).toHaveTextContent("Running");
    const { emit } = await import("@tauri-apps/api/event");
    await emit("provider://status", { ...h.data.status, state: "stopped" });
    await waitFor(() => expect(screen.getByTestId("provider-state")).toHaveTextContent("Stopped"));
  });

  it("offers another port when the port is in use", async () => {
    const h = installHarness({ state: "port_in_use" });
    render(App);
    expect(await screen.findByTestId("port-banner")).toHaveTextContent("Port 8443 is already in use");
    const input = screen.getByTestId("port-input") as HTMLInputElement;
    expect(input.value).toBe("8444");
    await fireEvent.input(input, { target: { value: "9000" } });
    await fireEvent.click(screen.getByTestId("port-apply"));
    await waitFor(() => expect(h.lastArgs("change_port")).toEqual({ port: 9000 }));
    await waitFor(() => expect(screen.queryByTestId("port-banner")).toBeNull());
    expect(screen.getByTestId("provider-issuer")).toHaveTextContent("https://localhost:9000");
  });

  it("keeps the port being typed when the same busy status comes again", async () => {
    const h = installHarness({ state: "port_in_use" });
    render(App);
    const input = (await screen.findByTestId("port-input")) as HTMLInputElement;
    await fireEvent.input(input, { target: { value: "9100" } });
    const { emit } = await import("@tauri-apps/api/event");
    await emit("provider://status", { ...h.data.status });
    await new Promise((r) => setTimeout(r, 20));
    expect((screen.getByTestId("port-input") as HTMLInputElement).value).toBe("9100");
    // Another busy port gets its own suggestion.
    await emit("provider://status", { ...h.data.status, port: 9100 });
    await waitFor(() => expect((screen.getByTestId("port-input") as HTMLInputElement).value).toBe("9101"));
  });

  it("navigates between views and counts pending consents", async () => {
    const h = installHarness();
    render(App);
    expect(await screen.findByTestId("nav-consent-count")).toHaveTextContent("1");
    await fireEvent.click(screen.getByTestId("nav-tokens"));
    expect(await screen.findByTestId("view-tokens")).toBeInTheDocument();
    await h.emitEvent({
      type: "consent_pending",
      consent: { ...h.data.consents[0]!, request_id: "rq_new", client_name: "Docs" },
    });
    await waitFor(() => expect(screen.getByTestId("nav-consent-count")).toHaveTextContent("2"));
    expect(await screen.findByText("Docs is waiting for consent")).toBeInTheDocument();
    await h.emitEvent({ type: "consent_resolved", request_id: "rq_new", approved: true });
    await waitFor(() => expect(screen.getByTestId("nav-consent-count")).toHaveTextContent("1"));
  });

  it("shows a request heard while another view was open, before the provider stored it", async () => {
    const h = installHarness();
    render(App);
    await screen.findByTestId("provider-issuer");
    const stored = h.data.requests[0]!;
    // The provider publishes an entry at once and stores it a moment later: the
    // store's answer to the Requests view does not hold it yet.
    await h.emitEvent({
      type: "request",
      entry: { ...stored, id: "rq_heard", at: stored.at + 60, status: "rejected", error: "invalid_request" },
    });
    await fireEvent.click(screen.getByTestId("nav-requests"));
    const row = await screen.findByTestId("request-row-rq_heard");
    expect(row).toHaveAttribute("data-status", "rejected");
    expect(screen.getByTestId(`request-row-${stored.id}`)).toBeInTheDocument();
  });
});
