/**
 * The persona form as pure data: conversions to and from `User` / `UserInput`, and which
 * rule (`lib/forms/rules.ts`) checks which field. Claims typed as JSON are checked live.
 */
import type { User } from "../../bindings/User";
import type { UserInput } from "../../bindings/UserInput";
import { collectErrors, parseClaims, validateSubject, validateUsername } from "../../lib/forms/rules";

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
  const claims = parseClaims(form.claims);
  return collectErrors({
    username: validateUsername(form.username),
    sub: validateSubject(form.sub),
    claims: claims.ok ? null : claims.error,
  });
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
