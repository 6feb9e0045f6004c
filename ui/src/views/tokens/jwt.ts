/**
 * Decodes (never verifies) a compact JWS locally, for display: base64url → UTF-8 →
 * JSON, with an error that says which part is wrong.
 */

export class JwtDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "JwtDecodeError";
  }
}

export interface DecodedJwt {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  /** The signature, still base64url-encoded. */
  signature: string;
  /** The `kid` of the signing key, when the header names one. */
  kid: string | null;
  alg: string | null;
}

const B64URL = /^[A-Za-z0-9_-]*$/;

/** Decodes base64url (RFC 4648 §5), padding optional, to bytes. */
export function base64UrlToBytes(input: string): Uint8Array {
  const s = input.replace(/=+$/, "");
  if (!B64URL.test(s)) throw new JwtDecodeError("contains characters outside the base64url alphabet");
  if (s.length % 4 === 1) throw new JwtDecodeError("has an impossible base64url length");
  const b64 = s.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (s.length % 4)) % 4);
  let bin: string;
  try {
    bin = atob(b64);
  } catch {
    throw new JwtDecodeError("is not valid base64url");
  }
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes;
}

/** Decodes base64url to a UTF-8 string; malformed UTF-8 is an error, not U+FFFD. */
export function base64UrlDecode(input: string): string {
  const bytes = base64UrlToBytes(input);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new JwtDecodeError("is not valid UTF-8");
  }
}

/** Encodes a UTF-8 string as unpadded base64url (the inverse of `base64UrlDecode`). */
export function base64UrlEncode(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function decodeJsonPart(part: string, name: string): Record<string, unknown> {
  let text: string;
  try {
    text = base64UrlDecode(part);
  } catch (e) {
    throw new JwtDecodeError(`The ${name} ${(e as Error).message}.`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new JwtDecodeError(`The ${name} is not JSON.`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new JwtDecodeError(`The ${name} is not a JSON object.`);
  }
  return value as Record<string, unknown>;
}

/** True when the value has the shape of a compact JWS (three base64url parts). */
export function looksLikeJwt(value: string): boolean {
  const parts = value.trim().split(".");
  return parts.length === 3 && parts.every((p) => B64URL.test(p)) && parts[0]!.length > 0 && parts[1]!.length > 0;
}

/** Decodes a compact JWS. Throws `JwtDecodeError` on malformed input. */
export function decodeJwt(token: string): DecodedJwt {
  const t = token.trim();
  if (t === "") throw new JwtDecodeError("The token is empty.");
  const parts = t.split(".");
  if (parts.length === 5) {
    throw new JwtDecodeError("This is an encrypted JWT (JWE); its claims cannot be read without the key.");
  }
  if (parts.length !== 3) {
    throw new JwtDecodeError(`A JWT has three dot-separated parts; this value has ${parts.length}.`);
  }
  const [h, p, s] = parts as [string, string, string];
  if (h === "" || p === "") throw new JwtDecodeError("The header or payload part is empty.");
  const header = decodeJsonPart(h, "header");
  const payload = decodeJsonPart(p, "payload");
  if (!B64URL.test(s)) throw new JwtDecodeError("The signature contains characters outside the base64url alphabet.");
  return {
    header,
    payload,
    signature: s,
    kid: typeof header["kid"] === "string" ? header["kid"] : null,
    alg: typeof header["alg"] === "string" ? header["alg"] : null,
  };
}

/** Timestamp claims worth humanizing, in display order. */
export const TIME_CLAIMS = ["iat", "nbf", "auth_time", "exp"] as const;

/** The numeric time claims present in a payload, e.g. `[["iat", 1700000000], ["exp", …]]`. */
export function timeClaims(payload: Record<string, unknown>): [string, number][] {
  const out: [string, number][] = [];
  for (const k of TIME_CLAIMS) {
    const v = payload[k];
    if (typeof v === "number" && Number.isFinite(v)) out.push([k, v]);
  }
  return out;
}
