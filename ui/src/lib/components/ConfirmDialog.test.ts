import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import { installHarness } from "../../test/harness";
import UsersView from "../../views/users/UsersView.svelte";

describe("ConfirmDialog", () => {
  it("keeps the focus inside, closes on Escape or a click beside it, and gives the focus back", async () => {
    const h = installHarness();
    render(UsersView);
    await fireEvent.click(await screen.findByTestId("user-row-carol"));
    const trigger = screen.getByTestId("user-delete");
    trigger.focus();
    await fireEvent.click(trigger);
    const ok = await screen.findByTestId("confirm-ok");
    await waitFor(() => expect(document.activeElement).toBe(ok));
    const cancel = screen.getByTestId("confirm-cancel");
    // Tab from the last button comes back to the first, Shift+Tab the other way.
    await fireEvent.keyDown(ok, { key: "Tab" });
    expect(document.activeElement).toBe(cancel);
    await fireEvent.keyDown(cancel, { key: "Tab", shiftKey: true });
    expect(document.activeElement).toBe(ok);
    await fireEvent.keyDown(ok, { key: "Escape" });
    await waitFor(() => expect(screen.queryByTestId("confirm-dialog")).toBeNull());
    await waitFor(() => expect(document.activeElement).toBe(trigger));
    // A click on the backdrop cancels too; a click inside does not.
    await fireEvent.click(trigger);
    await fireEvent.click(await screen.findByTestId("confirm-dialog"));
    expect(screen.getByTestId("confirm-dialog")).toBeInTheDocument();
    await fireEvent.click(screen.getByTestId("confirm-backdrop"));
    await waitFor(() => expect(screen.queryByTestId("confirm-dialog")).toBeNull());
    expect(h.count("delete_user")).toBe(0);
  });
});
