import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import { installHarness, NOW } from "../../test/harness";
import { base64UrlEncode } from "../tokens/jwt";
import ExplainPanel from "./ExplainPanel.svelte";
import { debug } from "./trial.svelte";

const ISS = "https://localhost:8443";
const token = [
  base64UrlEncode(JSON.stringify({ alg: "ES256", kid: "k1", typ: "at+jwt" })),
  base64UrlEncode(JSON.stringify({ iss: ISS, aud: "acme-web", sub: "alice", iat: NOW - 10, exp: NOW + 600 })),
  "c2ln",
].join(".");

describe("ExplainPanel", () => {
  it("asks the provider for the facts, accepts the token for its client, and rejects it for another audience", async () => {
    const h = installHarness();
    h.override("token_facts", () => ({ issuer: ISS, signature: "valid", stored: null, claims: null, now: NOW }));
    debug.token = token;
    render(ExplainPanel, { clients: h.data.clients });
    const result = await screen.findByTestId("explain-result");
    expect(h.lastArgs("token_facts")).toEqual({ token });
    await fireEvent.change(screen.getByTestId("explain-audience"), { target: { value: "client:acme-web" } });
    await waitFor(() => expect(result).toHaveAttribute("data-accepted", "true"));
    expect(screen.getByTestId("explain-signature")).toHaveTextContent("signed by Authdesk");

    await fireEvent.change(screen.getByTestId("explain-audience"), { target: { value: "custom" } });
    await fireEvent.input(await screen.findByTestId("explain-audience-custom"), {
      target: { value: "https://api.example.com" },
    });
    expect(await screen.findByTestId("explain-reason-wrong_aud")).toHaveTextContent("not https://api.example.com");
    expect(result).toHaveAttribute("data-accepted", "false");
  });
});
