import type { RequestEntry } from "../bindings/RequestEntry";
import type { RequestStatus } from "../bindings/RequestStatus";
import { call, type ArgsOf } from "./core";

/** Arguments of `list_requests`; absent keys are not sent. */
export interface RequestQuery {
  clientId?: string;
  status?: RequestStatus;
  limit?: number;
}

export function listRequests(query: RequestQuery = {}): Promise<RequestEntry[]> {
  const args: ArgsOf<"list_requests"> = {};
  if (query.clientId) args.clientId = query.clientId;
  if (query.status) args.status = query.status;
  if (query.limit !== undefined) args.limit = query.limit;
  return call("list_requests", args);
}

export const listPendingConsents = () => call("list_pending_consents");

/** Approves (as `username`) or denies a pending authorization request. */
/** `claims`: a JSON object's text replacing the persona's claims for this sign-in. */
export const decideConsent = (
  requestId: string,
  approve: boolean,
  username: string | null,
  claims: string | null = null,
) => call("decide_consent", { requestId, approve, username, claims });
