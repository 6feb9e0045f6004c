/** Hash routing between the views: `#/clients`, `#/tokens`, … (survives a reload). */
export const ROUTES = [
  "clients",
  "requests",
  "tokens",
  "users",
  "certificates",
  "faults",
  "settings",
  "debugger",
] as const;
export type Route = (typeof ROUTES)[number];

export function parseRoute(hash: string): Route {
  const name = hash.replace(/^#\/?/, "").split(/[/?]/)[0] ?? "";
  return (ROUTES as readonly string[]).includes(name) ? (name as Route) : "clients";
}

export const router: { route: Route } = $state({
  route: typeof location !== "undefined" ? parseRoute(location.hash) : "clients",
});

export function navigate(route: Route): void {
  router.route = route;
  if (typeof location !== "undefined" && parseRoute(location.hash) !== route) {
    history.replaceState(null, "", `#/${route}`);
  }
}

/** Follows back/forward and typed hashes. Returns the teardown. */
export function followHash(): () => void {
  const onHash = () => (router.route = parseRoute(location.hash));
  window.addEventListener("hashchange", onHash);
  return () => window.removeEventListener("hashchange", onHash);
}
