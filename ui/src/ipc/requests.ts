import type { PendingConsent } from "../bindings/PendingConsent";
import type { RequestEntry } from "../bindings/RequestEntry";
import type { RequestStatus } from "../bindings/RequestStatus";
import { call } from "./core";

/** Arguments of `list_requests`; absent keys are not sent. */
export interface RequestQuery {
  clientId?: string;
  status?: RequestStatus;
  limit?: number;
}

export function listRequests(query: RequestQuery = {}): Promise<RequestEntry[]> {
  const args: Record<string, unknown> = {};
  if (query.clientId) args.clientId = query.clientId;
  if (query.status) args.status = query.status;
  if (query.limit !== undefined) args.limit = query.limit;
  return call<RequestEntry[]>("list_requests", args);
}

export const listPendingConsents = () => call<PendingConsent[]>("list_pending_consents");

/** Approves (as `username`) or denies a pending authorization request. */
export const decideConsent = (requestId: string, approve: boolean, username: string | null) =>
  call<void>("decide_consent", { requestId, approve, username });
