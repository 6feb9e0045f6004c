import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import { installHarness } from "../../test/harness";
import TokensView from "./TokensView.svelte";

async function openDialog() {
  render(TokensView);
  await screen.findByTestId("token-row-tk_01HZX4A7Q2");
  await fireEvent.click(screen.getByTestId("tokens-generate"));
  return screen.findByTestId("mint-dialog");
}

describe("Generate token", () => {
  it("mints with the chosen options and shows the decoded claims", async () => {
    const h = installHarness();
    await openDialog();
    await fireEvent.change(screen.getByTestId("mint-client"), { target: { value: "acme-web" } });
    await fireEvent.change(screen.getByTestId("mint-user"), { target: { value: "alice" } });
    await fireEvent.input(screen.getByTestId("mint-scopes"), { target: { value: "openid  profile" } });
    await fireEvent.input(screen.getByTestId("mint-claims"), { target: { value: '{"roles": ["admin"]}' } });
    await fireEvent.input(screen.getByTestId("mint-audience"), { target: { value: "https://api.acme.test" } });
    await fireEvent.input(screen.getByTestId("mint-ttl"), { target: { value: "120" } });
    await fireEvent.change(screen.getByTestId("mint-format"), { target: { value: "jwt" } });
    await fireEvent.click(screen.getByTestId("mint-submit"));

    await screen.findByTestId("mint-result");
    expect(h.lastArgs("mint_token")).toEqual({
      request: {
        client_id: "acme-web",
        username: "alice",
        scopes: ["openid", "profile"],
        ttl: 120,
        format: "jwt",
        expired: false,
        claims: { roles: ["admin"] },
        audiences: ["https://api.acme.test"],
      },
    });
    expect(screen.getByTestId("mint-response")).toHaveTextContent('"token_type": "Bearer"');
    expect(screen.getByTestId("mint-access-header")).toHaveTextContent('"typ": "at+jwt"');
    const access = screen.getByTestId("mint-access-payload");
    expect(access).toHaveTextContent('"roles": [ "admin" ]');
    expect(access).toHaveTextContent('"aud": [ "https://api.acme.test" ]');
    expect(screen.getByTestId("mint-id-payload")).toHaveTextContent('"sub": "alice"');
    expect(screen.getByTestId("mint-copy-access")).toBeInTheDocument();
    expect(screen.getByTestId("mint-copy-id")).toBeInTheDocument();
    // The list reloads to show the stored token.
    await waitFor(() => expect(h.count("list_tokens")).toBeGreaterThan(1));
  });

  it("sends no persona, default scopes and lifetime when left blank", async () => {
    const h = installHarness();
    await openDialog();
    await fireEvent.change(screen.getByTestId("mint-client"), { target: { value: "reporting-svc" } });
    await fireEvent.click(screen.getByTestId("mint-submit"));
    await screen.findByTestId("mint-result");
    expect(h.lastArgs("mint_token")).toEqual({
      request: {
        client_id: "reporting-svc",
        username: null,
        scopes: [],
        ttl: null,
        format: null,
        expired: false,
        claims: null,
        audiences: [],
      },
    });
    expect(screen.queryByTestId("mint-id-payload")).toBeNull();
  });

  it("refuses a reserved claim before calling, and shows the core's error", async () => {
    const h = installHarness();
    await openDialog();
    await fireEvent.input(screen.getByTestId("mint-claims"), { target: { value: '{"iss": "x"}' } });
    expect(await screen.findByTestId("field-error-claims")).toHaveTextContent("'iss' is set by the provider");
    await fireEvent.click(screen.getByTestId("mint-submit"));
    expect(h.count("mint_token")).toBe(0);

    await fireEvent.input(screen.getByTestId("mint-claims"), { target: { value: "" } });
    h.override("mint_token", () => {
      throw {
        code: "invalid_scope",
        message: "the client 'acme-web' may not have the scope 'admin'; allow it in the client",
        field: null,
      };
    });
    await fireEvent.input(screen.getByTestId("mint-scopes"), { target: { value: "admin" } });
    await fireEvent.click(screen.getByTestId("mint-submit"));
    expect(await screen.findByTestId("mint-error")).toHaveTextContent("may not have the scope 'admin'");
    expect(screen.queryByTestId("mint-result")).toBeNull();
  });
});
