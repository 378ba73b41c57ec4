/** Creates a CA and a serving certificate signed by it, for development and for clusters without cert-manager. */
import { webcrypto } from 'node:crypto';

type CryptoKey = webcrypto.CryptoKey;
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';
import { DAY_MS } from './expiry.js';

// @peculiar/x509 uses Node's global WebCrypto (globalThis.crypto) by default.

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/** PEM-encoded CA and serving key pair. */
export interface CertificateSet {
  readonly caCert: string;
  readonly caKey: string;
  readonly cert: string;
  readonly key: string;
}

export interface CertificateRequest {
  /** DNS names and IP addresses the serving certificate is valid for; the first is its common name. */
  readonly hosts: readonly string[];
  readonly validDays: number;
  /** Reuse this CA instead of creating one (renewal keeps the caBundle). */
  readonly ca?: { readonly cert: string; readonly key: string };
}

function serial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return Buffer.from(bytes).toString('hex');
}

async function exportKey(key: CryptoKey): Promise<string> {
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(pkcs8, 'PRIVATE KEY');
}

async function importCa(ca: { cert: string; key: string }): Promise<{ cert: x509.X509Certificate; key: CryptoKey }> {
  const cert = new x509.X509Certificate(ca.cert);
  const der = x509.PemConverter.decodeFirst(ca.key);
  const key = await webcrypto.subtle.importKey('pkcs8', der, ALGORITHM, false, ['sign']);
  return { cert, key };
}

async function createCa(validDays: number): Promise<{ cert: x509.X509Certificate; key: CryptoKey; pemKey: string }> {
  const keys = await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=digest-pinner CA ${new Date(now).toISOString().slice(0, 10)}`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + validDays * 4 * DAY_MS),
    keys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert, key: keys.privateKey, pemKey: await exportKey(keys.privateKey) };
}

/** Generates (or renews, with `ca`) a serving certificate for `hosts`. */
export async function generateCertificates(request: CertificateRequest): Promise<CertificateSet> {
  const [commonName] = request.hosts;
  if (commonName === undefined) throw new Error('at least one host is required for a serving certificate');
  const ca = request.ca === undefined ? await createCa(request.validDays) : { ...(await importCa(request.ca)), pemKey: request.ca.key };
  const keys = await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
  const now = Date.now();
  const names = request.hosts.map((host) => ({ type: isIP(host) === 0 ? 'dns' : 'ip', value: host }) as const);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${commonName}`,
    issuer: ca.cert.subject,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + request.validDays * DAY_MS),
    publicKey: keys.publicKey,
    signingKey: ca.key,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(names),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
    ],
  });
  return { caCert: ca.cert.toString('pem'), caKey: ca.pemKey, cert: cert.toString('pem'), key: await exportKey(keys.privateKey) };
}
