/** The Faults view's form: what the person picks, turned into a `FaultSpec` (the same
 * shape as `authdesk faults add` and a seed file's `faults:` entry). The provider
 * validates it again; this only shapes it. */
import type { FaultSpec } from "../../bindings/FaultSpec";

export const ENDPOINTS = [
  "all",
  "token",
  "authorize",
  "userinfo",
  "introspect",
  "revoke",
  "jwks",
  "discovery",
  "device",
  "registration",
] as const;

export const EFFECTS = {
  error: "OAuth error",
  status: "HTTP status",
  latency: "Latency",
  drop: "Dropped connection",
  body: "Unreadable JSON body",
  bad_token: "Bad token",
  clock_skew: "Clock skew",
  scenario: "Scenario",
} as const;
export type EffectKind = keyof typeof EFFECTS;

export const BAD_TOKENS = [
  "wrong-aud",
  "wrong-iss",
  "wrong-nonce",
  "wrong-at-hash",
  "expired-id-token",
  "unknown-key",
  "alg-none",
  "expired-access-token",
] as const;

export const SCENARIOS = {
  "next-refresh-fails": "The next refresh fails with invalid_grant",
  "expire-access-tokens": "Expire every access token now",
  "rotate-keys": "Rotate the signing keys now and drop the old one",
  "jwks-unavailable": "JWKS unavailable for 60 s",
  "clock-skew": "Clock skew: tokens issued N seconds off",
  "consent-denied": "Consent is always denied",
} as const;
export type Scenario = keyof typeof SCENARIOS;

export const DURATIONS = {
  cleared: "Until cleared",
  count: "The next N requests",
  percent: "A percentage of requests",
  for: "For a time (seconds)",
} as const;
export type DurationKind = keyof typeof DURATIONS;

export interface FaultForm {
  endpoint: (typeof ENDPOINTS)[number];
  client: string;
  grantType: string;
  effect: EffectKind;
  /** The effect's value: an error code, a status, milliseconds, truncated|malformed, a bad token, seconds. */
  value: string;
  description: string;
  retryAfter: string;
  scenario: Scenario;
  seconds: string;
  duration: DurationKind;
  durationValue: string;
}

export function emptyForm(): FaultForm {
  return {
    endpoint: "token",
    client: "",
    grantType: "",
    effect: "error",
    value: "invalid_grant",
    description: "",
    retryAfter: "",
    scenario: "next-refresh-fails",
    seconds: "",
    duration: "count",
    durationValue: "1",
  };
}

const int = (s: string): number | undefined => (s.trim() === "" ? undefined : Number(s.trim()));

/** The spec the form stands for. */
export function toSpec(f: FaultForm): FaultSpec {
  const spec: FaultSpec = {};
  if (f.effect === "scenario") {
    spec.scenario = f.scenario;
    const seconds = int(f.seconds);
    if (seconds !== undefined) spec.seconds = seconds;
    if (f.client.trim() && (f.scenario === "next-refresh-fails" || f.scenario === "consent-denied")) {
      spec.client = f.client.trim();
    }
    return spec;
  }
  spec.endpoint = f.endpoint;
  if (f.client.trim()) spec.client = f.client.trim();
  if (f.grantType.trim()) spec.grant_type = f.grantType.trim();
  switch (f.effect) {
    case "error":
      spec.error = f.value.trim();
      if (f.description.trim()) spec.description = f.description.trim();
      break;
    case "status":
      spec.status = int(f.value);
      if (int(f.retryAfter) !== undefined) spec.retry_after = int(f.retryAfter);
      break;
    case "latency":
      spec.latency = f.value.trim();
      break;
    case "drop":
      spec.drop = true;
      break;
    case "body":
      spec.body = f.value.trim();
      break;
    case "bad_token":
      spec.bad_token = f.value.trim();
      break;
    case "clock_skew":
      spec.clock_skew = int(f.value);
      break;
  }
  switch (f.duration) {
    case "count":
      spec.count = int(f.durationValue);
      break;
    case "percent":
      spec.percent = int(f.durationValue);
      break;
    case "for":
      spec.for = f.durationValue.trim();
      break;
  }
  return spec;
}

/** A sensible value when the effect changes. */
export function defaultValue(effect: EffectKind): string {
  switch (effect) {
    case "error":
      return "invalid_grant";
    case "status":
      return "503";
    case "latency":
      return "2000";
    case "body":
      return "truncated";
    case "bad_token":
      return "wrong-aud";
    case "clock_skew":
      return "-300";
    default:
      return "";
  }
}
