/** Creates a CA and a serving certificate signed by it, for development and for clusters without cert-manager. */
import { webcrypto } from 'node:crypto';

type CryptoKey = webcrypto.CryptoKey;
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';
import { DAY_MS } from './expiry.js';

// @peculiar/x509 uses Node's global WebCrypto (globalThis.crypto) by default.

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
/** notBefore lies this far in the past, for peers whose clock is a little behind. */
const BACKDATE_MS = 60_000;

/** A certificate and its private key, PEM-encoded (PKCS#8 key). */
export interface KeyPair {
  readonly cert: string;
  readonly key: string;
}

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

/** When a certificate is issued and when it expires, in ms since the epoch. */
export interface Validity {
  readonly now: number;
  readonly notAfter: number;
}

export interface ServingRequest extends Validity {
  /** DNS names and IP addresses the certificate is valid for; the first is its common name. */
  readonly hosts: readonly string[];
  readonly ca: KeyPair;
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

async function importCa(ca: KeyPair): Promise<{ cert: x509.X509Certificate; key: CryptoKey }> {
  const cert = new x509.X509Certificate(ca.cert);
  const der = x509.PemConverter.decodeFirst(ca.key);
  const key = await webcrypto.subtle.importKey('pkcs8', der, ALGORITHM, false, ['sign']);
  return { cert, key };
}

/** A new self-signed CA valid until `validity.notAfter`; its name carries its creation time, so CAs that overlap in a caBundle tell apart. */
export async function createCa(validity: Validity): Promise<KeyPair> {
  const keys = await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=digest-pinner CA ${new Date(validity.now).toISOString().slice(0, 19)}Z`,
    notBefore: new Date(validity.now - BACKDATE_MS),
    notAfter: new Date(validity.notAfter),
    keys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert: cert.toString('pem'), key: await exportKey(keys.privateKey) };
}

/** A serving certificate for `request.hosts`, signed by `request.ca`. */
export async function issueServingCertificate(request: ServingRequest): Promise<KeyPair> {
  const [commonName] = request.hosts;
  if (commonName === undefined) throw new Error('at least one host is required for a serving certificate');
  const ca = await importCa(request.ca);
  const keys = await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
  const names = request.hosts.map((host) => ({ type: isIP(host) === 0 ? 'dns' : 'ip', value: host }) as const);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${commonName}`,
    issuer: ca.cert.subject,
    notBefore: new Date(request.now - BACKDATE_MS),
    notAfter: new Date(request.notAfter),
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
  return { cert: cert.toString('pem'), key: await exportKey(keys.privateKey) };
}

/** Generates (or renews, with `ca`) a serving certificate for `hosts`; a new CA is valid four times as long. */
export async function generateCertificates(request: CertificateRequest): Promise<CertificateSet> {
  if (request.hosts.length === 0) throw new Error('at least one host is required for a serving certificate');
  const now = Date.now();
  const ca = request.ca ?? (await createCa({ now, notAfter: now + request.validDays * 4 * DAY_MS }));
  const serving = await issueServingCertificate({ ca, hosts: request.hosts, now, notAfter: now + request.validDays * DAY_MS });
  return { caCert: ca.cert, caKey: ca.key, cert: serving.cert, key: serving.key };
}
