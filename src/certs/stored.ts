/**
 * The self-managed Secret's content as text, and what its certificates say. The Secret
 * holds the caBundle (ca.crt, oldest CA first), the newest CA's key (ca.key), the serving
 * certificate and key (tls.crt, tls.key, as in any kubernetes.io/tls Secret), and two
 * annotations: the caBundle the webhook configuration was seen holding, and since when;
 * and what each replica serves. Pure: strings in, data out (certificates read with node:crypto).
 */
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { isRecord, parseJson } from '../json.js';
import { splitPem } from '../pem.js';

/** Data keys of the Secret. */
export const SECRET_KEYS = { bundle: 'ca.crt', caKey: 'ca.key', cert: 'tls.crt', key: 'tls.key' } as const;
/** `{"bundle":"<fingerprint>","at":"<RFC 3339>"}`: the webhook configuration held this caBundle from `at` on. */
export const PUBLISHED_ANNOTATION = 'digest-pinner.io/ca-bundle-published';
/** `{"<replica>":{"cert":"<fingerprint>","seen":"<RFC 3339>"}}`: the certificate each replica serves, written by itself. */
export const REPLICAS_ANNOTATION = 'digest-pinner.io/serving-replicas';

/** What one replica last wrote: the fingerprint of the certificate it serves, and when (ms since the epoch). */
export interface ReplicaRecord {
  readonly cert: string;
  readonly seen: number;
}

/** The caBundle (its fingerprint) the webhook configuration was seen holding, and since when. */
export interface Published {
  readonly bundle: string;
  readonly at: number;
}

/** The Secret's content. PEM texts are as stored; undefined where the Secret has none. */
export interface StoredCertificates {
  readonly bundle: readonly string[];
  readonly caKey: string | undefined;
  readonly cert: string | undefined;
  readonly key: string | undefined;
  readonly published: Published | undefined;
  readonly replicas: Readonly<Record<string, ReplicaRecord>>;
}

export const EMPTY_STORED: StoredCertificates = { bundle: [], caKey: undefined, cert: undefined, key: undefined, published: undefined, replicas: {} };

/** A CA of the caBundle. */
export interface CaInfo {
  readonly fingerprint: string;
  readonly notAfter: number;
}

/** The serving certificate. */
export interface LeafInfo {
  readonly fingerprint: string;
  readonly notAfter: number;
  /** Its subject alternative names (DNS names and IP addresses). */
  readonly hosts: readonly string[];
  /** The configured hosts it is not valid for. */
  readonly missingHosts: readonly string[];
  /** Fingerprint of the caBundle CA that signed it; undefined when none did. */
  readonly issuer: string | undefined;
}

/** What the planner needs to know of the Secret. */
export interface CertificateView {
  readonly bundle: readonly CaInfo[];
  /** Fingerprint of the whole caBundle (see bundleFingerprint). */
  readonly bundleFingerprint: string;
  /** The caBundle CA whose key ca.key holds; undefined when there is none. */
  readonly signer: string | undefined;
  /** The serving certificate, when tls.crt and tls.key hold a matching pair. */
  readonly leaf: LeafInfo | undefined;
  readonly published: Published | undefined;
  readonly replicas: Readonly<Record<string, ReplicaRecord>>;
}

/** Lowercase hex SHA-256 of the certificate's DER: what replicas record and bundles are compared by. */
export function fingerprintOf(certificate: X509Certificate): string {
  return certificate.fingerprint256.replace(/:/g, '').toLowerCase();
}

/** Fingerprint of a PEM certificate; undefined when it is not one. */
export function fingerprintOfPem(pem: string): string | undefined {
  const certificate = parse(pem);
  return certificate === undefined ? undefined : fingerprintOf(certificate);
}

/** The caBundle certificates whose fingerprint is among `fingerprints`, in caBundle order. */
export function bundleWith(bundle: readonly string[], fingerprints: readonly string[]): string[] {
  return bundle.filter((pem) => fingerprints.includes(fingerprintOfPem(pem) ?? ''));
}

/** The fingerprint of a caBundle: the same CAs in any order give the same one. */
export function bundleFingerprint(fingerprints: readonly string[]): string {
  return createHash('sha256').update([...fingerprints].sort().join(',')).digest('hex');
}

/** Fingerprint of a caBundle given as PEM text (as in a webhook's clientConfig); unparseable certificates are skipped. */
export function pemBundleFingerprint(pem: string): string {
  return bundleFingerprint(splitPem(pem).flatMap((text) => fingerprintOfPem(text) ?? []));
}

/** The caBundle as one PEM text, as the Secret's ca.crt and a webhook's caBundle (decoded) hold it. */
export function bundlePem(bundle: readonly string[]): string {
  return bundle.map((pem) => `${pem.trim()}\n`).join('');
}

/** The Secret's content from its decoded data and its annotations; what cannot be read is left out and named in `problems`. */
export function readStored(data: Readonly<Record<string, string>>, annotations: Readonly<Record<string, string>>): { stored: StoredCertificates; problems: string[] } {
  const problems: string[] = [];
  const text = (key: string): string | undefined => {
    const value = data[key];
    return value === undefined || value.trim() === '' ? undefined : value;
  };
  const stored: StoredCertificates = {
    bundle: splitPem(text(SECRET_KEYS.bundle) ?? ''),
    caKey: text(SECRET_KEYS.caKey),
    cert: text(SECRET_KEYS.cert),
    key: text(SECRET_KEYS.key),
    published: readPublished(annotations[PUBLISHED_ANNOTATION], problems),
    replicas: readReplicas(annotations[REPLICAS_ANNOTATION], problems),
  };
  return { stored, problems };
}

/** The Secret's data (text, to be base64-encoded) for `stored`. */
export function storedData(stored: StoredCertificates): Record<string, string> {
  const data: Record<string, string> = {};
  if (stored.bundle.length > 0) data[SECRET_KEYS.bundle] = bundlePem(stored.bundle);
  if (stored.caKey !== undefined) data[SECRET_KEYS.caKey] = stored.caKey;
  if (stored.cert !== undefined) data[SECRET_KEYS.cert] = stored.cert;
  if (stored.key !== undefined) data[SECRET_KEYS.key] = stored.key;
  return data;
}

/** The Secret's two annotations for `stored` (each absent when empty). */
export function storedAnnotations(stored: StoredCertificates): Record<string, string> {
  const annotations: Record<string, string> = {};
  if (stored.published !== undefined) {
    annotations[PUBLISHED_ANNOTATION] = JSON.stringify({ bundle: stored.published.bundle, at: new Date(stored.published.at).toISOString() });
  }
  const replicas = Object.entries(stored.replicas);
  if (replicas.length > 0) {
    annotations[REPLICAS_ANNOTATION] = JSON.stringify(Object.fromEntries(replicas.map(([id, record]) => [id, { cert: record.cert, seen: new Date(record.seen).toISOString() }])));
  }
  return annotations;
}

/** What the certificates in `stored` are, for the planner; `hosts` are the names the serving certificate must be valid for. */
export function viewOf(stored: StoredCertificates, hosts: readonly string[]): { view: CertificateView; problems: string[] } {
  const problems: string[] = [];
  const cas = stored.bundle.flatMap((pem, index) => {
    const certificate = parse(pem);
    if (certificate?.ca !== true) problems.push(`${SECRET_KEYS.bundle} certificate ${index + 1} is not a CA certificate`);
    return certificate?.ca === true ? [certificate] : [];
  });
  const bundle = cas.map((ca) => ({ fingerprint: fingerprintOf(ca), notAfter: Date.parse(ca.validTo) }));
  const signerCa = stored.caKey === undefined ? undefined : cas.find((ca) => matchesKey(ca, stored.caKey ?? ''));
  if (stored.caKey !== undefined && signerCa === undefined) problems.push(`${SECRET_KEYS.caKey} is the key of no CA in ${SECRET_KEYS.bundle}`);
  const view: CertificateView = {
    bundle,
    bundleFingerprint: bundleFingerprint(bundle.map((ca) => ca.fingerprint)),
    signer: signerCa === undefined ? undefined : fingerprintOf(signerCa),
    leaf: leafOf(stored, cas, hosts, problems),
    published: stored.published,
    replicas: stored.replicas,
  };
  return { view, problems };
}

/** The serving certificate's fingerprint and expiry, when `cert` and `key` are a matching pair; else a reason. */
export function servingPairInfo(cert: string, key: string): { fingerprint: string; notAfter: number } | string {
  const certificate = parse(cert);
  if (certificate === undefined) return `${SECRET_KEYS.cert} is not a PEM certificate`;
  if (!matchesKey(certificate, key)) return `${SECRET_KEYS.key} is not the key of ${SECRET_KEYS.cert}`;
  return { fingerprint: fingerprintOf(certificate), notAfter: Date.parse(certificate.validTo) };
}

function leafOf(stored: StoredCertificates, cas: readonly X509Certificate[], hosts: readonly string[], problems: string[]): LeafInfo | undefined {
  if (stored.cert === undefined || stored.key === undefined) return undefined;
  const info = servingPairInfo(stored.cert, stored.key);
  const certificate = parse(stored.cert);
  if (typeof info === 'string' || certificate === undefined) {
    problems.push(typeof info === 'string' ? info : `${SECRET_KEYS.cert} is not a PEM certificate`);
    return undefined;
  }
  const issuer = cas.find((ca) => certificate.checkIssued(ca) && certificate.verify(ca.publicKey));
  return {
    ...info,
    hosts: alternativeNames(certificate),
    missingHosts: hosts.filter((host) => !validFor(certificate, host)),
    issuer: issuer === undefined ? undefined : fingerprintOf(issuer),
  };
}

function parse(pem: string): X509Certificate | undefined {
  try {
    return new X509Certificate(pem);
  } catch {
    return undefined;
  }
}

function matchesKey(certificate: X509Certificate, keyPem: string): boolean {
  try {
    return certificate.checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}

function validFor(certificate: X509Certificate, host: string): boolean {
  return isIP(host) === 0 ? certificate.checkHost(host, { wildcards: false }) !== undefined : certificate.checkIP(host) !== undefined;
}

const SAN_ENTRY = /^(DNS|IP Address):(.+)$/;

/** The DNS names and IP addresses of `subjectAltName` ("DNS:a, IP Address:127.0.0.1"); our certificates carry no others. */
function alternativeNames(certificate: X509Certificate): string[] {
  return (certificate.subjectAltName ?? '').split(', ').flatMap((entry) => {
    const match = SAN_ENTRY.exec(entry.trim());
    return match?.[2] === undefined ? [] : [match[2]];
  });
}

function readJson(text: string | undefined, annotation: string, problems: string[]): unknown {
  if (text === undefined) return undefined;
  const value = parseJson(text);
  if (value === undefined) problems.push(`annotation ${annotation} is not JSON`);
  return value;
}

function readPublished(text: string | undefined, problems: string[]): Published | undefined {
  const value = readJson(text, PUBLISHED_ANNOTATION, problems);
  if (value === undefined) return undefined;
  const record = isRecord(value) ? value : {};
  const at = typeof record['at'] === 'string' ? Date.parse(record['at']) : Number.NaN;
  if (typeof record['bundle'] !== 'string' || Number.isNaN(at)) {
    problems.push(`annotation ${PUBLISHED_ANNOTATION} is not {"bundle": fingerprint, "at": time}`);
    return undefined;
  }
  return { bundle: record['bundle'], at };
}

function readReplicas(text: string | undefined, problems: string[]): Record<string, ReplicaRecord> {
  const value = readJson(text, REPLICAS_ANNOTATION, problems);
  if (value === undefined) return {};
  if (!isRecord(value)) {
    problems.push(`annotation ${REPLICAS_ANNOTATION} is not an object of replicas`);
    return {};
  }
  const replicas: Record<string, ReplicaRecord> = {};
  for (const [id, entry] of Object.entries(value)) {
    const seen = isRecord(entry) && typeof entry['seen'] === 'string' ? Date.parse(entry['seen']) : Number.NaN;
    if (isRecord(entry) && typeof entry['cert'] === 'string' && !Number.isNaN(seen)) replicas[id] = { cert: entry['cert'], seen };
    else problems.push(`annotation ${REPLICAS_ANNOTATION}: replica ${JSON.stringify(id)} is not {"cert": fingerprint, "seen": time}`);
  }
  return replicas;
}
