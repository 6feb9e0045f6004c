import { mockIPC } from "@tauri-apps/api/mocks";
import { emit } from "@tauri-apps/api/event";
import { describe, expect, it } from "vitest";
import type { ProviderStatus } from "../bindings/ProviderStatus";
import { updateClient } from "./clients";
import { IpcError, call, toIpcError } from "./core";
import { onProviderEvents, onProviderStatus } from "./events";
import { decideConsent, listRequests } from "./requests";
import { revokeClientTokens } from "./tokens";

const flush = () => new Promise((r) => setTimeout(r, 0));

describe("call", () => {
  it("turns a command's error payload into an IpcError", async () => {
    mockIPC(() => {
      throw { code: "invalid_input", message: "name: a client needs a name", field: "name" };
    });
    const err = await updateClient("x", {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IpcError);
    expect(err).toMatchObject({ code: "invalid_input", message: "name: a client needs a name", field: "name" });
  });

  it("wraps plain string errors", async () => {
    mockIPC(() => {
      throw "database is locked";
    });
    await expect(call("list_clients")).rejects.toMatchObject({
      code: "error",
      message: "database is locked",
      field: null,
    });
  });

  it("passes camelCase arguments as Tauri expects", async () => {
    const seen: [string, unknown][] = [];
    mockIPC((cmd, args) => {
      seen.push([cmd, args]);
      return cmd === "revoke_client_tokens" ? 3 : null;
    });
    expect(await revokeClientTokens("acme-web")).toBe(3);
    await decideConsent("rq_1", true, "alice");
    await listRequests({ status: "rejected" });
    expect(seen).toEqual([
      ["revoke_client_tokens", { clientId: "acme-web" }],
      ["decide_consent", { requestId: "rq_1", approve: true, username: "alice", claims: null }],
      ["list_requests", { status: "rejected" }],
    ]);
  });

  it("only takes the names and argument keys of the commands Rust registers", async () => {
    // The type-check (npm run check) fails if any line below stops being an error, i.e.
    // if the generated `Commands` stopped checking names or keys.
    const seen: string[] = [];
    mockIPC((cmd) => {
      seen.push(cmd);
      return null;
    });
    // @ts-expect-error: no such command in Rust
    await call("list_client");
    // @ts-expect-error: Rust reads `clientId`, not `client_id`
    await call("get_client", { client_id: "acme-web" });
    // @ts-expect-error: `port` is required
    await call("change_port", {});
    // @ts-expect-error: `change_port` takes a number
    await call("change_port", { port: "8443" });
    // @ts-expect-error: `list_clients` takes no arguments
    await call("list_clients", { all: true });
    // Optional (Option<…>) arguments may be left out; required ones may not.
    await call("list_requests", {});
    await call("list_consents");
    await call("get_client", { clientId: "acme-web" });
    expect(seen).toEqual([
      "list_client",
      "get_client",
      "change_port",
      "change_port",
      "list_clients",
      "list_requests",
      "list_consents",
      "get_client",
    ]);
  });

  it("normalises unknown errors", () => {
    expect(toIpcError({ code: "x", message: "m" }).field).toBeNull();
    expect(toIpcError(new Error("boom")).message).toBe("boom");
    expect(toIpcError(42).message).toBe("42");
  });
});

describe("events", () => {
  const status: ProviderStatus = {
    state: "port_in_use",
    issuer: "https://localhost:8443",
    bind: "127.0.0.1",
    port: 8443,
    message: "in use",
    data_dir: "/tmp/x",
  };

  it("delivers only the requested provider event types", async () => {
    mockIPC(() => null, { shouldMockEvents: true });
    const got: string[] = [];
    const stop = onProviderEvents(["client_changed", "token_changed"], (e) => got.push(e.type));
    await emit("provider://event", { type: "user_changed", username: "a" });
    await emit("provider://event", { type: "client_changed", client_id: "c" });
    await emit("provider://event", { type: "token_changed", id: null });
    expect(got).toEqual(["client_changed", "token_changed"]);
    stop();
    await flush();
    await emit("provider://event", { type: "client_changed", client_id: "c" });
    expect(got).toHaveLength(2);
  });

  it("reports status from provider://status", async () => {
    mockIPC(() => null, { shouldMockEvents: true });
    const got: string[] = [];
    const stop = onProviderStatus((s) => got.push(s.state));
    await emit("provider://status", status);
    await emit("provider://status", { ...status, state: "running" });
    expect(got).toEqual(["port_in_use", "running"]);
    stop();
  });

  it("can be stopped before listening has started", async () => {
    mockIPC(() => null, { shouldMockEvents: true });
    const got: unknown[] = [];
    onProviderEvents(["client_changed"], (e) => got.push(e))();
    await flush();
    await emit("provider://event", { type: "client_changed", client_id: "c" });
    expect(got).toEqual([]);
  });
});
