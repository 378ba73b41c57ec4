/**
 * Where `serve` takes its serving certificate from: files (--tls-cert/--tls-key, reloaded
 * when renewed on disk, as a mounted Secret or cert-manager renews them), a development
 * certificate in ./certs, or a Secret it manages itself (--tls-secret), read through a watch.
 * The metrics show the expiry of the certificate actually served, whichever the source.
 */
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import type { ParseArgsConfig } from 'node:util';
import type { Logger } from 'pino';
import { durationFlag, UsageError } from './options.js';
import type { CliIo } from './io.js';
import type { Metrics } from '../metrics/index.js';
import { readTlsFiles, watchTlsFiles } from '../server/tls.js';
// Not certs/index.js, which loads @peculiar/x509: files.js loads it only to write a certificate.
import { ensureDevCertificates } from '../certs/files.js';
import { expiresAt } from '../certs/expiry.js';
import { serviceHosts } from '../certs/hosts.js';
import { DEFAULT_TIMING, timingProblems, type Timing } from '../certs/plan.js';
import { kubeConfigSource, type KubeConfigSource } from '../kube/source.js';

export const TLS_FLAGS = {
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-reload-interval': { type: 'string' },
  'tls-secret': { type: 'string' },
  'patch-webhook': { type: 'string' },
  'tls-san': { type: 'string', multiple: true },
  'tls-ca-validity': { type: 'string' },
  'tls-ca-renew-before': { type: 'string' },
  'tls-cert-validity': { type: 'string' },
  'tls-cert-renew-before': { type: 'string' },
  'tls-propagation-delay': { type: 'string' },
  'tls-replica-timeout': { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

export const TLS_FLAGS_USAGE = `  --tls-cert FILE --tls-key FILE
                              serving certificate and key; reloaded when renewed on disk
  --tls-reload-interval DUR   how often the certificate files are checked for renewal (default 10s)
  --tls-secret NAMESPACE/NAME self-managed certificates: a CA and serving certificate kept in this
                              Secret (which must exist; it may be empty), renewed before expiry,
                              the CA rotated with an overlap; read through a watch (docs/certificates.md)
  --patch-webhook NAME        with --tls-secret: the MutatingWebhookConfiguration whose caBundle is kept
  --tls-san NAME              with --tls-secret: a DNS name or IP address of the serving certificate
                              (repeatable; default the names of Service digest-pinner in the Secret's namespace)
  --tls-ca-validity DUR       with --tls-secret: validity of a new CA (default 17520h)
  --tls-ca-renew-before DUR   a new CA is made when the signing one expires within this (default 2160h)
  --tls-cert-validity DUR     validity of a serving certificate (default 2160h)
  --tls-cert-renew-before DUR a serving certificate is renewed when it expires within this (default 720h)
  --tls-propagation-delay DUR how long kube-apiserver may take to use a new caBundle (default 1m)
  --tls-replica-timeout DUR   a replica that has not written to the Secret for this long is dead (default 5m)`;

/** The flags of TLS_FLAGS as parseArgs returns them. */
export interface TlsFlagValues {
  readonly 'tls-cert'?: string;
  readonly 'tls-key'?: string;
  readonly 'tls-reload-interval'?: string;
  readonly 'tls-secret'?: string;
  readonly 'patch-webhook'?: string;
  readonly 'tls-san'?: string[];
  readonly 'tls-ca-validity'?: string;
  readonly 'tls-ca-renew-before'?: string;
  readonly 'tls-cert-validity'?: string;
  readonly 'tls-cert-renew-before'?: string;
  readonly 'tls-propagation-delay'?: string;
  readonly 'tls-replica-timeout'?: string;
  readonly kubeconfig?: string;
}

/** A certificate and key, as node:tls takes them. */
export interface TlsPair {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
}

/** What takes a new serving certificate: the HTTPS server. */
export interface SecureContextTarget {
  setSecureContext(pair: TlsPair): void;
}

/** The serving certificate and what keeps it current. */
export interface ServingTls {
  /** The certificate and key to start with. */
  readonly initial: TlsPair;
  /** The development CA file, when serve made one. */
  readonly caFile: string | undefined;
  /** Hands each renewed certificate to `server` from now on. */
  follow(server: SecureContextTarget): void;
  /** False while this replica's use of a self-managed certificate is not yet recorded in the Secret. */
  ready(): boolean;
  close(): Promise<void>;
}

/** The settings of self-managed certificates, from the flags. */
export interface SelfManagedSettings {
  /** The cluster the Secret is in. */
  readonly source: KubeConfigSource;
  readonly namespace: string;
  readonly name: string;
  readonly webhook: string;
  readonly hosts: readonly string[];
  readonly timing: Timing;
}

/** How long serve waits for a first certificate in the Secret before it gives up. */
const FIRST_CERTIFICATE_TIMEOUT_MS = 60_000;
const SECRET_REFERENCE = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/;

export interface ServingTlsContext {
  readonly metrics: Metrics;
  /** This replica, in a self-managed Secret. */
  readonly identity: string;
  /** selfManagedSettings of the same flags. */
  readonly selfManaged: SelfManagedSettings | undefined;
}

/** Opens the certificate source the flags choose. */
export async function openServingTls(values: TlsFlagValues, io: CliIo, log: Logger, context: ServingTlsContext): Promise<ServingTls> {
  const settings = context.selfManaged;
  if (settings === undefined) return fileTls(values, io, log, context.metrics);
  const { openSelfManagedTls } = await import('./serving-secret.js');
  return openSelfManagedTls({ settings, log, metrics: context.metrics, identity: context.identity, timeoutMs: FIRST_CERTIFICATE_TIMEOUT_MS });
}

/**
 * The self-managed settings, or undefined without --tls-secret; a UsageError for flags that
 * do not fit together, or without a cluster (found as serve finds it, from `where`).
 */
export function selfManagedSettings(values: TlsFlagValues, where: Pick<CliIo, 'env' | 'homeDir'>): SelfManagedSettings | undefined {
  const reference = values['tls-secret'];
  const only = ['patch-webhook', 'tls-san', 'tls-ca-validity', 'tls-ca-renew-before', 'tls-cert-validity', 'tls-cert-renew-before', 'tls-propagation-delay', 'tls-replica-timeout'] as const;
  if (reference === undefined) {
    const stray = only.find((flag) => values[flag] !== undefined);
    if (stray !== undefined) throw new UsageError(`--${stray} goes with --tls-secret`);
    return undefined;
  }
  if (values['tls-cert'] !== undefined || values['tls-key'] !== undefined) throw new UsageError('--tls-secret and --tls-cert/--tls-key are two sources of the certificate: choose one');
  const match = SECRET_REFERENCE.exec(reference);
  if (match?.[1] === undefined || match[3] === undefined) throw new UsageError(`--tls-secret ${JSON.stringify(reference)} must be NAMESPACE/NAME`);
  const webhook = values['patch-webhook'];
  if (webhook === undefined || webhook === '') throw new UsageError('--tls-secret needs --patch-webhook NAME: the caBundle of that MutatingWebhookConfiguration is kept current');
  const timing: Timing = {
    caValidityMs: durationFlag('tls-ca-validity', values['tls-ca-validity'], DEFAULT_TIMING.caValidityMs),
    caRenewBeforeMs: durationFlag('tls-ca-renew-before', values['tls-ca-renew-before'], DEFAULT_TIMING.caRenewBeforeMs),
    certValidityMs: durationFlag('tls-cert-validity', values['tls-cert-validity'], DEFAULT_TIMING.certValidityMs),
    certRenewBeforeMs: durationFlag('tls-cert-renew-before', values['tls-cert-renew-before'], DEFAULT_TIMING.certRenewBeforeMs),
    propagationMs: durationFlag('tls-propagation-delay', values['tls-propagation-delay'], DEFAULT_TIMING.propagationMs),
    replicaTimeoutMs: durationFlag('tls-replica-timeout', values['tls-replica-timeout'], DEFAULT_TIMING.replicaTimeoutMs),
  };
  const problems = timingProblems(timing);
  if (problems.length > 0) throw new UsageError(`--tls-* timings do not fit together: ${problems.join('; ')}`);
  const source = kubeConfigSource({ kubeconfig: values.kubeconfig, env: where.env, homeDir: where.homeDir });
  if (source === undefined) throw new UsageError('--tls-secret needs a cluster: --kubeconfig, in-cluster, or $KUBECONFIG');
  const hosts = values['tls-san'] ?? serviceHosts('digest-pinner', match[1]);
  return { source, namespace: match[1], name: match[3], webhook, hosts, timing };
}

/** Files given by --tls-cert/--tls-key, else a development certificate in ./certs; reloaded when they change. */
async function fileTls(values: TlsFlagValues, io: CliIo, log: Logger, metrics: Metrics): Promise<ServingTls> {
  const files = await tlsFiles(values, io, log);
  const reloadMs = durationFlag('tls-reload-interval', values['tls-reload-interval'], 10_000);
  const initial = readTlsFiles(files);
  metrics.servingCertificate(expiresAt(initial.cert));
  let stop = (): void => undefined;
  return {
    initial,
    caFile: files.caFile,
    follow: (server) => {
      stop = watchTlsFiles(
        files,
        (pair) => {
          server.setSecureContext(pair);
          metrics.servingCertificate(expiresAt(pair.cert));
          log.info({ cert: files.certFile }, 'serving certificate reloaded');
        },
        (error) => { log.warn({ err: error }, 'serving certificate not reloaded'); },
        reloadMs,
      );
    },
    ready: () => true,
    close: () => {
      stop();
      return Promise.resolve();
    },
  };
}

async function tlsFiles(values: TlsFlagValues, io: CliIo, log: Logger): Promise<{ certFile: string; keyFile: string; caFile?: string }> {
  const certFile = values['tls-cert'];
  const keyFile = values['tls-key'];
  if (certFile !== undefined && keyFile !== undefined) return { certFile, keyFile };
  if (certFile !== undefined || keyFile !== undefined) throw new UsageError('--tls-cert and --tls-key go together');
  const dir = join(io.cwd, 'certs');
  const dev = await ensureDevCertificates(dir);
  const caBundle = Buffer.from(await readFile(dev.caFile)).toString('base64');
  log.warn({ certs: dir, caBundle }, `${dev.generated ? 'generated' : 'using'} a development certificate (not for production); caBundle is its CA, for the webhook configuration`);
  return dev;
}
