import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import { installHarness } from "../../test/harness";
import CertificatesView from "./CertificatesView.svelte";
import { exported } from "./exports.svelte";

describe("CertificatesView", () => {
  it("fills the trust commands with the CA file of the data directory, then with an export", async () => {
    const h = installHarness();
    for (const k of Object.keys(exported)) delete exported[k as keyof typeof exported];
    render(CertificatesView);
    await waitFor(() =>
      expect(screen.getByTestId("cert-instruction-node")).toHaveTextContent(
        `NODE_EXTRA_CA_CERTS=${h.data.certificates.ca.path}`,
      ),
    );
    await fireEvent.click(screen.getByTestId("cert-export-pem"));
    await waitFor(() =>
      expect(screen.getByTestId("cert-instruction-node")).toHaveTextContent(
        "NODE_EXTRA_CA_CERTS=/home/dev/authdesk-ca.pem",
      ),
    );
  });
});
