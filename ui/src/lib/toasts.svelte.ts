export type ToastKind = "info" | "success" | "error";
export interface ToastAction {
  label: string;
  run: () => void;
}
export interface Toast {
  id: number;
  kind: ToastKind;
  message: string;
  action?: ToastAction;
}

export const toasts: Toast[] = $state([]);
let next = 1;

export function dismissToast(id: number): void {
  const i = toasts.findIndex((t) => t.id === id);
  if (i >= 0) toasts.splice(i, 1);
}

/** Shows a short notice at the bottom right; errors stay longer. */
export function toast(
  message: string,
  kind: ToastKind = "info",
  opts: { timeoutMs?: number; action?: ToastAction } = {},
): number {
  const id = next++;
  toasts.push({ id, kind, message, action: opts.action });
  while (toasts.length > 4) toasts.shift();
  const ms = opts.timeoutMs ?? (kind === "error" ? 8000 : opts.action ? 8000 : 3000);
  if (ms > 0) setTimeout(() => dismissToast(id), ms);
  return id;
}
