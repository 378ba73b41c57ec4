/**
 * Reads the configuration file (`--config FILE`) at start: YAML, validated, and
 * the certificate files it names read and checked, so a mistake stops the
 * webhook at once with the file and field to fix instead of failing admissions.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { createSecureContext } from 'node:tls';
import { parseDocument } from 'yaml';
import { describeError } from '../errors.js';
import { splitPem } from '../pem.js';
import { ConfigError } from './errors.js';
import { validateConfig, type DigestPinnerConfig, type RegistryConfig } from './schema.js';

/** How to connect to one registry, its certificate files read: what the registry client takes per host. */
export interface RegistryConnection {
  /** PEM of CA certificates trusted besides the default trust. */
  readonly ca: string | undefined;
  /** PEM client certificate (chain) and key, for mutual TLS. */
  readonly clientCert: string | undefined;
  readonly clientKey: string | undefined;
  readonly insecure: boolean;
  readonly tokenRealms: readonly string[];
}

/** A configuration with its certificate files read, ready for the registry client. */
export interface LoadedConfig extends DigestPinnerConfig {
  /** Per-registry connection settings, by lower-case `host[:port]`. */
  readonly registryHosts: ReadonlyMap<string, RegistryConnection>;
}

/** Reads, parses and validates `file`. Throws ConfigError naming the file and field. */
export async function loadConfig(file: string): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigError(file, '', `cannot be read: ${describeError(error)}`, { cause: error });
  }
  return withFiles(parseConfig(text, file), dirname(resolve(file)));
}

/** Parses and validates YAML text (no files read). */
export function parseConfig(text: string, file: string): DigestPinnerConfig {
  const document = parseDocument(text);
  const [error] = document.errors;
  if (error !== undefined) {
    const at = error.linePos?.[0];
    const where = at === undefined ? '' : `line ${at.line}, column ${at.col}: `;
    throw new ConfigError(file, '', `${where}${firstLine(error.message)} (not valid YAML)`, { cause: error });
  }
  return validateConfig(document.toJS(), file);
}

/** Reads each registry's CA and client certificate, relative to `baseDir`. */
export async function withFiles(config: DigestPinnerConfig, baseDir: string): Promise<LoadedConfig> {
  const entries = await Promise.all(
    [...config.registries].map(async ([domain, registry]) => [domain, await hostOptions(config.file, domain, registry, baseDir)] as const),
  );
  return { ...config, registryHosts: new Map(entries) };
}

async function hostOptions(file: string, domain: string, registry: RegistryConfig, baseDir: string): Promise<RegistryConnection> {
  const field = (name: string): string => `registries.${JSON.stringify(domain)}.${name}`;
  const read = (name: string, path: string | undefined): Promise<string | undefined> =>
    path === undefined ? Promise.resolve(undefined) : readPem(file, field(name), resolve(baseDir, path));
  const [ca, clientCert, clientKey] = await Promise.all([
    read('ca', registry.ca),
    read('clientCert', registry.clientCert),
    read('clientKey', registry.clientKey),
  ]);
  if (ca !== undefined && splitPem(ca).length === 0) {
    throw new ConfigError(file, field('ca'), `${registry.ca ?? ''} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  }
  if (clientCert !== undefined && clientKey !== undefined) checkKeyPair(file, field('clientKey'), clientCert, clientKey);
  return { ca, clientCert, clientKey, insecure: registry.insecure, tokenRealms: registry.tokenRealms };
}

async function readPem(file: string, field: string, path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError(file, field, `${path} cannot be read: ${describeError(error)}`, { cause: error });
  }
}

/** The certificate and key must load together (PEM, and the key matching the certificate). */
function checkKeyPair(file: string, field: string, cert: string, key: string): void {
  try {
    createSecureContext({ cert, key });
  } catch (error) {
    throw new ConfigError(file, field, `client certificate and key do not load together: ${describeError(error)}`, { cause: error });
  }
}

function firstLine(message: string): string {
  return (message.split('\n')[0] ?? message).replace(/ at line \d+, column \d+:?$/, '').replace(/:$/, '');
}
