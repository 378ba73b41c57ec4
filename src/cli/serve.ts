/** `digest-pinner serve`: the admission webhook over HTTPS. */
import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import type { ParseArgsConfig } from 'node:util';
import type { Logger } from 'pino';
import { COMMON_FLAGS, COMMON_FLAGS_USAGE, commonOptions, DEFAULT_WEBHOOK_NAMESPACE, DROP_TAG_FLAG, durationFlag, parseFlags, parseMode, UsageError, wholeNumberFlag } from './options.js';
import { buildCore, type Core } from './core.js';
import { skipFlags, skipPolicyFlag } from './skip-flags.js';
import { writeLine, type CliIo } from './io.js';
import type { ClusterOptions, ClusterWatch, LedgerSettings } from './cluster.js';
import { DEFAULT_LEDGER_MAX_ENTRIES, DEFAULT_TAG_MOVES_IGNORE, ExpectedMoves } from '../rollout/ledger.js';
import type { TagLedger } from '../resolve/index.js';
import { buildApp, type AppDeps } from '../server/app.js';
import { listenWebhook } from '../server/listen.js';
import { buildMetricsApp, DEFAULT_METRICS_PORT } from '../server/metrics-listener.js';
import { SERVER_LIMITS } from '../server/limits.js';
import { warmUpWhenSynced, type WarmUpTarget } from '../server/warm-up.js';
import { flushLog, LOG_LEVELS, webhookLogger, type LogDestination } from '../server/log.js';
import { Metrics } from '../metrics/index.js';
import { openServingTls, selfManagedSettings, TLS_FLAGS, TLS_FLAGS_USAGE, type ServingTls } from './serving-tls.js';
import { describeError, DigestPinnerError } from '../errors.js';
import { Server } from 'node:https';
import { hostname } from 'node:os';
// Not kube/index.js or imageset/index.js, which load @kubernetes/client-node: cluster.js does, when there is a cluster.
import { kubeConfigSource, SERVICE_ACCOUNT_DIR } from '../kube/source.js';
import { AuthoritativeRegistries, withoutImageSets } from '../imageset/authoritative.js';
import { randomBytes } from 'node:crypto';
import { DEFAULT_GRACE_MS } from '../rollout/types.js';
import { readFileSync } from 'node:fs';

export const SERVE_USAGE = `Usage: digest-pinner serve [flags]

Runs the mutating admission webhook over HTTPS, and /metrics and the probes over plain HTTP;
logs JSON lines on stdout.
Without --tls-cert/--tls-key or --tls-secret it writes a development CA and serving certificate
into ./certs (reused while valid) and logs the caBundle to register.

Flags:
  --port N                    HTTPS port (default 8443)
  --host ADDR                 address to listen on (default ::, IPv6 and IPv4; 0.0.0.0 on a
                              node without IPv6)
  --metrics-port N            plain-HTTP port of /metrics, /healthz and /readyz, on the same
                              address (default 9090; 0: any free port)
${TLS_FLAGS_USAGE}
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
  --max-connections N         connections open at once on each port (default ${SERVER_LIMITS.maxConnections}); at the
                              cap a new one closes the oldest with no review in flight. Keep it
                              below the file-descriptor limit; raise it for many kube-apiservers
${COMMON_FLAGS_USAGE}
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
  --no-pin-records            pin each Pod on its own: no PinRecords, so Pods of one ReplicaSet, Job,
                              StatefulSet or DaemonSet revision may get different digests when a tag
                              moves (docs/rollouts.md)
  --pin-grace DUR             how long a record's provisional pin, one no stored Pod carries yet,
                              still binds its revision's later Pods (default 60s; longer than a
                              Pod's creation takes, or Pods admitted together may disagree)
  --no-tag-ledger             no tag ledger: each replica asks registries on its own, and tags that
                              move are not reported (docs/rollouts.md)
  --ledger-namespace NS       namespace of the cluster-wide ledger entries (default: the Lease's)
  --ledger-verify-interval DUR
                              rewrite an entry whose digest a registry gave again only once it was
                              verified this long ago (default: --cache-ttl)
  --ledger-max-entries N      most ledger entries over all namespaces; past it the least recently
                              verified are deleted (default ${DEFAULT_LEDGER_MAX_ENTRIES})
  --tag-moves-ignore PATTERN  tags expected to move: recorded and counted, no TagMoved Event; glob on
                              the tag (repeatable; default ${DEFAULT_TAG_MOVES_IGNORE.join(', ')})
  --lease-namespace NS        namespace of the Lease electing the replica that writes ImageSet
                              status (default: the pod's own namespace in a cluster, else digest-pinner)
  --log-level LEVEL           ${LOG_LEVELS.join(', ')} (default info)`;

export const DEFAULT_DEADLINE_MS = 8_000;

/** A running webhook, for main.ts and tests. */
export interface RunningServer {
  readonly app: FastifyInstance;
  readonly url: string;
  /** Origin of /metrics, /healthz and /readyz (plain HTTP). */
  readonly metricsUrl: string;
  readonly caFile: string | undefined;
  close(): Promise<void>;
}

const SERVE_FLAGS = {
  ...COMMON_FLAGS,
  ...DROP_TAG_FLAG,
  // The webhook's cache outlives one admission; a CLI run resolves each reference once.
  'cache-ttl': { type: 'string' },
  port: { type: 'string' },
  'metrics-port': { type: 'string' },
  host: { type: 'string' },
  ...TLS_FLAGS,
  mode: { type: 'string' },
  skip: { type: 'string', multiple: true },
  'skip-policy': { type: 'string' },
  deadline: { type: 'string' },
  'log-level': { type: 'string' },
  kubeconfig: { type: 'string' },
  'imageset-authoritative': { type: 'string', multiple: true },
  'pin-related-images': { type: 'boolean' },
  'no-pin-records': { type: 'boolean' },
  'pin-grace': { type: 'string' },
  'lease-namespace': { type: 'string' },
  'no-tag-ledger': { type: 'boolean' },
  'ledger-namespace': { type: 'string' },
  'ledger-verify-interval': { type: 'string' },
  'ledger-max-entries': { type: 'string' },
  'tag-moves-ignore': { type: 'string', multiple: true },
  'max-connections': { type: 'string' },
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
  const port = portFlag('port', values.port, 8443);
  const metricsPort = portFlag('metrics-port', values['metrics-port'], DEFAULT_METRICS_PORT);
  const options = commonOptions(values);
  const mode = parseMode(values.mode);
  const deadlineMs = durationFlag('deadline', values.deadline, DEFAULT_DEADLINE_MS);
  const skipPolicy = skipPolicyFlag(values);
  const skipFromFlags = skipFlags(values.skip ?? []);
  const identity = replicaIdentity(io.env);
  const selfManaged = selfManagedSettings(values, io);
  const maxConnections = wholeNumberFlag('max-connections', values['max-connections'], SERVER_LIMITS.maxConnections);
  // The resolver asks the ledger, which the cluster (opened below, once metrics exist) holds.
  const clusterLedger: { ledger?: TagLedger | undefined } = {};
  // Registry requests are counted from the first one on; `metrics` needs the loaded allow-list, and
  // buildCore sends no request, so it is built just below.
  const core = await buildCore({
    ...options,
    forTenants: true,
    homeDir: io.homeDir,
    env: io.env,
    version: io.version,
    onRequest: (event) => {
      metrics.registryRequest(event);
    },
    warn: (fields, message) => {
      app.log.warn(fields, message);
    },
    ledger: {
      answer: (image, namespace) => clusterLedger.ledger?.answer(image, namespace),
      fallback: (image, namespace, withinMs) => clusterLedger.ledger?.fallback(image, namespace, withinMs),
      observe: (observation) => { clusterLedger.ledger?.observe(observation); },
    },
  });
  const authoritative = authoritativeRegistries(values['imageset-authoritative'] ?? []);
  const pinRelatedEverywhere = values['pin-related-images'] === true;
  const metrics = new Metrics({ allowList: core.config.allow, version: io.version });
  metrics.trackCache(() => core.resolver.size);
  metrics.trackBreakers(() => core.client.breakerStates());
  const tls = await openServingTls(values, io, log, { metrics, identity, selfManaged });
  const cluster = await openCluster(values, io, identity, {
    ownCredentials: core.ownCredentials,
    authoritative,
    pinRelatedEverywhere,
    skipPolicy,
    onEventRecorded: (outcome) => {
      metrics.eventRecorded(outcome);
    },
    pinRecords: values['no-pin-records'] !== true,
    pinGraceMs: durationFlag('pin-grace', values['pin-grace'], DEFAULT_GRACE_MS),
    onRecordOperation: (operation, count) => {
      metrics.recordOperation(operation, count);
    },
    ledger: ledgerSettings(values, io, options.cacheTtlMs, metrics),
  });
  clusterLedger.ledger = cluster?.ledger;
  if (cluster !== undefined) {
    metrics.trackInformers(() => cluster.informers());
    metrics.trackImageSets(() => cluster.imageSetState());
  }
  // Ready once the cluster's caches have synced and then the admission path has run (warmUpWhenSynced).
  let warmedUp = false;
  const fromCluster = clusterDeps(cluster, core, authoritative, tls);
  const appDeps: AppDeps = {
    mode,
    deadlineMs,
    resolver: core.resolver,
    ...fromCluster,
    ready: () => warmedUp && fromCluster.ready(),
    skip: cluster?.skip ?? skipFromFlags,
    dropTag: options.dropTag,
    rewrite: core.rewrite,
    pinRelatedImages: pinRelatedEverywhere,
    onAdmission: (result, kind, operation, seconds) => {
      metrics.admission(result, kind, operation, seconds);
    },
    inFlight: metrics.admissionsInFlight,
  };
  const limits = { ...SERVER_LIMITS, maxConnections };
  const app = buildApp(appDeps, { https: tls.initial, logger: log, limits });
  let stopping = false;
  const metricsApp = buildMetricsApp({ metrics, ready: () => !stopping && appDeps.ready() }, { logger: log, limits });
  let address: string;
  let metricsAddress: string;
  try {
    address = await listenWebhook(app, port, values.host);
    metricsAddress = await listenWebhook(metricsApp, metricsPort, values.host);
  } catch (error) {
    await app.close();
    await metricsApp.close();
    await tls.close();
    await core.close();
    throw error;
  }
  if (cluster === undefined) {
    log.warn('no kubeconfig (no --kubeconfig, no $KUBECONFIG, not in a cluster, no ~/.kube/config): pull secrets from the cluster, ImageSets, Events and the Namespace annotation for RELATED_IMAGE_* are off');
  } else {
    log.info({ kubeconfig: cluster.source }, 'reading pull secrets from the cluster');
    cluster.start(log);
  }
  // Compiles the admission path before the first review needs it, once the caches have synced.
  const stopWarming = new AbortController();
  // The warm-up's own admission and registry requests are counted apart, in metrics nothing renders.
  const warmUpMetrics = new Metrics({ allowList: core.config.allow, version: io.version, defaultMetrics: false });
  const warmUpTarget: WarmUpTarget = {
    deps: appDeps,
    address: listenAddress(app),
    onAdmission: (result, kind, operation, seconds) => {
      warmUpMetrics.admission(result, kind, operation, seconds);
    },
    onRequest: (event) => {
      warmUpMetrics.registryRequest(event);
    },
  };
  const warming = warmUpWhenSynced(warmUpTarget, fromCluster.ready, stopWarming.signal).then((warm) => {
    warmedUp = warm !== undefined;
    if (warm !== undefined && warm.problems.length > 0) log.warn({ problems: warm.problems }, 'warm-up incomplete: the first admissions may be slower');
  });
  // Without a cluster there is nothing to list: serve is ready as it returns.
  if (cluster === undefined) await warming;
  if (authoritative.list().length > 0) log.info({ registries: authoritative.list() }, 'ImageSets are authoritative for these registries: they are never asked');
  if (app.server instanceof Server) tls.follow(app.server);
  return {
    app,
    url: address,
    metricsUrl: metricsAddress,
    caFile: tls.caFile,
    close: async () => {
      stopping = true;
      await tls.close();
      stopWarming.abort();
      await app.close();
      await metricsApp.close();
      await cluster?.stop();
      await core.close();
      await flushLog(destination);
    },
  };
}

/** A port flag: an integer 0–65535 (0: any free port), else `fallback`. */
function portFlag(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const port = Number(value);
  if (value.trim() === '' || !Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--${name} ${JSON.stringify(value)} is not a port number`);
  return port;
}

function listenAddress(app: FastifyInstance): AddressInfo | undefined {
  const address = app.server.address();
  return address === null || typeof address === 'string' ? undefined : address;
}

/**
 * The cluster side, when kubeConfigSource finds a cluster: cluster.js and @kubernetes/client-node
 * are loaded only then. Throws KubeConfigError for a kubeconfig that cannot be read.
 */
async function openCluster(
  values: { kubeconfig?: string; 'lease-namespace'?: string },
  io: CliIo,
  identity: string,
  options: Pick<ClusterOptions, 'ownCredentials' | 'authoritative' | 'pinRelatedEverywhere' | 'onEventRecorded' | 'skipPolicy' | 'pinRecords' | 'pinGraceMs' | 'onRecordOperation' | 'ledger'>,
): Promise<ClusterWatch | undefined> {
  const source = kubeConfigSource({ kubeconfig: values.kubeconfig, env: io.env, homeDir: io.homeDir });
  if (source === undefined && options.skipPolicy !== undefined) {
    throw new UsageError('--skip-policy needs a cluster (--kubeconfig, $KUBECONFIG, in-cluster, or ~/.kube/config); without one, use --skip');
  }
  if (source === undefined) return undefined;
  const { ClusterWatch } = await import('./cluster.js');
  return new ClusterWatch({ ...options, source, lease: { namespace: leaseNamespace(values['lease-namespace'], io.env), identity }, reportingInstance: io.env.HOSTNAME ?? hostname() });
}

/** What the admission takes from the cluster, or without one: the webhook's own credentials only, no ImageSets, no Events. */
function clusterDeps(
  cluster: ClusterWatch | undefined,
  core: Core,
  authoritative: AuthoritativeRegistries,
  tls: ServingTls,
): Pick<AppDeps, 'credentials' | 'imageSets' | 'relatedImagesIn' | 'ready' | 'onAdmitted' | 'records'> {
  if (cluster === undefined) {
    return { credentials: (ref, context) => core.credentialsFor(ref, context.deadline), imageSets: withoutImageSets(authoritative), relatedImagesIn: () => false, ready: () => tls.ready() };
  }
  return {
    credentials: cluster.credentials,
    imageSets: cluster.imageSets,
    records: cluster.records,
    relatedImagesIn: (namespace) => cluster.relatedImagesIn(namespace),
    ready: () => cluster.ready() && tls.ready(),
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

/** Who this replica is, in the status Lease and the self-managed Secret: host name and a random suffix, unique across restarts. */
function replicaIdentity(env: Readonly<Record<string, string | undefined>>): string {
  return `${env['HOSTNAME'] ?? hostname()}_${randomBytes(4).toString('hex')}`;
}

/** The tag ledger's flags; undefined with --no-tag-ledger. */
function ledgerSettings(values: ServeFlags, io: CliIo, cacheTtlMs: number, metrics: Metrics): LedgerSettings | undefined {
  if (values['no-tag-ledger'] === true) return undefined;
  const maxEntries = wholeNumberFlag('ledger-max-entries', values['ledger-max-entries'], DEFAULT_LEDGER_MAX_ENTRIES);
  if (maxEntries < 1) throw new UsageError('--ledger-max-entries must be at least 1');
  const flagged = values['ledger-namespace'];
  return {
    namespace: flagged !== undefined && flagged !== '' ? flagged : leaseNamespace(values['lease-namespace'], io.env),
    cacheTtlMs,
    verifyIntervalMs: durationFlag('ledger-verify-interval', values['ledger-verify-interval'], cacheTtlMs),
    maxEntries,
    expectedMoves: new ExpectedMoves(values['tag-moves-ignore'] ?? DEFAULT_TAG_MOVES_IGNORE),
    onWrite: (operation) => {
      metrics.ledgerWrite(operation);
    },
    onMove: (domain, expected) => {
      metrics.tagMoved(domain, expected);
    },
  };
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
  return DEFAULT_WEBHOOK_NAMESPACE;
}
