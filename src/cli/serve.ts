/** `digest-pinner serve`: the admission webhook over HTTPS. */
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { ParseArgsConfig } from 'node:util';
import type { Logger } from 'pino';
import { COMMON_FLAGS, COMMON_FLAGS_USAGE, commonOptions, DROP_TAG_FLAG, durationFlag, parseFlags, parseMode, UsageError } from './options.js';
import { buildCore, type Core } from './core.js';
import { skipFlags, skipPolicyFlag } from './skip-flags.js';
import { writeLine, type CliIo } from './io.js';
import type { ClusterOptions, ClusterWatch } from './cluster.js';
import { buildApp, type AppDeps } from '../server/app.js';
import { listenWebhook } from '../server/listen.js';
import { flushLog, LOG_LEVELS, webhookLogger, type LogDestination } from '../server/log.js';
import { Metrics } from '../metrics/index.js';
import { readTlsFiles, watchTlsFiles } from '../server/tls.js';
import { describeError, DigestPinnerError } from '../errors.js';
// Not certs/index.js, which loads @peculiar/x509: files.js loads it only to write a certificate.
import { ensureDevCertificates } from '../certs/files.js';
import { readFile } from 'node:fs/promises';
import { Server } from 'node:https';
import { hostname } from 'node:os';
// Not kube/index.js or imageset/index.js, which load @kubernetes/client-node: cluster.js does, when there is a cluster.
import { kubeConfigSource, SERVICE_ACCOUNT_DIR } from '../kube/source.js';
import { AuthoritativeRegistries, withoutImageSets } from '../imageset/authoritative.js';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

export const SERVE_USAGE = `Usage: digest-pinner serve [flags]

Runs the mutating admission webhook over HTTPS; logs JSON lines on stdout.
Without --tls-cert/--tls-key it writes a development CA and serving certificate
into ./certs (reused while valid) and logs the caBundle to register.

Flags:
  --port N                    HTTPS port (default 8443)
  --host ADDR                 address to listen on (default ::, IPv6 and IPv4; 0.0.0.0 on a
                              node without IPv6)
  --tls-cert FILE --tls-key FILE
                              serving certificate and key; reloaded when renewed on disk
  --mode warn|strict          mode of POST /mutate (default warn); /mutate/warn and
                              /mutate/strict always use their own mode
  --skip PATTERN              leave matching images alone; glob on the normalised
                              reference, e.g. 'docker.io/istio/*' (repeatable; without a cluster)
  --skip-policy NAME          the skip list is the skipList variable of this ValidatingAdmissionPolicy
                              (the strict policy's own list), watched and read as the policy reads
                              it; not with --skip
  --deadline DUR              most time spent resolving one admission (default 8s; never
                              past kube-apiserver's ?timeout less 1s)
  --drop-tag                  write repository@sha256:… without the tag
  --cache-ttl DUR             how long a resolved digest is reused (default 15m)
${COMMON_FLAGS_USAGE}
  --tls-reload-interval DUR   how often the certificate files are checked for renewal (default 10s)
  --kubeconfig FILE           cluster to read pull secrets, ImageSets and Namespace annotations from
                              and record Events in
                              (default: $KUBECONFIG, then in-cluster, then ~/.kube/config; with none, only
                              --docker-config credentials are used, no ImageSets are read and no Events are recorded)
  --imageset-authoritative REGISTRY
                              ImageSets are the only source of digests for REGISTRY (host[:port];
                              repeatable): it is never asked, and an image no ImageSet lists
                              fails per the namespace mode (air-gapped clusters)
  --pin-related-images        also pin the RELATED_IMAGE_* env values of containers (operator-sdk), in
                              every namespace; without it, only in namespaces annotated
                              digest-pinner.io/pin-related-images: "true" (read with --kubeconfig)
  --lease-namespace NS        namespace of the Lease electing the replica that writes ImageSet
                              status (default: the pod's own namespace in a cluster, else digest-pinner)
  --log-level LEVEL           ${LOG_LEVELS.join(', ')} (default info)`;

export const DEFAULT_DEADLINE_MS = 8_000;
/** Where manifests/ installs the webhook, and so its status Lease. */
export const DEFAULT_LEASE_NAMESPACE = 'digest-pinner';

/** A running webhook, for main.ts and tests. */
export interface RunningServer {
  readonly app: FastifyInstance;
  readonly url: string;
  readonly caFile: string | undefined;
  close(): Promise<void>;
}

async function tlsFiles(values: { 'tls-cert'?: string; 'tls-key'?: string }, io: CliIo, log: Logger): Promise<{ certFile: string; keyFile: string; caFile?: string }> {
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

const SERVE_FLAGS = {
  ...COMMON_FLAGS,
  ...DROP_TAG_FLAG,
  // The webhook's cache outlives one admission; a CLI run resolves each reference once.
  'cache-ttl': { type: 'string' },
  port: { type: 'string' },
  host: { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  mode: { type: 'string' },
  skip: { type: 'string', multiple: true },
  'skip-policy': { type: 'string' },
  deadline: { type: 'string' },
  'log-level': { type: 'string' },
  'tls-reload-interval': { type: 'string' },
  kubeconfig: { type: 'string' },
  'imageset-authoritative': { type: 'string', multiple: true },
  'pin-related-images': { type: 'boolean' },
  'lease-namespace': { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

type ServeFlags = ReturnType<typeof parseFlags<{ args: string[]; options: typeof SERVE_FLAGS }>>['values'];

/**
 * Starts the webhook; resolves once it listens, or to an exit code: 0 after --help, 1 after
 * a failure to start, which it logs (every line serve writes after its flags is JSON).
 */
export async function startServer(argv: readonly string[], io: CliIo): Promise<RunningServer | number> {
  const { values } = parseFlags({ args: [...argv], options: SERVE_FLAGS });
  if (values.help === true) {
    writeLine(io.stdout, SERVE_USAGE);
    return 0;
  }
  const level = values['log-level'] ?? 'info';
  if (!LOG_LEVELS.includes(level)) throw new UsageError(`--log-level ${JSON.stringify(level)} must be one of ${LOG_LEVELS.join(', ')}`);
  const destination = io.logDestination();
  const log = webhookLogger(level, destination);
  try {
    return await start(values, io, log, destination);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    log.fatal({ code: error instanceof DigestPinnerError ? error.code : undefined }, `not started: ${describeError(error)}`);
    await flushLog(destination);
    return 1;
  }
}

async function start(values: ServeFlags, io: CliIo, log: Logger, destination: LogDestination): Promise<RunningServer> {
  const port = Number(values.port ?? '8443');
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port ${JSON.stringify(values.port)} is not a port number`);
  const options = commonOptions(values);
  const mode = parseMode(values.mode);
  const deadlineMs = durationFlag('deadline', values.deadline, DEFAULT_DEADLINE_MS);
  const tlsReloadMs = durationFlag('tls-reload-interval', values['tls-reload-interval'], 10_000);
  const skipPolicy = skipPolicyFlag(values);
  const skipFromFlags = skipFlags(values.skip ?? []);
  const files = await tlsFiles(values, io, log);
  // Registry requests are counted from the first one on; `metrics` needs the loaded allow-list, and
  // buildCore sends no request, so it is built just below.
  const core = await buildCore({
    ...options,
    homeDir: io.homeDir,
    env: io.env,
    version: io.version,
    onRequest: (event) => {
      metrics.registryRequest(event);
    },
    warn: (fields, message) => {
      app.log.warn(fields, message);
    },
  });
  const authoritative = authoritativeRegistries(values['imageset-authoritative'] ?? []);
  const pinRelatedEverywhere = values['pin-related-images'] === true;
  const metrics = new Metrics({ allowList: core.config.allow });
  metrics.trackCache(() => core.resolver.size);
  metrics.trackBreakers(() => core.client.breakerStates());
  const cluster = await openCluster(values, io, {
    ownCredentials: core.ownCredentials,
    authoritative,
    pinRelatedEverywhere,
    skipPolicy,
    onEventRecorded: (outcome) => {
      metrics.eventRecorded(outcome);
    },
  });
  const app = buildApp(
    {
      mode,
      deadlineMs,
      resolver: core.resolver,
      ...clusterDeps(cluster, core, authoritative),
      skip: cluster?.skip ?? skipFromFlags,
      dropTag: options.dropTag,
      rewrite: core.rewrite,
      pinRelatedImages: pinRelatedEverywhere,
      onAdmission: (result, kind, operation, seconds) => {
        metrics.admission(result, kind, operation, seconds);
      },
      metrics,
    },
    { https: readTlsFiles(files), logger: log },
  );
  let address: string;
  try {
    address = await listenWebhook(app, port, values.host);
  } catch (error) {
    await app.close();
    await core.close();
    throw error;
  }
  if (cluster === undefined) {
    log.warn('no kubeconfig (no --kubeconfig, no $KUBECONFIG, not in a cluster, no ~/.kube/config): pull secrets from the cluster, ImageSets, Events and the Namespace annotation for RELATED_IMAGE_* are off');
  } else {
    log.info({ kubeconfig: cluster.source }, 'reading pull secrets from the cluster');
    cluster.start(log);
  }
  if (authoritative.list().length > 0) log.info({ registries: authoritative.list() }, 'ImageSets are authoritative for these registries: they are never asked');
  const stopWatching = watchTlsFiles(
    files,
    (pair) => {
      if (app.server instanceof Server) app.server.setSecureContext(pair);
      log.info({ cert: files.certFile }, 'serving certificate reloaded');
    },
    (error) => { log.warn({ err: error }, 'serving certificate not reloaded'); },
    tlsReloadMs,
  );
  return {
    app,
    url: address,
    caFile: files.caFile,
    close: async () => {
      stopWatching();
      await app.close();
      await cluster?.stop();
      await core.close();
      await flushLog(destination);
    },
  };
}

/**
 * The cluster side, when kubeConfigSource finds a cluster: cluster.js and @kubernetes/client-node
 * are loaded only then. Throws KubeConfigError for a kubeconfig that cannot be read.
 */
async function openCluster(
  values: { kubeconfig?: string; 'lease-namespace'?: string },
  io: CliIo,
  options: Pick<ClusterOptions, 'ownCredentials' | 'authoritative' | 'pinRelatedEverywhere' | 'onEventRecorded' | 'skipPolicy'>,
): Promise<ClusterWatch | undefined> {
  const source = kubeConfigSource({ kubeconfig: values.kubeconfig, env: io.env, homeDir: io.homeDir });
  if (source === undefined && options.skipPolicy !== undefined) {
    throw new UsageError('--skip-policy needs a cluster (--kubeconfig, $KUBECONFIG, in-cluster, or ~/.kube/config); without one, use --skip');
  }
  if (source === undefined) return undefined;
  const { ClusterWatch } = await import('./cluster.js');
  return new ClusterWatch({ ...options, source, lease: statusLease(values['lease-namespace'], io.env), reportingInstance: io.env.HOSTNAME ?? hostname() });
}

/** What the admission takes from the cluster, or without one: the webhook's own credentials only, no ImageSets, no Events. */
function clusterDeps(
  cluster: ClusterWatch | undefined,
  core: Core,
  authoritative: AuthoritativeRegistries,
): Pick<AppDeps, 'credentials' | 'imageSets' | 'relatedImagesIn' | 'ready' | 'onAdmitted'> {
  if (cluster === undefined) {
    return { credentials: (ref, context) => core.credentialsFor(ref, context.deadline), imageSets: withoutImageSets(authoritative), relatedImagesIn: () => false, ready: () => true };
  }
  return {
    credentials: cluster.credentials,
    imageSets: cluster.imageSets,
    relatedImagesIn: (namespace) => cluster.relatedImagesIn(namespace),
    ready: () => cluster.ready(),
    onAdmitted: (review, result) => {
      cluster.recordFailures(review, result.failures);
    },
  };
}

function authoritativeRegistries(registries: readonly string[]): AuthoritativeRegistries {
  try {
    return new AuthoritativeRegistries(registries);
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/** The ImageSet status Lease: where, and who this replica is (host name and a random suffix, unique across restarts). */
function statusLease(flag: string | undefined, env: Readonly<Record<string, string | undefined>>): { namespace: string; identity: string } {
  return { namespace: leaseNamespace(flag, env), identity: `${env['HOSTNAME'] ?? hostname()}_${randomBytes(4).toString('hex')}` };
}

/** `--lease-namespace`, else the pod's own namespace in a cluster, else the manifests' namespace. */
function leaseNamespace(flag: string | undefined, env: Readonly<Record<string, string | undefined>>): string {
  if (flag !== undefined && flag !== '') return flag;
  if (env['KUBERNETES_SERVICE_HOST'] !== undefined) {
    try {
      return readFileSync(`${SERVICE_ACCOUNT_DIR}/namespace`, 'utf8').trim();
    } catch {
      // Not mounted: fall back to the namespace manifests/ installs into.
    }
  }
  return DEFAULT_LEASE_NAMESPACE;
}
