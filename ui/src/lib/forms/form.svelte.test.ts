import { describe, expect, it, vi } from "vitest";
import { createForm } from "./form.svelte";

interface Values {
  name: string;
  port: number;
  note: string;
}

const initial = (): Values => ({ name: "", port: 8443, note: "" });
const validate = (v: Values) => {
  const errors: Partial<Record<keyof Values, string>> = {};
  if (v.name.trim() === "") errors.name = "a name is needed";
  if (v.port < 1) errors.port = "a port from 1";
  return errors;
};

/** An input event from an element with this `name`. */
const inputOn = (name: string) => {
  const el = document.createElement("input");
  el.setAttribute("name", name);
  return { target: el } as unknown as Event;
};

describe("createForm", () => {
  it("holds a rule's message back until the field is touched or a save is tried", async () => {
    const submit = vi.fn(async () => {});
    const form = createForm({ initial: initial(), validate, submit });
    expect(form.errors).toEqual({ name: "a name is needed" });
    expect(form.hasErrors).toBe(true);
    expect(form.errorFor("name")).toBeUndefined();

    form.onInput(inputOn("name"));
    expect(form.isTouched("name")).toBe(true);
    expect(form.errorFor("name")).toBe("a name is needed");
    // A name outside the form touches nothing.
    form.onInput(inputOn("unknown"));
    expect(form.isTouched("port")).toBe(false);

    form.values.port = 0;
    expect(form.errorFor("port")).toBeUndefined();
    expect(await form.submit()).toBe(false);
    expect(submit).not.toHaveBeenCalled();
    expect(form.submitted).toBe(true);
    expect(form.errorFor("port")).toBe("a port from 1");
  });

  it("checks live fields at once", () => {
    const form = createForm({ initial: initial(), validate, submit: async () => {}, live: ["name"] });
    expect(form.errorFor("name")).toBe("a name is needed");
    form.values.port = 0;
    expect(form.errorFor("port")).toBeUndefined();
    const all = createForm({ initial: initial(), validate, submit: async () => {}, live: true });
    all.values.port = 0;
    expect(all.errorFor("port")).toBe("a port from 1");
  });

  it("saves a plain copy of the values and says when it is saving", async () => {
    let release: () => void = () => {};
    const seen: Values[] = [];
    const form = createForm({
      initial: initial(),
      validate,
      submit: (v) => {
        seen.push(v);
        return new Promise<void>((r) => (release = r));
      },
    });
    form.values.name = "Carol";
    const event = new Event("submit", { cancelable: true });
    const done = form.submit(event);
    expect(event.defaultPrevented).toBe(true);
    expect(form.saving).toBe(true);
    release();
    expect(await done).toBe(true);
    expect(form.saving).toBe(false);
    expect(seen).toEqual([{ name: "Carol", port: 8443, note: "" }]);
    // The copy is not the form's state: later edits do not reach it.
    form.values.name = "Dave";
    expect(seen[0]!.name).toBe("Carol");
  });

  it("shows the core's error on the field it names until that field is edited", async () => {
    const form = createForm({
      initial: { ...initial(), name: "carol" },
      validate,
      fieldOf: (f) => (f === "username" ? "name" : null),
      submit: async () => {
        throw { code: "conflict", message: "already taken", field: "username" };
      },
    });
    expect(await form.submit()).toBe(false);
    expect(form.serverError?.code).toBe("conflict");
    expect(form.errorFor("name")).toBe("already taken");
    expect(form.formError).toBeNull();
    form.touch("port");
    expect(form.errorFor("name")).toBe("already taken");
    form.touch("name");
    expect(form.errorFor("name")).toBeUndefined();
    expect(form.serverError).toBeNull();
  });

  it("shows the core's error above Save when it names no field of the form", async () => {
    const form = createForm({
      initial: { ...initial(), name: "carol" },
      validate,
      submit: async () => {
        throw { code: "invalid_input", message: "bad", field: "elsewhere" };
      },
    });
    await form.submit();
    expect(form.formError).toBe("bad");
    expect(form.errorFor("name")).toBeUndefined();
    // A new attempt starts without the old answer.
    const again = form.submit();
    expect(form.formError).toBeNull();
    await again;
  });

  it("knows when the values differ from the stored ones, and can drop or keep the edits", () => {
    const form = createForm({
      initial: { ...initial(), name: "carol" },
      validate,
      submit: async () => {},
      normalize: (v) => ({ ...v, name: v.name.trim() }),
    });
    expect(form.dirty).toBe(false);
    form.values.name = " carol ";
    expect(form.dirty).toBe(false);
    form.values.port = 9443;
    expect(form.dirty).toBe(true);
    form.discard();
    expect(form.values.port).toBe(8443);
    expect(form.dirty).toBe(false);

    form.values.port = 9000;
    form.touch("port");
    // Stored elsewhere: the baseline moves, the edit stays.
    form.setBaseline({ ...initial(), name: "carol", port: 9555 });
    expect(form.values.port).toBe(9000);
    expect(form.dirty).toBe(true);
    // A fresh start: new values, nothing touched.
    form.reset({ ...initial(), name: "dave", port: 9555 });
    expect(form.dirty).toBe(false);
    expect(form.isTouched("port")).toBe(false);
    expect(form.values.name).toBe("dave");
  });
});
