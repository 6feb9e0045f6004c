/** Formatting helpers shared by the views. Timestamps are seconds since the epoch. */

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

const pad = (n: number) => String(n).padStart(2, "0");

/** `2024-05-01 14:03:22` in local time. */
export function formatDateTime(ts: number): string {
  const d = new Date(ts * 1000);
  if (Number.isNaN(d.getTime())) return "—";
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** `14:03:22` in local time. */
export function formatTime(ts: number): string {
  const d = new Date(ts * 1000);
  if (Number.isNaN(d.getTime())) return "—";
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** `2024-05-01` in local time. */
export function formatDate(ts: number): string {
  const d = new Date(ts * 1000);
  if (Number.isNaN(d.getTime())) return "—";
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

const UNITS: [number, string][] = [
  [365 * 24 * 3600, "y"],
  [24 * 3600, "d"],
  [3600, "h"],
  [60, "min"],
  [1, "s"],
];

/** A duration in its largest whole unit: `3600` → `1 h`, `2592000` → `30 d`, `90` → `1 min 30 s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "—";
  let s = Math.abs(Math.round(seconds));
  if (s === 0) return "0 s";
  const parts: string[] = [];
  for (const [size, unit] of UNITS) {
    if (s >= size) {
      const n = Math.floor(s / size);
      s -= n * size;
      parts.push(`${n} ${unit}`);
      if (parts.length === 2) break;
    } else if (parts.length > 0) {
      break;
    }
  }
  return parts.join(" ");
}

/** `in 59 min`, `3 h ago`, `just now`, relative to `now`. */
export function formatRelative(ts: number, now: number = nowSeconds()): string {
  const delta = ts - now;
  if (Math.abs(delta) < 5) return "just now";
  const d = formatDuration(delta).split(" ").slice(0, 2).join(" ");
  return delta > 0 ? `in ${d}` : `${d} ago`;
}

/** Whole days from `now` to `ts`, rounded down (negative once past). */
export function daysUntil(ts: number, now: number = nowSeconds()): number {
  return Math.floor((ts - now) / 86400);
}

/** Pretty JSON for display. */
export function prettyJson(v: unknown): string {
  try {
    return JSON.stringify(v, null, 2) ?? "null";
  } catch {
    return String(v);
  }
}

/** Splits text typed one item per line into trimmed, non-empty items. */
export function splitLines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
}

export function pluralize(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
