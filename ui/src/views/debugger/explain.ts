/**
 * "Explain a token": the reasons a strict validator would reject a token, from the
 * token itself, what the provider knows about it (`TokenFacts`: signature against
 * Authdesk's JWKS, the stored record) and what the validator expects (issuer,
 * audience, an RFC 9068 access token or an ID token). Pure: `now` is a parameter.
 */
import type { SignatureCheck } from "../../bindings/SignatureCheck";
import type { TokenFacts } from "../../bindings/TokenFacts";
import type { TokenSummary } from "../../bindings/TokenSummary";
import { decodeJwt, JwtDecodeError, looksLikeJwt } from "../tokens/jwt";

export type ReasonCode =
  | "malformed"
  | "unsigned"
  | "bad_signature"
  | "unknown_kid"
  | "foreign"
  | "unknown_token"
  | "revoked"
  | "expired"
  | "not_yet_valid"
  | "issued_in_future"
  | "no_exp"
  | "wrong_iss"
  | "wrong_aud"
  | "typ_not_at_jwt";

export interface Reason {
  code: ReasonCode;
  /** One line: what is wrong. */
  title: string;
  /** Why a validator cares, and what to do. */
  detail: string;
}

/** What the strict validator checks against. */
export interface Expectation {
  /** The issuer the validator trusts (Authdesk's). */
  issuer: string;
  /** The audience it is configured with (a client id, an API identifier); none: not checked. */
  audience: string | null;
  /** `access_token`: RFC 9068 (`typ` must be `at+jwt`); `id_token`: OpenID Connect. */
  use: "access_token" | "id_token";
}

export interface TimeCheck {
  claim: "iat" | "nbf" | "exp";
  value: number;
  /** Seconds from now (negative: in the past). */
  delta: number;
  ok: boolean;
}

export interface Explanation {
  format: "jwt" | "opaque";
  header: Record<string, unknown> | null;
  claims: Record<string, unknown> | null;
  signature: SignatureCheck | null;
  stored: TokenSummary | null;
  times: TimeCheck[];
  reasons: Reason[];
  /** No reason to reject it (the facts were available and everything held). */
  accepted: boolean;
}

const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

/** Human "in 5 min" / "3 h ago". */
export function relative(delta: number): string {
  const a = Math.abs(delta);
  const text =
    a < 60
      ? `${a} s`
      : a < 3600
        ? `${Math.round(a / 60)} min`
        : a < 86400 * 2
          ? `${Math.round(a / 3600)} h`
          : `${Math.round(a / 86400)} days`;
  return delta >= 0 ? `in ${text}` : `${text} ago`;
}

function audiences(claims: Record<string, unknown>): string[] {
  const aud = claims["aud"];
  if (typeof aud === "string") return [aud];
  if (Array.isArray(aud)) return aud.filter((a): a is string => typeof a === "string");
  return [];
}

function signatureReason(sig: SignatureCheck, facts: TokenFacts, kid: string | null): Reason | null {
  switch (sig) {
    case "valid":
    case "not_jwt":
      return null;
    case "unsigned":
      return {
        code: "unsigned",
        title: "alg is none: the token is not signed",
        detail: "Anyone can write an unsigned token; every validator must refuse it. Get the token from Authdesk.",
      };
    case "invalid":
      return {
        code: "bad_signature",
        title: "the signature does not verify",
        detail: `The key ${kid ?? ""} is Authdesk's, but the signature does not match the header and claims: the token was changed after it was signed.`,
      };
    case "unknown_kid":
      return {
        code: "unknown_kid",
        title: `unknown kid${kid ? ` ${kid}` : ""}`,
        detail: `The token names ${facts.issuer} as issuer, but no key in its JWKS has this kid (a rotated key, or another data directory's). Validators fetch the JWKS and refuse keys they cannot find.`,
      };
    case "foreign":
      return {
        code: "foreign",
        title: "not signed by Authdesk",
        detail: `Its key is not in ${facts.issuer}/jwks: another provider's token. A validator of Authdesk's tokens rejects it.`,
      };
  }
}

/** Explains `token`. `facts` is null when the provider could not be asked (not running). */
export function explain(token: string, facts: TokenFacts | null, expect: Expectation, now: number): Explanation {
  const t = token.trim();
  const reasons: Reason[] = [];
  let header: Record<string, unknown> | null = null;
  let claims: Record<string, unknown> | null = null;
  let format: "jwt" | "opaque" = "opaque";
  let kid: string | null = null;

  if (looksLikeJwt(t) || t.split(".").length === 3) {
    format = "jwt";
    try {
      const d = decodeJwt(t);
      header = d.header;
      claims = d.payload;
      kid = d.kid;
    } catch (e) {
      reasons.push({
        code: "malformed",
        title: "not a readable JWT",
        detail: e instanceof JwtDecodeError ? e.message : String(e),
      });
    }
  } else if (facts?.claims) {
    claims = facts.claims as Record<string, unknown>;
  }

  const stored = facts?.stored ?? null;
  const signature = facts ? facts.signature : null;
  if (facts && format === "jwt" && header) {
    const r = signatureReason(facts.signature, facts, kid);
    if (r) reasons.push(r);
  }
  if (facts && format === "opaque" && !stored) {
    reasons.push({
      code: "unknown_token",
      title: "Authdesk does not know this opaque token",
      detail:
        "An opaque token means something only to the provider that issued it; introspection answers active: false. Check that it was issued by this data directory and not cut short when copied.",
    });
  }
  if (stored && (stored.state === "revoked" || stored.revoked_at !== null)) {
    reasons.push({
      code: "revoked",
      title: "revoked",
      detail:
        "Authdesk revoked it (in the window, at the revocation endpoint, or with its grant after a refresh token was reused). Introspection answers active: false; a validator that only checks the signature would still accept it until it expires.",
    });
  }

  const times: TimeCheck[] = [];
  if (claims) {
    const iat = num(claims["iat"]);
    const nbf = num(claims["nbf"]);
    const exp = num(claims["exp"]);
    if (iat !== null) {
      const ok = iat <= now + 60;
      times.push({ claim: "iat", value: iat, delta: iat - now, ok });
      if (!ok)
        reasons.push({
          code: "issued_in_future",
          title: `issued ${relative(iat - now)}`,
          detail: "iat is later than now: the clocks disagree, or the token was made by hand.",
        });
    }
    if (nbf !== null) {
      const ok = nbf <= now;
      times.push({ claim: "nbf", value: nbf, delta: nbf - now, ok });
      if (!ok)
        reasons.push({
          code: "not_yet_valid",
          title: `not valid before ${relative(nbf - now)}`,
          detail: "nbf is in the future: the token may not be used yet. Wait, or check the clocks.",
        });
    }
    if (exp !== null) {
      const ok = exp > now;
      times.push({ claim: "exp", value: exp, delta: exp - now, ok });
      if (!ok)
        reasons.push({
          code: "expired",
          title: `expired ${relative(exp - now)}`,
          detail: "exp has passed. Get a new token: use the refresh token, or sign in again.",
        });
    } else if (format === "jwt") {
      reasons.push({
        code: "no_exp",
        title: "no exp claim",
        detail: "RFC 9068 and OpenID Connect require exp; strict validators refuse a token without it.",
      });
    }

    const iss = typeof claims["iss"] === "string" ? (claims["iss"] as string) : null;
    if (iss !== expect.issuer) {
      reasons.push({
        code: "wrong_iss",
        title: iss ? `iss is ${iss}, not ${expect.issuer}` : "no iss claim",
        detail: `The validator trusts ${expect.issuer}. A different port, host (localhost vs 127.0.0.1) or an issuer override makes another issuer: configure the app with the issuer Authdesk shows in its header.`,
      });
    }
    if (expect.audience) {
      const auds = audiences(claims);
      if (!auds.includes(expect.audience)) {
        reasons.push({
          code: "wrong_aud",
          title: auds.length ? `aud is ${auds.join(", ")}, not ${expect.audience}` : "no aud claim",
          detail: `The validator expects the audience ${expect.audience}. Authdesk's access tokens carry the client id as aud; an API that expects its own identifier must be configured with it, or the token requested for it.`,
        });
      }
    }
  }
  if (format === "jwt" && header && expect.use === "access_token") {
    const typ = typeof header["typ"] === "string" ? (header["typ"] as string).toLowerCase() : null;
    if (typ !== "at+jwt" && typ !== "application/at+jwt") {
      reasons.push({
        code: "typ_not_at_jwt",
        title: typ ? `typ is ${header["typ"] as string}, not at+jwt` : "no typ header",
        detail:
          "RFC 9068 §4: a resource server must refuse a JWT access token whose typ is not at+jwt — this keeps ID tokens from being used as access tokens. Send the access token, not the ID token.",
      });
    }
  }

  return {
    format,
    header,
    claims,
    signature,
    stored,
    times,
    reasons,
    accepted: facts !== null && reasons.length === 0 && claims !== null,
  };
}
