import { fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import { installHarness } from "../../test/harness";
import type { TrustStatus } from "../../bindings/TrustStatus";
import TrustStores from "./TrustStores.svelte";
import { reportMessage } from "./trust";

describe("TrustStores", () => {
  it("shows each store's state, a stale CA, and the variable each runtime needs", async () => {
    const h = installHarness();
    render(TrustStores);
    await waitFor(() => expect(screen.getByTestId("trust-store-system-state")).toHaveTextContent("Not trusted"));
    expect(screen.getByTestId("trust-store-nss-state")).toHaveTextContent("Trusted");
    expect(screen.getByTestId("trust-store-system")).toHaveTextContent("needs administrator rights");
    expect(screen.getByTestId("trust-stale-java")).toBeInTheDocument();
    expect(screen.queryByTestId("trust-stale-nss")).toBeNull();
    expect(screen.getByTestId("trust-location-nss-0")).toHaveTextContent("/home/dev/.pki/nssdb");
    expect(screen.getByTestId("trust-ecosystem-node")).toHaveTextContent(
      `export NODE_EXTRA_CA_CERTS=${h.data.certificates.ca.path}`,
    );
    expect(screen.getByTestId("trust-ecosystem-python-requests")).toHaveTextContent("certifi");
    // Install applies where it would change something; Remove where something is there.
    expect(screen.getByTestId("trust-install-nss")).toBeDisabled();
    expect(screen.getByTestId("trust-remove-nss")).toBeEnabled();
    expect(screen.getByTestId("trust-remove-system")).toBeDisabled();
  });

  it("explains what a store that needs root will run before it asks, then installs", async () => {
    const h = installHarness();
    render(TrustStores);
    const install = await screen.findByTestId("trust-install-system");
    await fireEvent.click(install);
    const dialog = screen.getByTestId("confirm-dialog");
    expect(within(dialog).getByTestId("trust-commands")).toHaveTextContent(
      `install -m 0644 ${h.data.certificates.ca.path} /usr/local/share/ca-certificates/`,
    );
    expect(within(dialog).getByTestId("trust-commands")).toHaveTextContent("update-ca-certificates");
    expect(h.count("install_trust")).toBe(0);
    await fireEvent.click(screen.getByTestId("confirm-ok"));
    await waitFor(() => expect(screen.getByTestId("trust-store-system-state")).toHaveTextContent("Trusted"));
    expect(h.lastArgs("install_trust")).toEqual({ store: "system" });
    expect(screen.getByTestId("trust-remove-system")).toBeEnabled();
    expect(screen.getByTestId("trust-install-system")).toBeDisabled();
  });

  it("runs nothing when the explanation is cancelled", async () => {
    const h = installHarness();
    render(TrustStores);
    await fireEvent.click(await screen.findByTestId("trust-install-system"));
    await fireEvent.click(screen.getByTestId("confirm-cancel"));
    expect(screen.queryByTestId("confirm-dialog")).toBeNull();
    expect(h.count("install_trust")).toBe(0);
    expect(screen.getByTestId("trust-store-system-state")).toHaveTextContent("Not trusted");
  });

  it("removes from a user store at once and shows the new state", async () => {
    const h = installHarness();
    render(TrustStores);
    await fireEvent.click(await screen.findByTestId("trust-remove-nss"));
    await waitFor(() => expect(screen.getByTestId("trust-store-nss-state")).toHaveTextContent("Not trusted"));
    expect(h.lastArgs("uninstall_trust")).toEqual({ store: "nss" });
    expect(screen.queryByTestId("confirm-dialog")).toBeNull();
    expect(screen.getByTestId("trust-install-nss")).toBeEnabled();
  });

  it("shows a store's problem and keeps its buttons off, and keeps the state when a change fails", async () => {
    const h = installHarness();
    const status: TrustStatus = structuredClone(h.data.trust);
    status.stores[1]!.problem = "certutil not found; install it: sudo apt-get install libnss3-tools";
    h.override("trust_status", () => status);
    h.override("install_trust", () => {
      throw { code: "failed", message: "nothing changed: java: keytool failed", field: null };
    });
    render(TrustStores);
    await waitFor(() =>
      expect(screen.getByTestId("trust-problem-nss")).toHaveTextContent("sudo apt-get install libnss3-tools"),
    );
    expect(screen.getByTestId("trust-install-nss")).toBeDisabled();
    expect(screen.getByTestId("trust-remove-nss")).toBeDisabled();
    await fireEvent.click(screen.getByTestId("trust-install-java"));
    await waitFor(() => expect(h.count("install_trust")).toBe(1));
    expect(screen.getByTestId("trust-store-java-state")).toHaveTextContent("Not trusted");
    expect(screen.getByTestId("trust-install-java")).toBeEnabled();
  });

  it("says what a change did, stale CAs included", () => {
    const h = installHarness();
    const status = h.data.trust;
    const change = (outcome: "installed" | "already_trusted", removed: string[] = []) => ({
      store: "java" as const,
      name: "Java (jdk)",
      path: "/jdk/lib/security/cacerts",
      outcome,
      removed,
    });
    expect(reportMessage({ changes: [change("installed", ["AA"])], status }, true)).toBe(
      "Installed in Java (jdk) (and 1 stale Authdesk CA removed); restart browsers that are open",
    );
    expect(reportMessage({ changes: [change("already_trusted")], status }, true)).toBe(
      "Already trusted there; nothing changed",
    );
  });
});
