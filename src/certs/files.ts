/** Development certificates on disk: what `digest-pinner serve` uses when no --tls-cert is given. */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { daysUntilExpiry } from './expiry.js';

export interface CertificatePaths {
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** True when this call wrote new files. */
  readonly generated: boolean;
}

/** Hosts a development serving certificate is valid for. */
export function developmentHosts(): string[] {
  return ['localhost', '127.0.0.1', '::1', hostname()];
}

async function readIfPresent(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** Reuses the development certificate in `dir` while valid for a week more; otherwise writes a new CA and certificate. */
export async function ensureDevCertificates(dir: string, hosts: readonly string[] = developmentHosts()): Promise<CertificatePaths> {
  const paths = { caFile: join(dir, 'ca.crt'), certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') };
  const [ca, cert, key] = await Promise.all([readIfPresent(paths.caFile), readIfPresent(paths.certFile), readIfPresent(paths.keyFile)]);
  if (ca !== undefined && cert !== undefined && key !== undefined && daysUntilExpiry(cert) > 7) return { ...paths, generated: false };
  // @peculiar/x509 (some 18 MiB of RSS) is loaded only to write a certificate, not to reuse one.
  const { generateCertificates } = await import('./generate.js');
  const set = await generateCertificates({ hosts, validDays: 365 });
  await mkdir(dir, { recursive: true });
  await writeFile(paths.caFile, set.caCert);
  await writeFile(join(dir, 'ca.key'), set.caKey, { mode: 0o600 });
  await writeFile(paths.certFile, set.cert);
  await writeFile(paths.keyFile, set.key, { mode: 0o600 });
  return { ...paths, generated: true };
}
