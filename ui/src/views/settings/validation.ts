import type { Settings } from "../../bindings/Settings";

export type SettingsErrors = Partial<Record<keyof Settings, string>>;

const MAX_TTL = 10 * 365 * 24 * 3600;

/** Why a port would be refused, or null. */
export function validatePort(port: number | null | undefined): string | null {
  if (port === null || port === undefined || Number.isNaN(port)) return "enter a port number";
  if (!Number.isInteger(port) || port < 1 || port > 65535) return "a port is a whole number from 1 to 65535";
  return null;
}

/** True for addresses that only this machine can reach. */
export function isLoopbackAddress(addr: string): boolean {
  const a = addr.trim().toLowerCase();
  return a === "localhost" || a === "::1" || a === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

function validateBind(addr: string): string | null {
  const a = addr.trim();
  if (a === "") return "enter an address to listen on, e.g. 127.0.0.1";
  if (/\s/.test(a)) return "an address has no spaces";
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(a);
  if (v4 && v4.slice(1).some((n) => Number(n) > 255)) return `'${a}' is not an IPv4 address`;
  return null;
}

function validateIssuer(issuer: string | null): string | null {
  if (issuer === null || issuer.trim() === "") return null;
  let url: URL;
  try {
    url = new URL(issuer.trim());
  } catch {
    return "the issuer is an absolute URL, e.g. https://host.docker.internal:8443";
  }
  if (url.protocol !== "https:") return "the issuer must use https";
  if (url.search || url.hash) return "the issuer has no query or fragment (OpenID Connect Discovery §4.1)";
  return null;
}

function validateTtl(v: number | null | undefined): string | null {
  if (v === null || v === undefined || Number.isNaN(v)) return "enter a lifetime in seconds";
  if (!Number.isInteger(v) || v < 1 || v > MAX_TTL) return "a lifetime between 1 second and 10 years";
  return null;
}

export function validateSettings(s: Settings): SettingsErrors {
  const errors: SettingsErrors = {};
  const port = validatePort(s.port);
  if (port) errors.port = port;
  const bind = validateBind(s.bind_address);
  if (bind) errors.bind_address = bind;
  const issuer = validateIssuer(s.issuer_override);
  if (issuer) errors.issuer_override = issuer;
  for (const f of ["access_token_ttl", "refresh_token_ttl", "id_token_ttl"] as const) {
    const e = validateTtl(s[f]);
    if (e) errors[f] = e;
  }
  const entries = s.log_max_entries;
  if (entries === null || entries === undefined || !Number.isInteger(entries) || entries < 100 || entries > 1_000_000)
    errors.log_max_entries = "keep between 100 and 1,000,000 entries";
  const days = s.log_max_age_days;
  if (days === null || days === undefined || !Number.isInteger(days) || days < 1 || days > 365)
    errors.log_max_age_days = "keep entries between 1 and 365 days";
  return errors;
}

/** The settings to send: an empty issuer override becomes null. */
export function normalizeSettings(s: Settings): Settings {
  const issuer = s.issuer_override?.trim() ?? "";
  return { ...s, bind_address: s.bind_address.trim(), issuer_override: issuer === "" ? null : issuer };
}
