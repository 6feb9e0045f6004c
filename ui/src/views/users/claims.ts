/**
 * The persona form as pure data: claims typed as JSON are checked live (an object,
 * no claim the provider sets itself), usernames as the core checks identifiers.
 */
import type { User } from "../../bindings/User";
import type { UserInput } from "../../bindings/UserInput";

/** Claims the provider sets itself; a persona cannot override them. */
export const RESERVED_CLAIMS = [
  "sub",
  "iss",
  "aud",
  "exp",
  "iat",
  "nbf",
  "jti",
  "auth_time",
  "nonce",
  "at_hash",
  "c_hash",
  "azp",
  "acr",
  "amr",
  "sid",
] as const;

export type ClaimsResult = { ok: true; claims: Record<string, unknown> } | { ok: false; error: string };

/** Where a JSON.parse error points, as "line L, column C", when the engine says so. */
function locate(text: string, message: string): string | null {
  const m = /position (\d+)/i.exec(message);
  if (!m) {
    const lc = /line (\d+) column (\d+)/i.exec(message);
    return lc ? `line ${lc[1]}, column ${lc[2]}` : null;
  }
  const pos = Number(m[1]);
  const before = text.slice(0, pos);
  const line = before.split("\n").length;
  const column = pos - before.lastIndexOf("\n");
  return `line ${line}, column ${column}`;
}

/** Parses and checks claims text. Blank text means no claims. */
export function parseClaims(text: string): ClaimsResult {
  if (text.trim() === "") return { ok: true, claims: {} };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    const where = locate(text, msg);
    return { ok: false, error: `Not valid JSON${where ? ` (${where})` : ""}: ${msg}` };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return {
      ok: false,
      error: 'Claims must be a JSON object, e.g. {"name": "Carol", "email": "carol@example.com"}',
    };
  }
  const reserved = Object.keys(value).filter((k) => (RESERVED_CLAIMS as readonly string[]).includes(k));
  if (reserved.length > 0) {
    const list = reserved.map((k) => `'${k}'`).join(", ");
    return {
      ok: false,
      error: `${list} ${reserved.length === 1 ? "is" : "are"} set by the provider and cannot be a persona claim; remove ${reserved.length === 1 ? "it" : "them"}`,
    };
  }
  return { ok: true, claims: value as Record<string, unknown> };
}

/** Why a username would be refused, or null. */
export function validateUsername(username: string): string | null {
  if (username.length === 0) return "a persona needs a username, e.g. carol";
  if (username.length > 200) return "a username is at most 200 characters";
  const bad = [...username].find((c) => /[\s:]/.test(c) || /\p{Cc}/u.test(c));
  if (bad !== undefined) {
    return `'${username}' contains ${bad === " " ? "a space" : JSON.stringify(bad)}; use letters, digits, '-', '_' or '.'`;
  }
  return null;
}

export interface UserForm {
  username: string;
  /** Only sent when creating; empty lets the core generate one. */
  sub: string;
  password: string;
  /** Editing only: remove the persona's password. */
  remove_password: boolean;
  claims: string;
}

export type UserFormErrors = Partial<Record<keyof UserForm, string>>;

export const EXAMPLE_CLAIMS = {
  name: "Carol Example",
  email: "carol@example.com",
  email_verified: true,
};

export function newUserForm(): UserForm {
  return {
    username: "",
    sub: "",
    password: "",
    remove_password: false,
    claims: JSON.stringify(EXAMPLE_CLAIMS, null, 2),
  };
}

export function userToForm(u: User): UserForm {
  return {
    username: u.username,
    sub: u.sub,
    password: "",
    remove_password: false,
    claims: JSON.stringify(u.claims, null, 2),
  };
}

export function validateUserForm(form: UserForm): UserFormErrors {
  const errors: UserFormErrors = {};
  const u = validateUsername(form.username);
  if (u) errors.username = u;
  if (form.sub !== "" && /\s/.test(form.sub)) errors.sub = "a subject identifier has no spaces";
  const c = parseClaims(form.claims);
  if (!c.ok) errors.claims = c.error;
  return errors;
}

/**
 * The input for `create_user` / `update_user`. When editing, an empty password
 * leaves it unchanged and `remove_password` sends `""`, which removes it.
 */
export function toUserInput(form: UserForm, opts: { isNew: boolean }): UserInput {
  const c = parseClaims(form.claims);
  if (!c.ok) throw new Error(c.error);
  const input: UserInput = { username: form.username, claims: c.claims };
  if (opts.isNew && form.sub.trim() !== "") input.sub = form.sub.trim();
  if (form.password !== "") input.password = form.password;
  else if (!opts.isNew && form.remove_password) input.password = "";
  return input;
}

/** A display name for a persona: the `name` claim, else the username. */
export function displayName(u: User): string {
  const name = u.claims["name"];
  return typeof name === "string" && name.trim() !== "" ? name : u.username;
}
