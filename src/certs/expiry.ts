/** How long a certificate stays valid, read with node:crypto (no @peculiar/x509, which only generation needs). */
import { X509Certificate } from 'node:crypto';

/** Milliseconds in a day: validity is counted in days. */
export const DAY_MS = 86_400_000;

/** Days until `pem` expires (negative when expired). */
export function daysUntilExpiry(pem: string, now = Date.now()): number {
  return (expiresAt(pem) - now) / DAY_MS;
}

/** When `pem` expires, in ms since the epoch. */
export function expiresAt(pem: string | Buffer): number {
  return new Date(new X509Certificate(pem).validTo).getTime();
}
