/**
 * The settings form: which rule (`lib/forms/rules.ts`) checks which field, and the
 * settings as they are sent.
 */
import type { Settings } from "../../bindings/Settings";
import {
  collectErrors,
  validateBindAddress,
  validateIssuer,
  validateLogMaxAgeDays,
  validateLogMaxEntries,
  validatePort,
  validateTtl,
} from "../../lib/forms/rules";

export type SettingsErrors = Partial<Record<keyof Settings, string>>;

export function validateSettings(s: Settings): SettingsErrors {
  return collectErrors({
    port: validatePort(s.port),
    bind_address: validateBindAddress(s.bind_address),
    issuer_override: validateIssuer(s.issuer_override),
    access_token_ttl: validateTtl(s.access_token_ttl),
    refresh_token_ttl: validateTtl(s.refresh_token_ttl),
    id_token_ttl: validateTtl(s.id_token_ttl),
    log_max_entries: validateLogMaxEntries(s.log_max_entries),
    log_max_age_days: validateLogMaxAgeDays(s.log_max_age_days),
  });
}

/** The settings to send: an empty issuer override becomes null. */
export function normalizeSettings(s: Settings): Settings {
  const issuer = s.issuer_override?.trim() ?? "";
  return { ...s, bind_address: s.bind_address.trim(), issuer_override: issuer === "" ? null : issuer };
}
