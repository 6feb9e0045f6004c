import { describe, expect, it } from "vitest";
import { shellQuote, trustInstructions } from "./instructions";

const byId = (paths: Parameters<typeof trustInstructions>[0]) =>
  Object.fromEntries(trustInstructions(paths, "https://localhost:8443").map((i) => [i.id, i]));

describe("trustInstructions", () => {
  it("waits for the export each ecosystem needs", () => {
    const all = byId({});
    for (const i of Object.values(all)) expect(i.code).toBeNull();
    expect(all["python-requests"]!.needs).toEqual(["bundle"]);
    expect(all["java"]!.needs).toEqual(["p12"]);
  });

  it("fills in the exported paths", () => {
    const i = byId({
      pem: "/home/dev/authdesk-ca.pem",
      bundle: "/home/dev/authdesk-bundle.pem",
      p12: "/home/dev/authdesk.p12",
    });
    expect(i["python-requests"]!.code).toBe("export REQUESTS_CA_BUNDLE=/home/dev/authdesk-bundle.pem");
    expect(i["python-httpx"]!.code).toBe("export SSL_CERT_FILE=/home/dev/authdesk-bundle.pem");
    expect(i["node"]!.code).toBe("export NODE_EXTRA_CA_CERTS=/home/dev/authdesk-ca.pem");
    expect(i["curl"]!.code).toContain(
      "curl --cacert /home/dev/authdesk-ca.pem https://localhost:8443/.well-known/openid-configuration",
    );
    expect(i["curl"]!.code).toContain("export CURL_CA_BUNDLE=/home/dev/authdesk-bundle.pem");
    expect(i["java"]!.code).toBe(
      "java -Djavax.net.ssl.trustStore=/home/dev/authdesk.p12 -Djavax.net.ssl.trustStoreType=PKCS12 -Djavax.net.ssl.trustStorePassword=changeit -jar app.jar",
    );
    expect(i["browsers"]!.code).toContain("/home/dev/authdesk-ca.pem");
  });

  it("shows curl with whichever of PEM or bundle exists", () => {
    expect(byId({ bundle: "/b.pem" })["curl"]!.code).toBe("export CURL_CA_BUNDLE=/b.pem");
    expect(byId({ der: "/ca.cer" })["browsers"]!.code).toContain("/ca.cer");
  });

  it("quotes paths a shell would split", () => {
    expect(shellQuote("/home/dev/ca.pem")).toBe("/home/dev/ca.pem");
    expect(shellQuote("/home/Jo Doe/ca.pem")).toBe("'/home/Jo Doe/ca.pem'");
    expect(shellQuote("/tmp/it's.pem")).toBe("'/tmp/it'\\''s.pem'");
    expect(byId({ pem: "/My Certs/ca.pem" })["node"]!.code).toBe("export NODE_EXTRA_CA_CERTS='/My Certs/ca.pem'");
  });
});
