import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import { installHarness } from "../../test/harness";
import { toasts } from "../../lib/toasts.svelte";
import UsersView from "./UsersView.svelte";

describe("UsersView", () => {
  it("checks claims as they are typed and refuses reserved ones", async () => {
    const h = installHarness();
    render(UsersView);
    await fireEvent.click(await screen.findByTestId("user-row-carol"));
    const claims = screen.getByTestId("user-claims-input");
    await fireEvent.input(claims, { target: { value: '{"name": "Carol", "sub": "x"}' } });
    expect(screen.getByTestId("user-claims-error")).toHaveTextContent("'sub' is set by the provider");
    await fireEvent.input(claims, { target: { value: "[1]" } });
    expect(screen.getByTestId("user-claims-error")).toHaveTextContent("must be a JSON object");
    await fireEvent.click(screen.getByTestId("user-save"));
    expect(h.count("update_user")).toBe(0);

    await fireEvent.input(claims, { target: { value: '{"name": "Carol C."}' } });
    expect(screen.queryByTestId("user-claims-error")).toBeNull();
    await fireEvent.click(screen.getByTestId("user-save"));
    await waitFor(() => expect(h.count("update_user")).toBe(1));
    expect(h.lastArgs("update_user")).toEqual({
      username: "carol",
      input: { username: "carol", claims: { name: "Carol C." } },
    });
  });

  it("creates a persona with a password", async () => {
    const h = installHarness();
    render(UsersView);
    await fireEvent.click(await screen.findByTestId("user-new"));
    await fireEvent.input(screen.getByTestId("user-username-input"), { target: { value: "dave" } });
    await fireEvent.input(screen.getByTestId("user-password-input"), { target: { value: "s3cret" } });
    await fireEvent.click(screen.getByTestId("user-save"));
    await screen.findByTestId("user-row-dave");
    expect(h.lastArgs("create_user")).toEqual({
      input: expect.objectContaining({ username: "dave", password: "s3cret", claims: expect.any(Object) }),
    });
  });

  it("lists a persona's remembered consents and revokes one after confirmation", async () => {
    const h = installHarness();
    render(UsersView);
    await fireEvent.click(await screen.findByTestId("user-row-alice"));
    expect(await screen.findByTestId("user-consent-acme-web")).toHaveTextContent("offline_access");
    expect(h.lastArgs("list_consents")).toEqual({ username: "alice" });
    await fireEvent.click(screen.getByTestId("user-consent-revoke-acme-web"));
    expect(h.count("revoke_consent")).toBe(0);
    await fireEvent.click(await screen.findByTestId("confirm-ok"));
    await waitFor(() => expect(h.lastArgs("revoke_consent")).toEqual({ username: "alice", clientId: "acme-web" }));
    await waitFor(() => expect(screen.queryByTestId("user-consent-acme-web")).toBeNull());
    expect(screen.getByTestId("user-consent-com.acme.mobile")).toBeInTheDocument();
    // Another persona has none.
    await fireEvent.click(screen.getByTestId("user-row-bob"));
    expect(await screen.findByTestId("user-consents-empty")).toBeInTheDocument();
  });

  it("signs a persona out everywhere and says which apps were notified", async () => {
    const h = installHarness();
    h.override("sign_out_user", () => ({ sessions: 2, notified: 1 }));
    render(UsersView);
    await fireEvent.click(await screen.findByTestId("user-row-alice"));
    await fireEvent.click(await screen.findByTestId("user-sign-out"));
    await waitFor(() => expect(h.lastArgs("sign_out_user")).toEqual({ username: "alice" }));
    await waitFor(() =>
      expect(toasts.at(-1)).toMatchObject({
        kind: "success",
        message: "Signed alice out: 2 sessions ended, 1 app notified by back-channel logout (see Requests)",
      }),
    );
  });

  it("reloads on user_changed", async () => {
    const h = installHarness();
    render(UsersView);
    await screen.findByTestId("user-row-alice");
    h.data.users.push({ ...h.data.users[0]!, username: "erin", sub: "s-erin" });
    await h.emitEvent({ type: "user_changed", username: "erin" });
    await screen.findByTestId("user-row-erin");
  });
});
