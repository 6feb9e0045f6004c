import type { Theme } from "../bindings/Theme";

let media: MediaQueryList | null = null;
let mediaListener: ((e: MediaQueryListEvent) => void) | null = null;

/** The theme actually shown for a setting, given whether the system prefers dark. */
export function resolveTheme(theme: Theme, systemPrefersDark: boolean): "light" | "dark" {
  if (theme === "system") return systemPrefersDark ? "dark" : "light";
  return theme;
}

function prefersDark(): boolean {
  return typeof window !== "undefined" && typeof window.matchMedia === "function"
    ? window.matchMedia("(prefers-color-scheme: dark)").matches
    : false;
}

/** Applies a theme to the document now, and follows the system while it is "system". */
export function applyTheme(theme: Theme): void {
  const root = document.documentElement;
  root.dataset.themeSetting = theme;
  root.dataset.theme = resolveTheme(theme, prefersDark());
  if (media && mediaListener) media.removeEventListener?.("change", mediaListener);
  media = null;
  mediaListener = null;
  if (theme === "system" && typeof window.matchMedia === "function") {
    media = window.matchMedia("(prefers-color-scheme: dark)");
    mediaListener = (e) => {
      root.dataset.theme = e.matches ? "dark" : "light";
    };
    media.addEventListener?.("change", mediaListener);
  }
}
