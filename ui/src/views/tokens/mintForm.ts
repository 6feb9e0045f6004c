/** The "Generate token" form: its values, checks, and the `mint_token` request they make. */
import type { MintInput } from "../../bindings/MintInput";
import type { TokenFormat } from "../../bindings/TokenFormat";
import { RESERVED_CLAIMS, collectErrors, validateTtl } from "../../lib/forms/rules";

export interface MintForm {
  client_id: string;
  /** "": a token for the client itself (no persona). */
  username: string;
  /** Space-separated; blank: what the client may have. */
  scopes: string;
  /** A JSON object; blank: none. */
  claims: string;
  /** Space-separated resources; blank: the client's default audience. */
  audience: string;
  /** Seconds; null: the client's access-token lifetime. */
  ttl: number | null;
  /** "": the client's format. */
  format: TokenFormat | "";
  expired: boolean;
}

export type MintField = "client_id" | "claims" | "ttl";

export const newMintForm = (clientId = ""): MintForm => ({
  client_id: clientId,
  username: "",
  scopes: "",
  claims: "",
  audience: "",
  ttl: null,
  format: "",
  expired: false,
});

const words = (text: string) => text.split(/\s+/).filter(Boolean);

/** The extra claims: a JSON object naming no reserved claim; null when blank. */
export function parseMintClaims(text: string): { claims: Record<string, unknown> | null; error: string | null } {
  if (text.trim() === "") return { claims: null, error: null };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { claims: null, error: `Not valid JSON: ${(e as Error).message}` };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { claims: null, error: 'Extra claims must be a JSON object, e.g. {"roles": ["admin"]}' };
  }
  const reserved = Object.keys(value).filter((k) => RESERVED_CLAIMS.includes(k));
  if (reserved.length > 0) {
    const list = reserved.map((k) => `'${k}'`).join(", ");
    return {
      claims: null,
      error: `${list} ${reserved.length === 1 ? "is" : "are"} set by the provider; remove ${reserved.length === 1 ? "it" : "them"}`,
    };
  }
  return { claims: value as Record<string, unknown>, error: null };
}

export function validateMintForm(v: MintForm) {
  return collectErrors<MintField>({
    client_id: v.client_id ? null : "choose a client",
    claims: parseMintClaims(v.claims).error,
    ttl: v.ttl === null || v.ttl === undefined ? null : validateTtl(v.ttl),
  });
}

export function toMintInput(v: MintForm): MintInput {
  return {
    client_id: v.client_id,
    username: v.username || null,
    scopes: words(v.scopes),
    ttl: v.ttl ?? null,
    format: v.format || null,
    expired: v.expired,
    claims: parseMintClaims(v.claims).claims,
    audiences: words(v.audience),
  };
}
