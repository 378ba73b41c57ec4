/**
 * RegistryClient's policy: SSRF (link-local and metadata addresses refused on
 * the address a socket would connect to, DNS rebinding included), credentials
 * only to their registry and its token realms, the allow-list, checked
 * redirects, per-registry TLS, the circuit breaker and the metrics hook.
 * Connections are real: the plain registry from the global setup, or tiny
 * node:http servers where a behaviour (a hostile realm, a redirect) is needed.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseImage } from '../../src/reference/index.js';
import type { Credential } from '../../src/credentials/types.js';
import {
  RegistryAuthError,
  RegistryCircuitOpenError,
  RegistryClient,
  RegistryPolicyError,
  RegistryUnavailableError,
  type RegistryClientOptions,
  type RequestEvent,
} from '../../src/registry/index.js';
import { createPki, type TestPki } from '../harness/pki.js';
import { run } from '../harness/exec.js';
import '../helpers/registry-types.js';
import { fakeDns } from '../support/fake-dns.js';
import { rejection } from '../support/rejection.js';

const registries = inject('registries');
const { plain, basic } = registries;
const plainPort = plain.host.split(':')[1] ?? '';
const CREDENTIAL: Credential = { username: 'alice', password: 's3cret-pw', source: 'test' };
const INDEX = 'application/vnd.oci.image.index.v1+json';
const DIGEST = `sha256:${'c'.repeat(64)}`;

const clients: RegistryClient[] = [];
function newClient(options: Partial<RegistryClientOptions> = {}): RegistryClient {
  const client = new RegistryClient({ env: {}, caFiles: [], insecureRegistries: [], requestTimeoutMs: 2_000, userAgent: 'digest-pinner-test', ...options });
  clients.push(client);
  return client;
}
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
});

function getDigest(client: RegistryClient, image: string, credential?: Credential) {
  const ref = parseImage(image);
  return client.getDigest(ref, ref.tag ?? 'latest', credential, AbortSignal.timeout(10_000));
}


/**
 * Every TCP connection attempt this process makes, as `ip:port`, from Node's own
 * `connectionAttempt` event: the proof that nothing was sent to an address.
 */
const attempts: string[] = [];
const onSocket = (message: unknown): void => {
  const { socket } = message as { socket: Socket };
  socket.on('connectionAttempt', (ip: string, port: number) => attempts.push(`${ip}:${port}`));
};
beforeAll(() => {
  subscribe('net.client.socket', onSocket);
});
afterAll(() => {
  unsubscribe('net.client.socket', onSocket);
});
afterEach(() => {
  attempts.length = 0;
});
const towardsBlocked = (): string[] => attempts.filter((a) => /^(169\.254\.|0\.0\.0\.0|::ffff:169|fd00:ec2|fe80)/i.test(a));

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
interface Seen {
  readonly method: string;
  readonly url: string;
  readonly authorization: string | undefined;
}
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(
    servers.splice(0).map(
      (s) =>
        new Promise<void>((done) => {
          s.closeAllConnections();
          s.close(() => {
            done();
          });
        }),
    ),
  );
});

async function fakeServer(handler: Handler): Promise<{ host: string; port: number; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization });
    handler(req, res);
  });
  servers.push(server);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return { host: `127.0.0.1:${port}`, port, seen };
}

/** A registry that challenges for a bearer token at `realm` and accepts any Bearer token. */
function bearerRegistry(realm: () => string): Handler {
  return (req, res) => {
    if (req.headers.authorization?.startsWith('Bearer ') === true) {
      res.writeHead(200, { 'docker-content-digest': DIGEST, 'content-type': INDEX }).end();
      return;
    }
    res.writeHead(401, { 'www-authenticate': `Bearer realm="${realm()}",service="fake"` }).end();
  };
}

const issueToken: Handler = (_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: 'tok', expires_in: 300 }));
};

describe('SSRF: link-local and metadata addresses are never contacted', () => {
  it.each([
    ['169.254.169.254/latest/meta-data:v1', '169.254.169.254'],
    [`169.254.169.254:${plainPort}/dp/app:v1`, '169.254.169.254'],
    [`0.0.0.0:${plainPort}/fixtures/single:v1`, '0.0.0.0'],
    [`[::ffff:a9fe:a9fe]:${plainPort}/dp/app:v1`, '[::ffff:a9fe:a9fe]'],
    [`[fe80::1]:${plainPort}/dp/app:v1`, '[fe80::1]'],
    [`[fd00:ec2::254]/dp/app:v1`, '[fd00:ec2::254]'],
    ['0xa9.0xfe.0xa9.0xfe/dp/app:v1', '169.254.169.254'],
  ])('refuses the image %s before any connection', async (image, shownHost) => {
    const client = newClient({ insecureRegistries: [parseImage(image).domain] });
    const error = await rejection(getDigest(client, image));
    expect(error).toBeInstanceOf(RegistryPolicyError);
    expect(error).toMatchObject({ code: 'DP_ERR_REGISTRY_POLICY' });
    expect(error.message).toContain(`${shownHost} is a `);
    expect(error.message).toContain('address, which digest-pinner never contacts');
    expect(attempts).toEqual([]);
  });

  it('refuses a host name that resolves to 169.254.169.254, checked on the resolved address', async () => {
    const dns = fakeDns({ 'metadata.test': ['169.254.169.254'] });
    const client = newClient({ insecureRegistries: [`metadata.test:${plainPort}`], lookup: dns });
    const error = await rejection(getDigest(client, `metadata.test:${plainPort}/dp/app:v1`));
    expect(error).toBeInstanceOf(RegistryPolicyError);
    expect(error.message).toMatch(/metadata\.test \(resolves to 169\.254\.169\.254\) is a link-local \(cloud metadata\) address/);
    expect(dns.calls).toContain('metadata.test');
    expect(towardsBlocked()).toEqual([]);
    expect(attempts).toEqual([]);
  });

  it('connects through the same guard when the name resolves to a permitted address (a real registry answers)', async () => {
    const dns = fakeDns({ 'registry.test': ['127.0.0.1'] });
    const client = newClient({ insecureRegistries: [`registry.test:${plainPort}`], lookup: dns });
    const { single } = plain.images;
    const got = await getDigest(client, `registry.test:${plainPort}/${single.repository}:${single.tag}`);
    expect(got.digest).toBe(single.digest);
    expect(attempts).toContain(`127.0.0.1:${plainPort}`);
    expect(towardsBlocked()).toEqual([]);
  });

  it('catches DNS rebinding: a check on the name before connecting does not decide, the connect-time address does', async () => {
    // The first answer (to a pre-check) is harmless; the one the socket gets is the metadata address.
    const dns = fakeDns({ 'rebind.test': ['127.0.0.1', '169.254.169.254'] });
    // Someone checks the name before any connection: its answer is harmless.
    const preChecked = await new Promise<string>((resolve) => {
      dns('rebind.test', { all: false }, (_error, address) => {
        resolve(typeof address === 'string' ? address : address.map((a) => a.address).join(','));
      });
    });
    expect(preChecked).toBe('127.0.0.1');
    const client = newClient({ insecureRegistries: [`rebind.test:${plainPort}`], lookup: dns });
    const error = await rejection(getDigest(client, `rebind.test:${plainPort}/dp/app:v1`));
    expect(error).toBeInstanceOf(RegistryPolicyError);
    expect(error.message).toContain('rebind.test (resolves to 169.254.169.254)');
    expect(towardsBlocked()).toEqual([]);
  });

  it('refuses a token realm the registry points at 169.254.169.254, with or without credentials', async () => {
    const registry = await fakeServer(bearerRegistry(() => 'http://169.254.169.254/latest/meta-data/iam'));
    const client = newClient({ insecureRegistries: [registry.host] });
    const anonymous = await rejection(getDigest(client, `${registry.host}/dp/app:v1`));
    expect(anonymous).toBeInstanceOf(RegistryPolicyError);
    expect(anonymous.message).toContain('169.254.169.254 is a link-local (cloud metadata) address');
    const withCredential = await rejection(getDigest(client, `${registry.host}/dp/app:v1`, CREDENTIAL));
    // Credentials are never offered to another host; the realm is not contacted either way.
    expect(withCredential).toBeInstanceOf(RegistryAuthError);
    expect(towardsBlocked()).toEqual([]);
  });

  it('refuses a token realm whose name resolves to a metadata address', async () => {
    const dns = fakeDns({ 'realm.test': ['fd00:ec2::254'] });
    const registry = await fakeServer(bearerRegistry(() => 'http://realm.test/token'));
    const client = newClient({ insecureRegistries: [registry.host], lookup: dns });
    const error = await rejection(getDigest(client, `${registry.host}/dp/app:v1`));
    expect(error).toBeInstanceOf(RegistryPolicyError);
    expect(error.message).toContain('realm.test (resolves to fd00:ec2::254) is a cloud metadata (AWS) address');
    expect(towardsBlocked()).toEqual([]);
  });

  it('refuses a redirect to a metadata address, and follows a permitted one without the credentials', async () => {
    const target = await fakeServer((_req, res) => res.writeHead(200, { 'docker-content-digest': DIGEST, 'content-type': INDEX }).end());
    let location = 'http://169.254.169.254/latest/meta-data/';
    const registry = await fakeServer((req, res) => {
      if (req.url === '/v2/') {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="r"' }).end();
        return;
      }
      if (req.headers.authorization === undefined) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="r"' }).end();
        return;
      }
      res.writeHead(307, { location }).end();
    });
    const client = newClient({ insecureRegistries: [registry.host] });
    const refused = await rejection(getDigest(client, `${registry.host}/dp/app:v1`, CREDENTIAL));
    expect(refused).toBeInstanceOf(RegistryPolicyError);
    expect(refused.message).toContain(`${registry.host} redirected to 169.254.169.254, which is not allowed by policy`);
    expect(towardsBlocked()).toEqual([]);

    location = `http://localhost:${target.port}/elsewhere`;
    expect((await getDigest(client, `${registry.host}/dp/app:v2`, CREDENTIAL)).digest).toBe(DIGEST);
    expect(target.seen).toEqual([{ method: 'HEAD', url: '/elsewhere', authorization: undefined }]);
  });
});

describe('credentials go only to their registry and its token realms', () => {
  it('does not send credentials to a realm on another host, and says how to allow it', async () => {
    const auth = await fakeServer(issueToken);
    const registry = await fakeServer(bearerRegistry(() => `http://localhost:${auth.port}/token`));
    const error = await rejection(getDigest(newClient({ insecureRegistries: [registry.host] }), `${registry.host}/dp/app:v1`, CREDENTIAL));
    expect(error).toBeInstanceOf(RegistryAuthError);
    expect(error.message).toContain(`registry named token realm http://localhost:${auth.port}, on another host: credentials for ${registry.host} are not sent there`);
    expect(auth.seen).toEqual([]);
  });

  it('asks a realm on another host for an anonymous token (no credentials at stake)', async () => {
    const auth = await fakeServer(issueToken);
    const registry = await fakeServer(bearerRegistry(() => `http://localhost:${auth.port}/token`));
    expect((await getDigest(newClient({ insecureRegistries: [registry.host] }), `${registry.host}/dp/app:v1`)).digest).toBe(DIGEST);
    expect(auth.seen.map((s) => s.authorization)).toEqual([undefined]);
  });

  it("sends credentials to a realm the registry's tokenRealms names", async () => {
    const auth = await fakeServer(issueToken);
    const registry = await fakeServer(bearerRegistry(() => `http://localhost:${auth.port}/token`));
    const client = newClient({ insecureRegistries: [registry.host], registries: new Map([[registry.host, { tokenRealms: ['localhost'] }]]) });
    expect((await getDigest(client, `${registry.host}/dp/app:v1`, CREDENTIAL)).digest).toBe(DIGEST);
    expect(auth.seen.map((s) => s.authorization)).toEqual([`Basic ${Buffer.from('alice:s3cret-pw').toString('base64')}`]);
  });

  it('sends credentials to a realm on the same host name, another port (the test token registry does so)', async () => {
    const auth = await fakeServer(issueToken);
    const registry = await fakeServer(bearerRegistry(() => `http://127.0.0.1:${auth.port}/token`));
    expect((await getDigest(newClient({ insecureRegistries: [registry.host] }), `${registry.host}/dp/app:v1`, CREDENTIAL)).digest).toBe(DIGEST);
    expect(auth.seen).toHaveLength(1);
  });
});

describe('allow-list', () => {
  it('contacts an allowed registry and refuses any other before sending anything', async () => {
    const other = await fakeServer(bearerRegistry(() => 'http://127.0.0.1:1/token'));
    const client = newClient({ insecureRegistries: [plain.host, other.host], allowedRegistries: [plain.host] });
    const { single } = plain.images;
    expect((await getDigest(client, `${plain.host}/${single.repository}:${single.tag}`)).digest).toBe(single.digest);
    const error = await rejection(getDigest(client, `${other.host}/dp/app:v1`));
    expect(error).toBeInstanceOf(RegistryPolicyError);
    expect(error.message).toBe(`could not get digest for ${other.host}/dp/app:v1: registry ${other.host} is not in the allow-list`);
    expect(other.seen).toEqual([]);
  });

  it("refuses an allowed registry's token realm on a host the allow-list does not cover", async () => {
    const auth = await fakeServer(issueToken);
    const registry = await fakeServer(bearerRegistry(() => `http://localhost:${auth.port}/token`));
    const client = newClient({ insecureRegistries: [registry.host], allowedRegistries: [registry.host] });
    const error = await rejection(getDigest(client, `${registry.host}/dp/app:v1`));
    expect(error).toBeInstanceOf(RegistryPolicyError);
    expect(error.message).toContain(`token realm localhost:${auth.port} is not an allowed registry's host or configured token realm`);
    expect(auth.seen).toEqual([]);
  });
});

describe('per-registry TLS', () => {
  let pki: TestPki;
  let dir: string;
  let clientCert: string;
  let clientKey: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dp-mtls-'));
    pki = await createPki(dir);
    const config = join(dir, 'client.cnf');
    await writeFile(
      config,
      '[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = unused\n[client]\nbasicConstraints = critical, CA:FALSE\n' +
        'keyUsage = critical, digitalSignature\nextendedKeyUsage = clientAuth\n',
    );
    await run('openssl', ['req', '-config', config, '-x509', '-CA', pki.caFile, '-CAkey', join(dir, 'ca-key.pem'),
      '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'client-key.pem'),
      '-out', join(dir, 'client.pem'), '-days', '1', '-subj', '/CN=digest-pinner', '-extensions', 'client']);
    [clientCert, clientKey] = await Promise.all([readFile(join(dir, 'client.pem'), 'utf8'), readFile(join(dir, 'client-key.pem'), 'utf8')]);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("trusts a registry's own CA for that registry only", async () => {
    const ca = await readFile(basic.caFile ?? '', 'utf8');
    const client = newClient({ registries: new Map([[basic.host, { ca }]]) });
    const { single } = basic.images;
    const credential = { username: basic.username ?? '', password: basic.password ?? '', source: 'test' };
    expect((await getDigest(client, `${basic.host}/${single.repository}:${single.tag}`, credential)).digest).toBe(single.digest);
    const untrusted = await rejection(getDigest(newClient(), `${basic.host}/${single.repository}:${single.tag}`, credential));
    expect(untrusted).toBeInstanceOf(RegistryUnavailableError);
    expect(untrusted.message).toContain('is not trusted');
  });

  it('presents the configured client certificate to a registry that requires one', async () => {
    const [cert, key, ca] = await Promise.all([readFile(pki.serverCertFile), readFile(pki.serverKeyFile), readFile(pki.caFile, 'utf8')]);
    const subjects: string[] = [];
    const server = createHttpsServer({ cert, key, ca, requestCert: true, rejectUnauthorized: true }, (req, res) => {
      const cn = (req.socket as TLSSocket).getPeerCertificate().subject.CN;
      subjects.push(Array.isArray(cn) ? cn.join(',') : (cn ?? ''));
      res.writeHead(200, { 'docker-content-digest': DIGEST, 'content-type': INDEX }).end();
    });
    servers.push(server);
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    const withCert = newClient({ registries: new Map([[host, { ca, clientCert, clientKey }]]) });
    expect((await getDigest(withCert, `${host}/dp/app:v1`)).digest).toBe(DIGEST);
    expect(subjects).toContain('digest-pinner');
    const without = await rejection(getDigest(newClient({ registries: new Map([[host, { ca }]]) }), `${host}/dp/app:v1`));
    expect(without).toBeInstanceOf(RegistryUnavailableError);
  });
});

describe('circuit breaker', () => {
  it('fails fast after a registry keeps failing, saying since when, and reports its state', async () => {
    const client = newClient({ insecureRegistries: ['127.0.0.1:1'], breaker: { failureThreshold: 3, coolDownMs: 60_000 } });
    for (let i = 0; i < 3; i += 1) expect(await rejection(getDigest(client, '127.0.0.1:1/dp/app:v1'))).toBeInstanceOf(RegistryUnavailableError);
    attempts.length = 0;
    const error = await rejection(getDigest(client, '127.0.0.1:1/dp/app:v1'));
    expect(error).toBeInstanceOf(RegistryCircuitOpenError);
    expect(error).toMatchObject({ code: 'DP_ERR_CIRCUIT_OPEN' });
    expect(error.message).toMatch(
      /^could not get digest for 127\.0\.0\.1:1\/dp\/app:v1: 127\.0\.0\.1:1 has been failing since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(3 failures in a row, last: cannot reach 127\.0\.0\.1:1: connection refused \(ECONNREFUSED\)\); not contacted until .*\(circuit breaker open\)$/,
    );
    expect(attempts).toEqual([]);
    expect(client.breakerStates().get('127.0.0.1:1')).toBe('open');
  });

  it('counts neither 404 nor 401 as failures', async () => {
    const registry = await fakeServer((_req, res) => res.writeHead(404).end());
    const client = newClient({ insecureRegistries: [registry.host], breaker: { failureThreshold: 1, coolDownMs: 60_000 } });
    for (let i = 0; i < 3; i += 1) await rejection(getDigest(client, `${registry.host}/dp/app:v${i}`));
    expect(client.breakerStates().get(registry.host)).toBeUndefined();
  });
});

describe('onRequest (metrics hook)', () => {
  it('hears every request, to the registry and to the token service, with status and duration', async () => {
    const auth = await fakeServer(issueToken);
    const registry = await fakeServer(bearerRegistry(() => `http://127.0.0.1:${auth.port}/token`));
    const events: RequestEvent[] = [];
    const client = newClient({ insecureRegistries: [registry.host, '127.0.0.1:1'], onRequest: (e) => events.push(e) });
    await getDigest(client, `${registry.host}/dp/app:v1`, CREDENTIAL);
    await rejection(getDigest(client, '127.0.0.1:1/dp/app:v1'));
    expect(events.map(({ host, method, status }) => `${method} ${host} ${status}`)).toEqual([
      `GET ${registry.host} 401`,
      `GET ${auth.host} 200`,
      `HEAD ${registry.host} 200`,
      'GET 127.0.0.1:1 error',
    ]);
    for (const event of events) expect(event.seconds).toBeGreaterThanOrEqual(0);
  });
});
