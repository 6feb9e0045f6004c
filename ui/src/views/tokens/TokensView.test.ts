import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import { installHarness } from "../../test/harness";
import { tokenFocus } from "../../lib/stores.svelte";
import TokensView from "./TokensView.svelte";

describe("TokensView", () => {
  it("decodes a selected JWT locally and shows its introspection", async () => {
    const h = installHarness();
    render(TokensView);
    await fireEvent.click(await screen.findByTestId("token-row-tk_01HZX4A7Q2"));
    expect(await screen.findByTestId("token-kid")).toHaveTextContent("rs256-2024-05-01-9f3a");
    expect(screen.getByTestId("token-claims")).toHaveTextContent('"client_id": "acme-web"');
    expect(screen.getByTestId("token-header")).toHaveTextContent('"typ": "at+jwt"');
    expect(screen.getByTestId("token-time-exp")).toHaveTextContent(/in 5\d min/);
    expect(screen.getByTestId("token-introspection")).toHaveTextContent('"active": true');
    // The coloured parts of the value still copy and read as the exact token.
    const value = h.data.tokens.find((t) => t.summary.id === "tk_01HZX4A7Q2")!.value;
    expect(screen.getByTestId("token-value").textContent).toBe(value);
  });

  it("shows where an exchanged token came from and opens that token", async () => {
    const h = installHarness();
    const exchanged = h.data.tokens.find((t) => t.summary.id === "tk_01HZX4A7Q2")!;
    exchanged.origin = {
      exchanged_from: "tk_01HZX4A7Q3",
      subject: { iss: "https://localhost:8443", sub: "alice-sub" },
      actor: { sub: "orders-api" },
    };
    render(TokensView);
    await fireEvent.click(await screen.findByTestId("token-row-tk_01HZX4A7Q2"));
    expect(await screen.findByTestId("token-origin")).toHaveTextContent("token tk_01HZX4A7Q3 · acting: orders-api");
    await fireEvent.click(screen.getByTestId("token-origin-open"));
    await waitFor(() => expect(h.lastArgs("get_token")).toEqual({ id: "tk_01HZX4A7Q3" }));
    await waitFor(() => expect(screen.getByTestId("token-detail")).toHaveTextContent("Refresh token"));
    expect(screen.queryByTestId("token-origin")).toBeNull();
  });

  it("says an opaque token is opaque", async () => {
    installHarness();
    render(TokensView);
    await fireEvent.click(await screen.findByTestId("token-row-tk_01HZX2B9D4"));
    expect(await screen.findByTestId("token-opaque")).toHaveTextContent(/opaque — see introspection/i);
    expect(screen.queryByTestId("token-decoded")).toBeNull();
  });

  it("revokes and force-expires, then refreshes", async () => {
    const h = installHarness();
    render(TokensView);
    await fireEvent.click(await screen.findByTestId("token-row-tk_01HZX4A7Q2"));
    await fireEvent.click(await screen.findByTestId("token-expire"));
    await waitFor(() => expect(screen.getByTestId("token-detail-state")).toHaveTextContent("Expired"));
    expect(h.lastArgs("expire_token")).toEqual({ id: "tk_01HZX4A7Q2" });
    expect(screen.getByTestId("token-expire")).toBeDisabled();

    await fireEvent.click(screen.getByTestId("token-row-tk_01HZX4A7Q3"));
    await waitFor(() => expect(screen.getByTestId("token-detail")).toHaveTextContent("Refresh token"));
    await fireEvent.click(screen.getByTestId("token-revoke"));
    await waitFor(() => expect(screen.getByTestId("token-detail-state")).toHaveTextContent("Revoked"));
    expect(h.lastArgs("revoke_token")).toEqual({ id: "tk_01HZX4A7Q3" });
    expect(screen.getByTestId("token-row-tk_01HZX4A7Q3")).toHaveTextContent("Revoked");
  });

  it("revokes everything of a client after confirmation", async () => {
    const h = installHarness();
    render(TokensView);
    await fireEvent.click(await screen.findByTestId("token-row-tk_01HZX4A7Q2"));
    await fireEvent.click(await screen.findByTestId("token-revoke-client"));
    await fireEvent.click(screen.getByTestId("confirm-ok"));
    await waitFor(() => expect(h.count("revoke_client_tokens")).toBe(1));
    expect(h.lastArgs("revoke_client_tokens")).toEqual({ clientId: "acme-web" });
  });

  it("sends the filters to list_tokens", async () => {
    const h = installHarness();
    render(TokensView);
    await screen.findByTestId("token-row-tk_01HZX4A7Q2");
    await fireEvent.change(screen.getByTestId("tokens-filter-state"), { target: { value: "revoked" } });
    await waitFor(() => expect(h.lastArgs("list_tokens")).toEqual({ filter: { state: "revoked", limit: 500 } }));
    await waitFor(() => expect(screen.queryByTestId("token-row-tk_01HZX4A7Q2")).toBeNull());
    expect(screen.getByTestId("token-row-tk_01HZX1C3F5")).toBeInTheDocument();
  });

  it("opens the token another view asked for", async () => {
    const h = installHarness();
    tokenFocus.id = "tk_01HZX4A7Q3";
    render(TokensView);
    await waitFor(() => expect(h.lastArgs("get_token")).toEqual({ id: "tk_01HZX4A7Q3" }));
    expect(tokenFocus.id).toBeNull();
  });

  it("reloads on token_changed", async () => {
    const h = installHarness();
    render(TokensView);
    await screen.findByTestId("token-row-tk_01HZX4A7Q2");
    const before = h.count("list_tokens");
    await h.emitEvent({ type: "token_changed", id: null });
    await waitFor(() => expect(h.count("list_tokens")).toBe(before + 1));
  });

  it("reloads once for a burst of token events, not once per token", async () => {
    const h = installHarness();
    render(TokensView);
    await screen.findByTestId("token-row-tk_01HZX4A7Q2");
    const before = h.count("list_tokens");
    for (let i = 0; i < 50; i++) await h.emitEvent({ type: "token_changed", id: null });
    await waitFor(() => expect(h.count("list_tokens")).toBeGreaterThan(before));
    await new Promise((r) => setTimeout(r, 600));
    // One reload per quarter second of events (a handful however slow the machine),
    // not fifty.
    expect(h.count("list_tokens") - before).toBeLessThanOrEqual(5);
  });
});
