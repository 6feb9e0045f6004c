import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import { installHarness } from "../../test/harness";
import ClientsView from "./ClientsView.svelte";

describe("ClientsView", () => {
  it("re-fetches the list on client_changed and shows the new client", async () => {
    const h = installHarness();
    const extra = h.data.clients.splice(2, 1)[0]!; // reporting-svc is not there yet
    render(ClientsView);
    await screen.findByTestId("client-row-acme-web");
    expect(screen.queryByTestId(`client-row-${extra.client_id}`)).toBeNull();
    expect(h.count("list_clients")).toBe(1);

    // Another window (or the CLI) creates a client; the core announces it.
    h.data.clients.push(extra);
    await h.emitEvent({ type: "client_changed", client_id: extra.client_id });

    expect(await screen.findByTestId(`client-row-${extra.client_id}`)).toHaveTextContent("Reporting service");
    expect(h.count("list_clients")).toBe(2);
  });

  it("reloads clients and scopes when another process changed the records", async () => {
    const h = installHarness();
    const extra = h.data.clients.splice(2, 1)[0]!;
    render(ClientsView);
    await screen.findByTestId("client-row-acme-web");
    const scopesBefore = h.count("list_scopes");
    // `authdesk clients create` in a terminal, on the same data directory.
    h.data.clients.push(extra);
    await h.emitEvent({ type: "records_changed" });
    expect(await screen.findByTestId(`client-row-${extra.client_id}`)).toBeInTheDocument();
    await waitFor(() => expect(h.count("list_scopes")).toBe(scopesBefore + 1));
  });

  it("ignores events of other domains", async () => {
    const h = installHarness();
    render(ClientsView);
    await screen.findByTestId("client-row-acme-web");
    await h.emitEvent({ type: "token_changed", id: null });
    await h.emitEvent({ type: "user_changed", username: "alice" });
    await new Promise((r) => setTimeout(r, 20));
    expect(h.count("list_clients")).toBe(1);
  });

  it("reloads the scope choices on scopes_changed", async () => {
    const h = installHarness();
    render(ClientsView);
    await fireEvent.click(await screen.findByTestId("client-new"));
    expect(screen.queryByTestId("client-scope-api:write")).toBeNull();
    h.data.scopes.push({ name: "api:write", description: "Write the Acme API", claims: [] });
    await h.emitEvent({ type: "scopes_changed" });
    expect(await screen.findByTestId("client-scope-api:write")).toHaveAttribute("aria-pressed", "false");
    expect(h.count("list_clients")).toBe(1);
  });

  it("stops listening once unmounted", async () => {
    const h = installHarness();
    const view = render(ClientsView);
    await screen.findByTestId("client-row-acme-web");
    view.unmount();
    await h.emitEvent({ type: "client_changed", client_id: "acme-web" });
    await new Promise((r) => setTimeout(r, 20));
    expect(h.count("list_clients")).toBe(1);
  });

  it("filters by search text and tag chips", async () => {
    installHarness();
    render(ClientsView);
    await screen.findByTestId("client-row-acme-web");
    await fireEvent.click(screen.getByTestId("tag-chip-web"));
    expect(screen.queryByTestId("client-row-reporting-svc")).toBeNull();
    expect(screen.getByTestId("client-row-legacy-spa")).toBeInTheDocument();
    await fireEvent.input(screen.getByTestId("clients-search"), { target: { value: "next" } });
    expect(screen.queryByTestId("client-row-legacy-spa")).toBeNull();
    expect(screen.getByTestId("client-row-acme-web")).toBeInTheDocument();
  });

  it("validates redirect URIs as they are typed", async () => {
    installHarness();
    render(ClientsView);
    await fireEvent.click(await screen.findByTestId("client-new"));
    const uris = screen.getByTestId("client-redirect-uris-input");
    await fireEvent.input(uris, { target: { value: "http://127.0.0.1:8080/cb\nhttp://example.com/cb" } });
    expect(screen.getByTestId("field-error-redirect_uris")).toHaveTextContent(/Line 2: .*non-local host/);
    expect(uris).toHaveAttribute("aria-invalid", "true");
    await fireEvent.input(uris, { target: { value: "http://127.0.0.1:8080/cb" } });
    expect(screen.queryByTestId("field-error-redirect_uris")).toBeNull();
  });

  it("creates a client with the form's input and selects it", async () => {
    const h = installHarness();
    render(ClientsView);
    await fireEvent.click(await screen.findByTestId("client-new"));
    await fireEvent.input(screen.getByTestId("client-name-input"), { target: { value: "Docs site" } });
    await fireEvent.input(screen.getByTestId("client-redirect-uris-input"), {
      target: { value: "http://localhost:4000/callback" },
    });
    await fireEvent.click(screen.getByTestId("client-save"));
    await waitFor(() => expect(h.count("create_client")).toBe(1));
    expect(h.lastArgs("create_client")).toEqual({
      input: expect.objectContaining({
        name: "Docs site",
        client_type: "confidential",
        redirect_uris: ["http://localhost:4000/callback"],
        grant_types: ["authorization_code", "refresh_token"],
        token_endpoint_auth_method: "client_secret_basic",
      }),
    });
    expect(await screen.findByTestId("client-detail-name")).toHaveTextContent("Docs site");
    expect(screen.getByTestId("client-secret-value")).toHaveAttribute("data-revealed", "false");
  });

  it("sends the preset, audiences and extra claims, and shows the core's refusal on extra claims", async () => {
    const h = installHarness();
    render(ClientsView);
    await fireEvent.click(await screen.findByTestId("client-new"));
    await fireEvent.input(screen.getByTestId("client-name-input"), { target: { value: "API" } });
    await fireEvent.input(screen.getByTestId("client-redirect-uris-input"), {
      target: { value: "http://localhost:4000/callback" },
    });
    await fireEvent.change(screen.getByTestId("client-preset-select"), { target: { value: "entra_id" } });
    await fireEvent.input(screen.getByTestId("client-resources-input"), {
      target: { value: "https://api.example.test\nurn:acme:api" },
    });
    await fireEvent.input(screen.getByTestId("client-default-audience-input"), {
      target: { value: "https://api.example.test" },
    });
    await fireEvent.input(screen.getByTestId("client-extra-claims-input"), {
      target: { value: '[{"name": "roles", "from": "roles"}]' },
    });
    await fireEvent.click(screen.getByTestId("client-save"));
    await waitFor(() => expect(h.count("create_client")).toBe(1));
    expect(h.lastArgs("create_client")).toEqual({
      input: expect.objectContaining({
        preset: "entra_id",
        resources: ["https://api.example.test", "urn:acme:api"],
        default_audience: "https://api.example.test",
        extra_claims: [{ name: "roles", from: "roles" }],
      }),
    });

    h.override("update_client", () => {
      throw { code: "invalid_input", message: "an extra claim may not set 'iss'", field: "extra_claims" };
    });
    await fireEvent.click(await screen.findByTestId("client-tab-settings"));
    await fireEvent.input(screen.getByTestId("client-extra-claims-input"), {
      target: { value: '[{"name": "iss", "value": 1}]' },
    });
    await fireEvent.click(screen.getByTestId("client-save"));
    expect(await screen.findByTestId("field-error-extra_claims")).toHaveTextContent("may not set 'iss'");
  });

  it("shows trusted issuers once the JWT bearer grant is on, and sends them", async () => {
    const h = installHarness();
    render(ClientsView);
    await fireEvent.click(await screen.findByTestId("client-new"));
    await fireEvent.input(screen.getByTestId("client-name-input"), { target: { value: "Assertions" } });
    await fireEvent.input(screen.getByTestId("client-redirect-uris-input"), {
      target: { value: "http://localhost:4000/callback" },
    });
    expect(screen.queryByTestId("client-trusted-issuers-input")).toBeNull();
    await fireEvent.click(screen.getByTestId("client-grant-jwt-bearer"));
    const issuers = [
      { issuer: "https://idp.example.test", jwks: { keys: [{ kty: "OKP", crv: "Ed25519", x: "abc" }] } },
    ];
    await fireEvent.input(await screen.findByTestId("client-trusted-issuers-input"), {
      target: { value: JSON.stringify(issuers) },
    });
    await fireEvent.click(screen.getByTestId("client-save"));
    await waitFor(() => expect(h.count("create_client")).toBe(1));
    expect(h.lastArgs("create_client")).toEqual({
      input: expect.objectContaining({
        grant_types: expect.arrayContaining(["urn:ietf:params:oauth:grant-type:jwt-bearer"]),
        trusted_issuers: issuers,
      }),
    });
  });

  it("starts a new client from the default lifetimes of the settings", async () => {
    const h = installHarness();
    h.override("get_settings", () => ({
      port: 8443,
      bind_address: "127.0.0.1",
      issuer_override: null,
      registration_open: false,
      access_token_ttl: 600,
      refresh_token_ttl: 86400,
      id_token_ttl: 300,
      theme: "light",
      start_minimized: false,
      log_max_entries: 10000,
      log_max_age_days: 7,
    }));
    render(ClientsView);
    await fireEvent.click(await screen.findByTestId("client-new"));
    await waitFor(() => expect(screen.getByTestId("client-access-ttl-input")).toHaveValue(600));
    expect(screen.getByTestId("client-refresh-ttl-input")).toHaveValue(86400);
    expect(screen.getByTestId("client-id-token-ttl-input")).toHaveValue(300);
    await fireEvent.input(screen.getByTestId("client-name-input"), { target: { value: "Short lived" } });
    await fireEvent.input(screen.getByTestId("client-redirect-uris-input"), {
      target: { value: "http://localhost:4000/callback" },
    });
    await fireEvent.click(screen.getByTestId("client-save"));
    await waitFor(() =>
      expect(h.lastArgs("create_client")).toEqual({
        input: expect.objectContaining({ access_token_ttl: 600, refresh_token_ttl: 86400, id_token_ttl: 300 }),
      }),
    );
  });

  it("does not send an invalid form and highlights the field the core refuses", async () => {
    const h = installHarness();
    h.override("create_client", () => {
      throw { code: "invalid_input", message: "scope 'api:write' does not exist", field: "scopes" };
    });
    render(ClientsView);
    await fireEvent.click(await screen.findByTestId("client-new"));
    await fireEvent.click(screen.getByTestId("client-save"));
    expect(screen.getByTestId("field-error-name")).toHaveTextContent(/needs a name/);
    expect(h.count("create_client")).toBe(0);

    await fireEvent.input(screen.getByTestId("client-name-input"), { target: { value: "X" } });
    await fireEvent.input(screen.getByTestId("client-redirect-uris-input"), {
      target: { value: "https://x.example/cb" },
    });
    await fireEvent.click(screen.getByTestId("client-save"));
    expect(await screen.findByTestId("field-error-scopes")).toHaveTextContent("scope 'api:write' does not exist");
  });

  it("deletes a client after confirmation", async () => {
    const h = installHarness();
    render(ClientsView);
    await fireEvent.click(await screen.findByTestId("client-row-legacy-spa"));
    await fireEvent.click(screen.getByTestId("client-delete"));
    expect(screen.getByTestId("confirm-dialog")).toHaveTextContent("Legacy SPA");
    expect(h.count("delete_client")).toBe(0);
    await fireEvent.click(screen.getByTestId("confirm-ok"));
    await waitFor(() => expect(screen.queryByTestId("client-row-legacy-spa")).toBeNull());
    expect(h.lastArgs("delete_client")).toEqual({ clientId: "legacy-spa" });
  });

  it("reveals and regenerates the secret", async () => {
    const h = installHarness();
    render(ClientsView);
    await fireEvent.click(await screen.findByTestId("client-row-acme-web"));
    const secret = screen.getByTestId("client-secret-value");
    expect(secret).not.toHaveTextContent("q8J3nV0x");
    await fireEvent.click(screen.getByTestId("client-secret-reveal"));
    expect(secret).toHaveTextContent("q8J3nV0xZt5rL2mW7pYc4sKd9fHg6bNe1uAa");
    await fireEvent.click(screen.getByTestId("client-secret-regenerate"));
    await fireEvent.click(screen.getByTestId("confirm-ok"));
    await waitFor(() => expect(h.count("regenerate_client_secret")).toBe(1));
    await waitFor(() => expect(screen.getByTestId("client-secret-value")).not.toHaveTextContent("q8J3nV0x"));
  });

  it("shows the core's snippets", async () => {
    installHarness();
    render(ClientsView);
    await fireEvent.click(await screen.findByTestId("client-row-acme-web"));
    await fireEvent.click(screen.getByTestId("client-tab-snippets"));
    expect(await screen.findByTestId("snippet-code")).toHaveTextContent('client_id="acme-web"');
    await fireEvent.click(screen.getByTestId("snippet-tab-node"));
    expect(screen.getByTestId("snippet-code")).toHaveTextContent("openid-client");
  });
});
