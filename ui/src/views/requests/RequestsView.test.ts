import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import type { RequestEntry } from "../../bindings/RequestEntry";
import { NOW, installHarness } from "../../test/harness";
import { router } from "../../lib/router.svelte";
import { tokenFocus } from "../../lib/stores.svelte";
import RequestsView from "./RequestsView.svelte";
import { formatDateTime } from "../../lib/format";

const entry = (id: string, over: Partial<RequestEntry> = {}): RequestEntry => ({
  id,
  at: NOW,
  kind: "token",
  client_id: "acme-web",
  username: "alice",
  status: "completed",
  error: null,
  error_description: null,
  params: { grant_type: "refresh_token" },
  detail: {},
  count: 1,
  last_at: NOW,
  ...over,
});

describe("RequestsView", () => {
  it("approves a pending consent as the login_hint persona", async () => {
    const h = installHarness();
    h.data.users.reverse(); // the hinted persona is not the first one
    render(RequestsView);
    const picker = (await screen.findByTestId("consent-user-rq_0009")) as HTMLSelectElement;
    await waitFor(() => expect(picker.value).toBe("alice"));
    await fireEvent.click(screen.getByTestId("consent-approve-rq_0009"));
    await waitFor(() => expect(h.count("decide_consent")).toBe(1));
    expect(h.lastArgs("decide_consent")).toEqual({
      requestId: "rq_0009",
      approve: true,
      username: "alice",
      claims: null,
    });
    await waitFor(() => expect(screen.queryByTestId("consent-rq_0009")).toBeNull());
  });

  it("approves with claims for this sign-in", async () => {
    const h = installHarness();
    render(RequestsView);
    await screen.findByTestId("consent-rq_0009");
    await fireEvent.input(screen.getByTestId("consent-claims-rq_0009"), {
      target: { value: ' {"roles": ["admin"]} ' },
    });
    await fireEvent.click(screen.getByTestId("consent-approve-rq_0009"));
    await waitFor(() => expect(h.count("decide_consent")).toBe(1));
    expect(h.lastArgs("decide_consent")).toMatchObject({ approve: true, claims: '{"roles": ["admin"]}' });
  });

  it("drops a request that no longer waits when deciding it fails", async () => {
    const h = installHarness();
    render(RequestsView);
    await screen.findByTestId("consent-rq_0009");
    // It expired in the core meanwhile.
    h.data.consents = [];
    h.override("decide_consent", () => {
      throw { code: "not_found", message: "pending request rq_0009 not found", field: null };
    });
    await fireEvent.click(screen.getByTestId("consent-approve-rq_0009"));
    await waitFor(() => expect(screen.queryByTestId("consent-rq_0009")).toBeNull());
  });

  it("links a token request to the tokens it produced", async () => {
    const h = installHarness();
    h.data.requests.unshift(
      entry("rq_issued", { detail: { grant_type: "authorization_code", tokens: ["tk_01HZX4A7Q2", "tk_01HZX4A7Q3"] } }),
    );
    render(RequestsView);
    const row = await screen.findByTestId("request-row-rq_issued");
    await fireEvent.click(row.querySelector("button")!);
    const links = await screen.findByTestId("request-tokens-rq_issued");
    expect(links).toHaveTextContent("tk_01HZX4A7Q2");
    await fireEvent.click(screen.getByTestId("request-token-tk_01HZX4A7Q3"));
    expect(router.route).toBe("tokens");
    expect(tokenFocus.id).toBe("tk_01HZX4A7Q3");
  });

  it("denies with the persona a user picked ignored", async () => {
    const h = installHarness();
    render(RequestsView);
    await fireEvent.change(await screen.findByTestId("consent-user-rq_0009"), { target: { value: "bob" } });
    await fireEvent.click(screen.getByTestId("consent-deny-rq_0009"));
    await waitFor(() =>
      expect(h.lastArgs("decide_consent")).toEqual({
        requestId: "rq_0009",
        approve: false,
        username: null,
        claims: null,
      }),
    );
  });

  it("puts live requests on top and updates a known one in place", async () => {
    const h = installHarness();
    render(RequestsView);
    await screen.findByTestId("request-row-rq_0001");
    await h.emitEvent({ type: "request", entry: entry("rq_new") });
    await screen.findByTestId("request-row-rq_new");
    const rows = screen.getAllByTestId(/^request-row-/);
    expect(rows[0]).toHaveAttribute("data-testid", "request-row-rq_new");

    await h.emitEvent({ type: "request", entry: entry("rq_0009", { status: "denied", error: "access_denied" }) });
    await waitFor(() => expect(screen.getByTestId("request-row-rq_0009")).toHaveAttribute("data-status", "denied"));
    expect(screen.getAllByTestId("request-row-rq_0009")).toHaveLength(1);
  });

  it("keeps live requests out when they do not match the filter", async () => {
    const h = installHarness();
    render(RequestsView);
    await screen.findByTestId("request-row-rq_0001");
    await fireEvent.change(screen.getByTestId("requests-filter-status"), { target: { value: "rejected" } });
    await waitFor(() => expect(h.lastArgs("list_requests")).toEqual({ status: "rejected", limit: 300 }));
    await h.emitEvent({ type: "request", entry: entry("rq_ok") });
    await h.emitEvent({ type: "request", entry: entry("rq_bad", { status: "rejected", error: "invalid_grant" }) });
    await screen.findByTestId("request-row-rq_bad");
    expect(screen.queryByTestId("request-row-rq_ok")).toBeNull();
  });

  it("expands a failure to its plain-language cause, params and detail", async () => {
    installHarness();
    render(RequestsView);
    const row = await screen.findByTestId("request-row-rq_0004");
    await fireEvent.click(row.querySelector("button")!);
    expect(screen.getByTestId("request-error-rq_0004")).toHaveTextContent(
      /invalid_request.*is not registered for client 'acme-web'/,
    );
    expect(screen.getByTestId("request-detail-rq_0004")).toHaveTextContent(
      "http://localhost:3001/api/auth/callback/authdesk",
    );
  });

  it("shows a folded entry's count and its first and last time", async () => {
    const h = installHarness();
    h.data.requests.unshift(
      entry("rq_folded", { kind: "introspect", detail: { active: true }, count: 1840, at: NOW - 2, last_at: NOW }),
      entry("rq_single", { kind: "introspect", detail: { active: true } }),
    );
    render(RequestsView);
    const count = await screen.findByTestId("request-count-rq_folded");
    expect(count).toHaveTextContent("×1,840");
    // One request: no count.
    await screen.findByTestId("request-row-rq_single");
    expect(screen.queryByTestId("request-count-rq_single")).toBeNull();
    const row = screen.getByTestId("request-row-rq_folded");
    await fireEvent.click(row.querySelector("button")!);
    const fold = await screen.findByTestId("request-fold-rq_folded");
    expect(fold).toHaveTextContent("1,840 identical requests");
    expect(fold).toHaveTextContent(formatDateTime(NOW - 2));
    expect(fold).toHaveTextContent(formatDateTime(NOW));
    expect(fold).not.toHaveTextContent("tokens of its own");
  });

  it("says a folded token request shows the tokens of its first request", async () => {
    const h = installHarness();
    h.data.requests.unshift(
      entry("rq_tokens", {
        detail: { grant_type: "client_credentials", tokens: ["tk_first"] },
        count: 250,
        at: NOW - 1,
        last_at: NOW,
      }),
      entry("rq_one", { detail: { grant_type: "client_credentials", tokens: ["tk_one"] } }),
    );
    render(RequestsView);
    const row = await screen.findByTestId("request-row-rq_tokens");
    await fireEvent.click(row.querySelector("button")!);
    expect(await screen.findByTestId("request-fold-rq_tokens")).toHaveTextContent(
      "Each issued tokens of its own; the Tokens view lists them all.",
    );
    expect(screen.getByTestId("request-tokens-rq_tokens")).toHaveTextContent(
      "Tokens issued by the first of these requests",
    );
    await fireEvent.click(screen.getByTestId("request-row-rq_one").querySelector("button")!);
    const single = await screen.findByTestId("request-tokens-rq_one");
    expect(single).toHaveTextContent("Tokens issued");
    expect(single).not.toHaveTextContent("first of these");
  });
});
