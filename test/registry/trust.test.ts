import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCertificates } from '../../src/certs/generate.js';
import { RegistryCaFileError } from '../../src/registry/errors.js';
import { createTrustContext, loadTrustedCertificates, trustSourcesFromEnv } from '../../src/registry/trust.js';

const hasStores = 'getCACertificates' in (await import('node:tls'));

let dir: string;
const pems: Record<'extra' | 'system' | 'operator', string> = { extra: '', system: '', operator: '' };

/** A fresh self-signed CA certificate, in PEM. */
async function selfSigned(name: string): Promise<string> {
  return (await generateCertificates({ hosts: [name], validDays: 1 })).caCert.trim();
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dp-trust-'));
  for (const name of ['extra', 'system', 'operator'] as const) pems[name] = await selfSigned(name);
  await writeFile(join(dir, 'extra.pem'), `${pems.extra}\n`);
  await writeFile(join(dir, 'system.pem'), `${rootCertificates[0] ?? ''}\n${pems.system}\n`);
  await writeFile(join(dir, 'operator.pem'), `# my registry CA\r\n${pems.operator.replace(/\n/g, '\r\n')}\r\n`);
  await writeFile(join(dir, 'empty.pem'), 'not a certificate\n');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('loadTrustedCertificates', () => {
  const sources = () => ({ extraCaCertsFile: join(dir, 'extra.pem'), systemBundleFile: join(dir, 'system.pem') });

  it("keeps Node's roots and adds the operator's CA files (a custom ca would otherwise replace the roots)", () => {
    const certs = loadTrustedCertificates([join(dir, 'operator.pem')], sources());
    expect(certs).toEqual(expect.arrayContaining([...rootCertificates, pems.operator]));
  });

  it.skipIf(hasStores)('adds the system bundle and the NODE_EXTRA_CA_CERTS file on Node without tls.getCACertificates', () => {
    const certs = loadTrustedCertificates([], sources());
    expect(certs).toContain(pems.system);
    expect(certs).toContain(pems.extra);
  });

  it('removes duplicates', () => {
    const certs = loadTrustedCertificates([join(dir, 'operator.pem'), join(dir, 'operator.pem')], sources());
    expect(new Set(certs).size).toBe(certs.length);
  });

  it('ignores a missing system bundle or NODE_EXTRA_CA_CERTS file', () => {
    const certs = loadTrustedCertificates([], { extraCaCertsFile: join(dir, 'gone.pem'), systemBundleFile: join(dir, 'gone2.pem') });
    expect(certs).toEqual(expect.arrayContaining([...rootCertificates]));
  });

  it('fails for a CA file that cannot be read', () => {
    const missing = join(dir, 'missing.pem');
    expect(() => loadTrustedCertificates([missing], sources())).toThrow(RegistryCaFileError);
    expect(() => loadTrustedCertificates([missing], sources())).toThrow(`registry CA file ${missing}: cannot be read`);
  });

  it('fails for a CA file without a certificate', () => {
    expect(() => loadTrustedCertificates([join(dir, 'empty.pem')], sources())).toThrow(/holds no PEM certificate/);
  });

  it('builds a TLS context from the list', () => {
    expect(createTrustContext(loadTrustedCertificates([join(dir, 'operator.pem')], sources()))).toBeDefined();
  });
});

describe('trustSourcesFromEnv', () => {
  it('reads NODE_EXTRA_CA_CERTS and points at the Debian bundle', () => {
    expect(trustSourcesFromEnv({ NODE_EXTRA_CA_CERTS: '/x.pem' })).toEqual({ extraCaCertsFile: '/x.pem', systemBundleFile: '/etc/ssl/certs/ca-certificates.crt' });
    expect(trustSourcesFromEnv({ NODE_EXTRA_CA_CERTS: '' }).extraCaCertsFile).toBeUndefined();
  });
});
