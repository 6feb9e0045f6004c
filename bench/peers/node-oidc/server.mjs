// node-oidc-provider as a peer for the Authdesk benchmark.
//
//   node server.mjs --cert server.pem --key server-key.pem [--port 0]
//
// Serves HTTPS on 127.0.0.1 and prints `issuer https://localhost:PORT` once it accepts
// connections. One static confidential client, the same as Authdesk's sample `service`
// client: client_credentials, client_secret_basic, scopes api.read api.write. Token
// introspection is enabled. Everything else is oidc-provider's defaults: opaque access
// tokens kept by its in-memory adapter (an LRU), one Node.js process (one core).
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  if (i === -1) {
    if (fallback === undefined) {
      console.error(`node-oidc: ${name} is required`);
      process.exit(2);
    }
    return fallback;
  }
  return process.argv[i + 1];
}

const port = Number(arg('--port', '0'));
const tls = { cert: readFileSync(arg('--cert')), key: readFileSync(arg('--key')) };

// A signing key of our own, so the provider does not fall back to its development keys.
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = { ...privateKey.export({ format: 'jwk' }), use: 'sig', alg: 'ES256', kid: 'bench' };

const configuration = {
  clients: [
    {
      client_id: 'service',
      client_secret: 'service-secret-with-at-least-32-bytes!!',
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'ES256',
      scope: 'api.read api.write',
    },
  ],
  scopes: ['api.read', 'api.write'],
  features: {
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    devInteractions: { enabled: false },
  },
  jwks: { keys: [jwk] },
};

let handler = (req, res) => {
  res.statusCode = 503;
  res.end();
};
const server = https.createServer(tls, (req, res) => handler(req, res));
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1', () => {
  const actual = server.address().port;
  const issuer = `https://localhost:${actual}`;
  const provider = new Provider(issuer, configuration);
  provider.on('server_error', (ctx, err) => console.error('node-oidc: server_error', err));
  handler = provider.callback();
  process.stdout.write(`issuer ${issuer}\n`);
});

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    server.close();
    process.exit(0);
  });
}
