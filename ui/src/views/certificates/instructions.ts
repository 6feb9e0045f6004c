/**
 * What to do with an exported certificate in each ecosystem, with the exported
 * paths filled in. Pure, so the text is tested without a window.
 */
import type { ExportFormat } from "../../bindings/ExportFormat";

export type ExportedPaths = Partial<Record<ExportFormat, string>>;

export const EXPORT_FORMATS: { format: ExportFormat; label: string; description: string }[] = [
  { format: "pem", label: "PEM", description: "The CA certificate, text (authdesk-ca.pem)" },
  { format: "der", label: "DER", description: "The CA certificate, binary (authdesk-ca.der)" },
  {
    format: "bundle",
    label: "Bundle",
    description: "System roots plus the Authdesk CA, for REQUESTS_CA_BUNDLE / SSL_CERT_FILE",
  },
  { format: "p12", label: "PKCS#12", description: "A Java trust store holding the CA (password changeit)" },
];

export interface Instruction {
  id: string;
  title: string;
  /** The exports this needs, in order of preference. */
  needs: ExportFormat[];
  /** Shell or config text with paths filled in; null until a needed format is exported. */
  code: string | null;
  note: string;
}

/** Quotes a path for a POSIX shell when it needs it. */
export function shellQuote(path: string): string {
  if (/^[A-Za-z0-9_./:@%+=,-]+$/.test(path)) return path;
  return `'${path.replace(/'/g, `'\\''`)}'`;
}

export function trustInstructions(paths: ExportedPaths, issuer = "https://localhost:8443"): Instruction[] {
  const q = (f: ExportFormat) => (paths[f] ? shellQuote(paths[f]!) : null);
  const pem = q("pem");
  const bundle = q("bundle");
  const p12 = q("p12");
  const der = q("der");
  const discovery = `${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`;

  const curlLines: string[] = [];
  if (pem) curlLines.push(`curl --cacert ${pem} ${discovery}`);
  if (bundle) curlLines.push(`export CURL_CA_BUNDLE=${bundle}`);

  const browserLines: string[] = [];
  const caFile = pem ?? der;
  if (caFile) {
    browserLines.push(
      `# Or let Authdesk do it: Install under "Trust stores on this machine" above, or run: authdesk ca install`,
      `# Firefox: Settings → Privacy & Security → Certificates → View Certificates → Authorities → Import ${caFile}`,
      `# Chrome/Chromium: Settings → Privacy and security → Security → Manage certificates → Authorities → Import`,
      `# Debian/Ubuntu system store (curl, wget, most CLIs):`,
      `sudo cp ${caFile} /usr/local/share/ca-certificates/authdesk-ca.crt && sudo update-ca-certificates`,
    );
  }

  return [
    {
      id: "python-requests",
      title: "Python · requests",
      needs: ["bundle"],
      code: bundle ? `export REQUESTS_CA_BUNDLE=${bundle}` : null,
      note: "requests ignores the system store and uses certifi; point it at the bundle (system roots + Authdesk CA).",
    },
    {
      id: "python-httpx",
      title: "Python · httpx / ssl",
      needs: ["bundle"],
      code: bundle ? `export SSL_CERT_FILE=${bundle}` : null,
      note: "httpx, aiohttp and the standard ssl module read SSL_CERT_FILE.",
    },
    {
      id: "node",
      title: "Node.js",
      needs: ["pem"],
      code: pem ? `export NODE_EXTRA_CA_CERTS=${pem}` : null,
      note: "Node adds these CAs to its built-in roots; set it before starting node.",
    },
    {
      id: "curl",
      title: "curl",
      needs: ["pem", "bundle"],
      code: curlLines.length ? curlLines.join("\n") : null,
      note: "--cacert trusts only the given CA for one call; CURL_CA_BUNDLE replaces curl's store, so give it the bundle.",
    },
    {
      id: "java",
      title: "Java / JVM",
      needs: ["p12"],
      code: p12
        ? `java -Djavax.net.ssl.trustStore=${p12} -Djavax.net.ssl.trustStoreType=PKCS12 -Djavax.net.ssl.trustStorePassword=changeit -jar app.jar`
        : null,
      note: "Spring Boot, Gradle and Maven take the same -D flags (e.g. in JAVA_TOOL_OPTIONS).",
    },
    {
      id: "browsers",
      title: "Browsers and the system store",
      needs: ["pem", "der"],
      code: browserLines.length ? browserLines.join("\n") : null,
      note: "Import the CA certificate as a trusted authority, then restart the browser.",
    },
  ];
}
