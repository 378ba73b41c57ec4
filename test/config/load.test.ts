/** Loading the configuration file from disk: certificate files read and checked, relative to the file. */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { generateCertificates } from '../../src/certs/index.js';
import { CONFIG_HEADER } from './header.js';

let dir: string;
let ca: string;
let cert: string;
let key: string;
let otherKey: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dp-config-'));
  const [pair, other] = await Promise.all([
    generateCertificates({ hosts: ['localhost'], validDays: 1 }),
    generateCertificates({ hosts: ['localhost'], validDays: 1 }),
  ]);
  ({ caCert: ca, cert, key } = pair);
  otherKey = other.key;
  await mkdir(join(dir, 'tls'));
  await Promise.all([
    writeFile(join(dir, 'tls', 'ca.pem'), ca),
    writeFile(join(dir, 'tls', 'client.crt'), cert),
    writeFile(join(dir, 'tls', 'client.key'), key),
    writeFile(join(dir, 'tls', 'other.key'), otherKey),
    writeFile(join(dir, 'tls', 'empty.pem'), 'not a certificate\n'),
  ]);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function configFile(text: string): Promise<string> {
  const file = join(dir, `config-${Math.random().toString(36).slice(2)}.yaml`);
  await writeFile(file, CONFIG_HEADER + text);
  return file;
}

async function loadError(file: string): Promise<ConfigError> {
  try {
    await loadConfig(file);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('reads the CA and client certificate each registry names, relative to the configuration file', async () => {
    const file = await configFile(
      'registries:\n  registry.internal:5443:\n    ca: tls/ca.pem\n    clientCert: tls/client.crt\n    clientKey: tls/client.key\n' +
        '    tokenRealms: [auth.internal]\n  plain.internal:5000:\n    insecure: true\n',
    );
    const config = await loadConfig(file);
    expect(config.file).toBe(file);
    expect(config.registryHosts.get('registry.internal:5443')).toEqual({
      ca,
      clientCert: cert,
      clientKey: key,
      insecure: false,
      tokenRealms: ['auth.internal'],
    });
    expect(config.registryHosts.get('plain.internal:5000')).toEqual({
      ca: undefined,
      clientCert: undefined,
      clientKey: undefined,
      insecure: true,
      tokenRealms: [],
    });
    expect(await readFile(join(dir, 'tls', 'ca.pem'), 'utf8')).toBe(ca);
  });

  it('names the file when it cannot be read', async () => {
    const error = await loadError(join(dir, 'missing.yaml'));
    expect(error.message).toMatch(new RegExp(`^${join(dir, 'missing.yaml')}: cannot be read: ENOENT`));
  });

  it('names the field of a certificate file that cannot be read', async () => {
    const file = await configFile('registries:\n  quay.io:\n    ca: tls/nope.pem\n');
    const error = await loadError(file);
    expect(error.field).toBe('registries."quay.io".ca');
    expect(error.message).toContain(`registries."quay.io".ca: ${join(dir, 'tls', 'nope.pem')} cannot be read: ENOENT`);
  });

  it('refuses a CA file that holds no certificate', async () => {
    const error = await loadError(await configFile('registries:\n  quay.io:\n    ca: tls/empty.pem\n'));
    expect(error.message).toMatch(/registries\."quay\.io"\.ca: tls\/empty\.pem holds no PEM certificate \(-----BEGIN CERTIFICATE-----\)$/);
  });

  it('refuses a client key that does not match its certificate', async () => {
    const error = await loadError(await configFile('registries:\n  quay.io:\n    clientCert: tls/client.crt\n    clientKey: tls/other.key\n'));
    expect(error.field).toBe('registries."quay.io".clientKey');
    expect(error.message).toContain('client certificate and key do not load together');
  });
});
