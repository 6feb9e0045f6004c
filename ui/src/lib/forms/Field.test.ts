import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, it, vi } from "vitest";
import FieldHarness from "../../test/FieldHarness.svelte";

describe("Field", () => {
  it("labels its control and shows the help until the field has a message", async () => {
    render(FieldHarness);
    const input = screen.getByTestId("h-name");
    expect(screen.getByLabelText(/^Name/)).toBe(input);
    expect(input.closest(".field")?.querySelector("label")).toHaveTextContent("Name (required)");
    expect(screen.getByTestId("h-name-help")).toHaveTextContent("Who it is");
    // Untouched: the rule's message waits.
    expect(screen.queryByTestId("field-error-name")).toBeNull();
    expect(input).not.toHaveAttribute("aria-invalid");

    await fireEvent.input(input, { target: { value: " " } });
    expect(screen.getByTestId("field-error-name")).toHaveTextContent("a name is needed");
    expect(input).toHaveAttribute("aria-invalid", "true");
    expect(input.closest(".field")).toHaveClass("has-error");
    expect(screen.queryByTestId("h-name-help")).toBeNull();

    await fireEvent.input(input, { target: { value: "Carol" } });
    expect(screen.queryByTestId("field-error-name")).toBeNull();
    expect(input.closest(".field")).not.toHaveClass("has-error");
    expect(screen.getByTestId("h-name-help")).toBeInTheDocument();
  });

  it("shows a message of its own under its own test id", async () => {
    const view = render(FieldHarness, { ownError: "taken" });
    expect(screen.getByTestId("h-code-error")).toHaveTextContent("taken");
    expect(screen.getByTestId("h-code")).toHaveAttribute("aria-invalid", "true");
    await view.rerender({ ownError: null });
    expect(screen.queryByTestId("h-code-error")).toBeNull();
  });

  it("labels a group with a span when it has no control id", () => {
    render(FieldHarness);
    const group = screen.getByTestId("h-group").closest(".field");
    expect(group?.querySelector("span.field-label")).toHaveTextContent("Group");
    expect(group?.querySelector("label")).toBeNull();
  });

  it("shows every message once a save was tried, and saves nothing then", async () => {
    const submit = vi.fn(async () => {});
    render(FieldHarness, { submit });
    await fireEvent.click(screen.getByTestId("h-save"));
    expect(screen.getByTestId("field-error-name")).toHaveTextContent("a name is needed");
    expect(submit).not.toHaveBeenCalled();
  });

  it("puts the core's error on the field it names, and above Save when it names none", async () => {
    let answer: unknown = { code: "conflict", message: "name: already taken", field: "name" };
    const submit = vi.fn(async () => {
      throw answer;
    });
    render(FieldHarness, { submit });
    const input = screen.getByTestId("h-name");
    await fireEvent.input(input, { target: { value: "carol" } });
    await fireEvent.click(screen.getByTestId("h-save"));
    await waitFor(() => expect(screen.getByTestId("field-error-name")).toHaveTextContent("name: already taken"));
    expect(submit).toHaveBeenCalledWith({ name: "carol", code: "" });
    expect(screen.queryByTestId("h-form-error")).toBeNull();
    // Editing the field drops the core's answer about it.
    await fireEvent.input(input, { target: { value: "carol2" } });
    expect(screen.queryByTestId("field-error-name")).toBeNull();

    answer = { code: "error", message: "database is locked", field: null };
    await fireEvent.click(screen.getByTestId("h-save"));
    expect(await screen.findByTestId("h-form-error")).toHaveTextContent("database is locked");
    expect(screen.queryByTestId("field-error-name")).toBeNull();
  });
});
