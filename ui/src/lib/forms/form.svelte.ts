/**
 * The one form machinery of the window (clients, personas, settings): the values being
 * edited, which fields the person touched, whether a save was tried, whether one runs,
 * and the error the core answered with.
 *
 * A field shows its rule's message once it was touched or a save was tried (or at once
 * for `live` fields); the core's error shows on the field it names until that field is
 * edited again, and above the Save button when it names no field of the form.
 */
import { IpcError, toIpcError } from "../../ipc/core";

export type FieldErrors<F extends string> = Partial<Record<F, string>>;

export interface FormOptions<T extends object, F extends string> {
  initial: T;
  /** Every problem of the values, keyed by field (see `rules.ts`). */
  validate: (values: T) => FieldErrors<F>;
  /** Saves; a rejection becomes the form's server error. */
  submit: (values: T) => Promise<void>;
  /** Maps a field named by the core onto a form field (default: the values' own keys). */
  fieldOf?: (field: string | null) => NoInfer<F> | null;
  /** Fields checked as they are typed, before they are touched; `true` for every field. */
  live?: readonly NoInfer<F>[] | true;
  /** What two values are compared as for `dirty` (e.g. trimmed). */
  normalize?: (values: T) => unknown;
}

export interface Form<T extends object, F extends string> {
  /** The values being edited; bind inputs to its fields. */
  values: T;
  readonly errors: FieldErrors<F>;
  readonly hasErrors: boolean;
  readonly submitted: boolean;
  readonly saving: boolean;
  readonly serverError: IpcError | null;
  /** The core's message when it names no field of this form (shown above Save). */
  readonly formError: string | null;
  /** The values differ from the baseline (the last loaded or saved ones). */
  readonly dirty: boolean;
  /** The message to show under a field, if any. */
  errorFor(field: F): string | undefined;
  /** Marks a field as edited: its message shows, and the core's error on it goes. */
  touch(field: F): void;
  isTouched(field: F): boolean;
  /** `oninput`/`onchange` of the `<form>`: touches the field named by the target's `name`. */
  onInput(event: Event): void;
  /** `onsubmit` of the `<form>`: checks, then saves unless a rule fails. True once saved. */
  submit(event?: Event): Promise<boolean>;
  /** Replaces the values and the baseline (a fresh start: nothing touched). */
  reset(values: T): void;
  /** Drops the edits: back to the baseline. */
  discard(): void;
  /** Moves the baseline only (the stored values changed; the edits stay). */
  setBaseline(values: T): void;
}

export function createForm<T extends object, F extends string = Extract<keyof T, string>>(
  options: FormOptions<T, F>,
): Form<T, F> {
  const fieldOf = options.fieldOf ?? ((f: string | null) => (f !== null && f in options.initial ? (f as F) : null));
  const normalize = options.normalize ?? ((v: T) => v);
  const isLive = (f: F) => options.live === true || (options.live ?? []).includes(f);

  let values = $state(options.initial);
  let baseline = $state.raw(structuredClone($state.snapshot(options.initial) as T));
  let touched = $state<Partial<Record<F, boolean>>>({});
  let submitted = $state(false);
  let saving = $state(false);
  let serverError = $state.raw<IpcError | null>(null);

  const errors = $derived(options.validate(values));
  const hasErrors = $derived(Object.keys(errors).length > 0);
  const serverField = $derived(serverError ? fieldOf(serverError.field) : null);
  const dirty = $derived(
    JSON.stringify(normalize($state.snapshot(values) as T)) !== JSON.stringify(normalize(baseline)),
  );

  function touch(f: F) {
    touched[f] = true;
    if (serverField === f) serverError = null;
  }

  return {
    get values() {
      return values;
    },
    set values(v: T) {
      values = v;
    },
    get errors() {
      return errors;
    },
    get hasErrors() {
      return hasErrors;
    },
    get submitted() {
      return submitted;
    },
    get saving() {
      return saving;
    },
    get serverError() {
      return serverError;
    },
    get formError() {
      return serverError && serverField === null ? serverError.message : null;
    },
    get dirty() {
      return dirty;
    },
    errorFor(f) {
      if (serverError && serverField === f) return serverError.message;
      if (isLive(f) || touched[f] || submitted) return errors[f];
      return undefined;
    },
    touch,
    isTouched: (f) => touched[f] === true,
    onInput(event) {
      const name = (event.target as Element | null)?.getAttribute?.("name") ?? null;
      const f = fieldOf(name);
      if (f) touch(f);
    },
    async submit(event) {
      event?.preventDefault();
      submitted = true;
      serverError = null;
      if (hasErrors) return false;
      saving = true;
      try {
        await options.submit($state.snapshot(values) as T);
        return true;
      } catch (e) {
        serverError = toIpcError(e);
        return false;
      } finally {
        saving = false;
      }
    },
    reset(v) {
      values = v;
      baseline = structuredClone($state.snapshot(v) as T);
      touched = {};
      submitted = false;
      serverError = null;
    },
    discard() {
      values = structuredClone(baseline);
      touched = {};
      submitted = false;
      serverError = null;
    },
    setBaseline(v) {
      baseline = structuredClone($state.snapshot(v) as T);
    },
  };
}
