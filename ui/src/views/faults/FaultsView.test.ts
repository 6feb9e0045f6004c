import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import App from "../../App.svelte";
import { faults } from "../../lib/faults.svelte";
import { installHarness } from "../../test/harness";
import { emptyForm, toSpec } from "./faultForm";
import FaultsView from "./FaultsView.svelte";

describe("FaultsView", () => {
  it("adds a rule from the form as the CLI would spell it, then pauses and clears it", async () => {
    const h = installHarness();
    render(FaultsView);
    expect(await screen.findByTestId("faults-empty")).toBeInTheDocument();
    await fireEvent.change(screen.getByTestId("fault-effect"), { target: { value: "status" } });
    await fireEvent.change(screen.getByTestId("fault-value"), { target: { value: "503" } });
    await fireEvent.input(screen.getByTestId("fault-retry-after"), { target: { value: "30" } });
    await fireEvent.input(screen.getByTestId("fault-duration-value"), { target: { value: "2" } });
    await fireEvent.click(screen.getByTestId("fault-add"));
    await waitFor(() => expect(h.count("add_fault")).toBe(1));
    expect(h.lastArgs("add_fault")).toEqual({
      spec: { endpoint: "token", status: 503, retry_after: 30, count: 2 },
    });
    const row = await screen.findByTestId("fault-row-1");
    expect(row).toHaveTextContent("HTTP 503");
    expect(screen.getByTestId("fault-status-1")).toHaveTextContent("Active");

    await fireEvent.click(screen.getByTestId("fault-pause-1"));
    await waitFor(() => expect(h.lastArgs("pause_faults")).toEqual({ id: 1, paused: true }));
    await waitFor(() => expect(screen.getByTestId("fault-status-1")).toHaveTextContent("Paused"));

    await fireEvent.click(screen.getByTestId("fault-clear-1"));
    await waitFor(() => expect(h.lastArgs("clear_faults")).toEqual({ id: 1 }));
    expect(await screen.findByTestId("faults-empty")).toBeInTheDocument();
  });

  it("shows the provider's refusal of a bad rule and adds nothing", async () => {
    const h = installHarness();
    h.override("add_fault", () => {
      throw { code: "invalid_input", message: "fault endpoint: unknown endpoint 'tokn'", field: "fault endpoint" };
    });
    render(FaultsView);
    await fireEvent.click(await screen.findByTestId("fault-add"));
    expect(await screen.findByTestId("fault-error")).toHaveTextContent("unknown endpoint 'tokn'");
    expect(screen.getByTestId("faults-empty")).toBeInTheDocument();
  });

  it("runs a scenario", async () => {
    const h = installHarness();
    render(FaultsView);
    await fireEvent.change(await screen.findByTestId("fault-effect"), { target: { value: "scenario" } });
    await fireEvent.change(screen.getByTestId("fault-scenario"), { target: { value: "clock-skew" } });
    await fireEvent.input(screen.getByTestId("fault-seconds"), { target: { value: "-600" } });
    await fireEvent.click(screen.getByTestId("fault-add"));
    await waitFor(() => expect(h.lastArgs("add_fault")).toEqual({ spec: { scenario: "clock-skew", seconds: -600 } }));
  });

  it("the form's spec: a bad token for one client and grant, until cleared", () => {
    const f = emptyForm();
    f.effect = "bad_token";
    f.value = "wrong-aud";
    f.client = " web ";
    f.grantType = "authorization_code";
    f.duration = "cleared";
    expect(toSpec(f)).toEqual({
      endpoint: "token",
      client: "web",
      grant_type: "authorization_code",
      bad_token: "wrong-aud",
    });
  });
});

describe("the faults banner", () => {
  it("shows on every view while a rule is active, and goes when it is cleared", async () => {
    const h = installHarness();
    faults.items = []; // the store outlives the views of earlier tests
    render(App);
    await screen.findByTestId("view-clients");
    expect(screen.queryByTestId("faults-banner")).toBeNull();
    h.handle("add_fault", { spec: { endpoint: "jwks", status: 503 } });
    await h.emitEvent({ type: "faults_changed" });
    expect(await screen.findByTestId("faults-banner")).toHaveTextContent("1 fault rule is active");
    await fireEvent.click(screen.getByTestId("nav-tokens"));
    expect(screen.getByTestId("faults-banner")).toBeInTheDocument();
    await fireEvent.click(screen.getByTestId("faults-banner-open"));
    expect(await screen.findByTestId("view-faults")).toBeInTheDocument();
    await fireEvent.click(await screen.findByTestId("faults-clear-all"));
    await waitFor(() => expect(screen.queryByTestId("faults-banner")).toBeNull());
  });
});
