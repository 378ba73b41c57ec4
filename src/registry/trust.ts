/**
 * The CA certificates registry connections trust. A custom `ca` REPLACES
 * Node's default roots (and the NODE_EXTRA_CA_CERTS file Node adds to its
 * default context), so the list is rebuilt here: Node's roots, the system
 * store, NODE_EXTRA_CA_CERTS, then the operator's extra CA files. Read
 * synchronously, once, when the client is built at startup.
 */
import { readFileSync } from 'node:fs';
import * as tls from 'node:tls';
import { describeError } from '../errors.js';
import { splitPem } from '../pem.js';
import { RegistryCaFileError } from './errors.js';

/** Debian's (and Ubuntu's) system bundle, built by update-ca-certificates. */
const DEBIAN_SYSTEM_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

/** Node ≥ 22.15 / 23.5 can list its stores; older Node has only `rootCertificates`. */
interface TlsWithStores {
  readonly rootCertificates: readonly string[];
  readonly getCACertificates?: (type: 'default' | 'system' | 'bundled' | 'extra') => string[];
}

/** Where trusted certificates come from besides the operator's CA files. */
export interface TrustSources {
  /** The NODE_EXTRA_CA_CERTS file, if set. */
  readonly extraCaCertsFile: string | undefined;
  /** The system bundle to read on Node without `tls.getCACertificates`. */
  readonly systemBundleFile: string;
}

/** Every trusted CA certificate as one PEM each, duplicates removed. Throws RegistryCaFileError for an unusable CA file. */
export function loadTrustedCertificates(caFiles: readonly string[], sources: TrustSources): string[] {
  const pems = defaultCertificates(sources);
  for (const file of caFiles) {
    const certificates = splitPem(readCaFile(file));
    if (certificates.length === 0) throw new RegistryCaFileError(file, 'holds no PEM certificate (-----BEGIN CERTIFICATE-----)');
    pems.push(...certificates);
  }
  return [...new Set(pems.flatMap(splitPem))];
}

/** One TLS context for every connection, so the CA list is parsed once rather than per connection. */
export function createTrustContext(certificates: readonly string[]): tls.SecureContext {
  return tls.createSecureContext({ ca: [...certificates] });
}

/** The sources as the environment sets them. */
export function trustSourcesFromEnv(env: Readonly<Record<string, string | undefined>>): TrustSources {
  const extra = env['NODE_EXTRA_CA_CERTS'];
  return { extraCaCertsFile: extra === undefined || extra === '' ? undefined : extra, systemBundleFile: DEBIAN_SYSTEM_BUNDLE };
}


function defaultCertificates(sources: TrustSources): string[] {
  const stores: TlsWithStores = tls;
  if (stores.getCACertificates !== undefined) {
    // 'default' is the bundled roots plus NODE_EXTRA_CA_CERTS (plus the system store under --use-system-ca).
    return [...stores.getCACertificates('default'), ...stores.getCACertificates('system')];
  }
  // Node already warned at startup about an unreadable NODE_EXTRA_CA_CERTS, and a system bundle is optional.
  const optional = [sources.systemBundleFile, sources.extraCaCertsFile].map(readIfPresent);
  return [...stores.rootCertificates, ...optional.flatMap((text) => splitPem(text))];
}

function readCaFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new RegistryCaFileError(file, `cannot be read: ${describeError(error)}`, { cause: error });
  }
}

function readIfPresent(file: string | undefined): string {
  if (file === undefined) return '';
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
