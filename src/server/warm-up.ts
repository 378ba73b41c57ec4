/**
 * The admission path run once before the webhook reports ready. V8 compiles a function
 * the first time it is called, so without this a fresh process's first admission also
 * pays for compiling the route (its body reader, the admission, the log line, the metrics),
 * the registry client (undici's pools behind the guarded connector, the auth challenge, the
 * token, the HEAD) and the TLS code (bench/README.md). Nothing it does is seen outside the
 * process: the review is a built-in Pod posted to an app of its own (buildApp, on 127.0.0.1,
 * closed after) whose images a RegistryClient of its own resolves from a registry of its own
 * (warm-up-registry.ts) with a credential of its own; the webhook's registry client, cache,
 * credentials and metrics are not touched, its log lines are dropped, and no Event is written.
 * The request to the webhook's own HTTPS port is a review the route refuses (400) before
 * admitting it.
 *
 * It runs once the caches have synced, not while they list: V8 drops the bytecode of a
 * function that has not run across several full collections, and listing a large
 * cluster makes many.
 */
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import type { AdmitDeps, AdmitResult } from '../admission/index.js';
import { RegistryClient, type RequestEvent } from '../registry/index.js';
import { Resolver } from '../resolve/index.js';
import { buildApp, type AppDeps } from './app.js';
import { webhookLogger } from './log.js';
import { startWarmUpRegistry, WARM_UP_REGISTRY_HOST, type WarmUpRegistry } from './warm-up-registry.js';

const WARM_UP_DEADLINE_MS = 5_000;
const WARM_UP_CACHE = { cacheTtlMs: 60_000, cacheMax: 16, fetchTimeoutMs: WARM_UP_DEADLINE_MS } as const;
/** Images of the built-in Pod. */
const WARM_UP_IMAGES = 3;
/** How often `synced` is asked before the warm-up. */
const SYNC_POLL_MS = 100;
const LOOPBACK = '127.0.0.1';
/** Where the warm-up's app logs: its lines are formatted as the webhook's are, and dropped. */
const DISCARD = { write: (): void => undefined };

/** What the warm-up warms, and what hears its own admission in place of the webhook's metrics. */
export interface WarmUpTarget {
  /** The webhook's admission dependencies: the warm-up takes its skip list, ImageSets, records and settings, never its resolver, credentials, rewrites or hooks. */
  readonly deps: AdmitDeps;
  /** The webhook's own HTTPS listener, when it listens. */
  readonly address: AddressInfo | undefined;
  /** Hears the warm-up's admission (serve: a Metrics of its own that nothing renders). */
  readonly onAdmission?: AppDeps['onAdmission'];
  /** Hears the warm-up's registry requests (likewise). */
  readonly onRequest?: (event: RequestEvent) => void;
}

/** What the warm-up did, for the startup log. */
export interface WarmUpResult {
  /** Images the built-in admission pinned, each resolved by a registry client from the warm-up's registry (0 when it failed). */
  readonly pinned: number;
  /** Whether the webhook's own HTTPS port answered the refused review as the route does (400). */
  readonly selfRequest: boolean;
  /** Why a step failed; the webhook serves anyway, its first admission only slower. */
  readonly problems: readonly string[];
}

/**
 * Runs the built-in admission through an app of its own (see the module comment) and one
 * HTTPS request to the webhook's own listener. Never rejects.
 */
export async function warmUp(target: WarmUpTarget): Promise<WarmUpResult> {
  const problems: string[] = [];
  const pinned = await warmAdmission(target).catch((error: unknown) => {
    problems.push(`admission: ${String(error)}`);
    return 0;
  });
  const { address } = target;
  const selfRequest = address === undefined ? false : await warmRequest(address).catch((error: unknown) => {
    problems.push(`request to its own port: ${String(error)}`);
    return false;
  });
  return { pinned, selfRequest, problems };
}

/**
 * Waits until `synced()` (asked every SYNC_POLL_MS), then warms up; undefined when `signal`
 * aborts first (the webhook is closing). Never rejects.
 */
export async function warmUpWhenSynced(target: WarmUpTarget, synced: () => boolean, signal: AbortSignal): Promise<WarmUpResult | undefined> {
  while (!synced()) {
    if (signal.aborted) return undefined;
    await pause(SYNC_POLL_MS, signal);
  }
  return signal.aborted ? undefined : warmUp(target);
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * The built-in Pod, posted over HTTP to an app of its own on 127.0.0.1 that the webhook's route
 * code answers, its images resolved through a RegistryClient from the warm-up's registry; returns
 * the images pinned.
 */
async function warmAdmission(target: WarmUpTarget): Promise<number> {
  const registry = await startWarmUpRegistry();
  const client = new RegistryClient({
    env: {},
    caFiles: [],
    insecureRegistries: [registry.domain],
    requestTimeoutMs: WARM_UP_DEADLINE_MS,
    userAgent: 'digest-pinner (warm-up)',
    lookup: registry.lookup,
    ...(target.onRequest === undefined ? {} : { onRequest: target.onRequest }),
  });
  let admitted: AdmitResult | undefined;
  const app = buildApp(
    {
      ...admissionSettings(target.deps),
      resolver: new Resolver({ source: client, ...WARM_UP_CACHE }),
      credentials: () => Promise.resolve([registry.credential]),
      mode: 'warn',
      deadlineMs: WARM_UP_DEADLINE_MS,
      ready: () => true,
      onAdmission: (result, kind, operation, seconds) => {
        admitted = result;
        target.onAdmission?.(result, kind, operation, seconds);
      },
    },
    { logger: webhookLogger('info', DISCARD) },
  );
  try {
    const origin = await app.listen({ port: 0, host: LOOPBACK });
    const status = await post(`${origin}/mutate`, warmUpReview(registry.domain), {});
    if (admitted === undefined) throw new Error(`its own app answered HTTP ${status} without admitting the review`);
    return pinnedFromRegistry(admitted, registry);
  } finally {
    await app.close();
    await client.close();
    await registry.close();
  }
}

/**
 * What the warm-up's admission takes from the webhook's, field by field: serve passes its whole
 * AppDeps, whose hooks (metrics, Events) must not hear the warm-up.
 */
function admissionSettings(deps: AdmitDeps): Omit<AdmitDeps, 'resolver' | 'credentials' | 'rewrite'> {
  return {
    skip: deps.skip,
    dropTag: deps.dropTag,
    imageSets: deps.imageSets,
    pinRelatedImages: deps.pinRelatedImages,
    relatedImagesIn: deps.relatedImagesIn,
    records: deps.records,
  };
}

/** The images pinned from the warm-up's registry; throws unless every image was. */
function pinnedFromRegistry(result: AdmitResult, registry: WarmUpRegistry): number {
  const pinned = result.resolutions.filter((resolution) => resolution.source === 'registry').length;
  if (pinned === WARM_UP_IMAGES) return pinned;
  // An admission that failed as a whole (a bug, answered per mode) says why in its warning.
  const reasons = result.failures.length > 0 ? result.failures.map((failure) => `${failure.image}: ${failure.reason}`) : (result.response.warnings ?? []);
  throw new Error(`${pinned} of ${WARM_UP_IMAGES} images pinned from ${registry.domain}${reasons.length > 0 ? ` (${reasons.join('; ')})` : ''}`);
}

/** A refused review to the webhook's own port: the TLS handshake (both ends), undici, fastify's routing and body reader. */
async function warmRequest(address: AddressInfo): Promise<boolean> {
  // Its own certificate: whatever signed it, this request only warms code.
  const status = await post(`https://${loopbackFor(address)}:${address.port}/mutate`, warmUpReview(WARM_UP_REGISTRY_HOST, 'WARM-UP'), { rejectUnauthorized: false });
  return status === 400;
}

/** POSTs `body` as JSON over a connection of its own, closed after; returns the status. */
async function post(url: string, body: object, connect: { rejectUnauthorized?: boolean }): Promise<number> {
  const agent = new Agent({ connect, connections: 1 });
  try {
    const response = await request(url, {
      dispatcher: agent,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(WARM_UP_DEADLINE_MS),
    });
    await response.body.dump();
    return response.statusCode;
  } finally {
    await agent.close();
  }
}

/** Where to reach a listener: its own address, or loopback when it listens on every address. */
function loopbackFor(address: AddressInfo): string {
  if (address.address === '::') return '[::1]';
  if (address.address === '0.0.0.0') return '127.0.0.1';
  return address.family === 'IPv6' ? `[${address.address}]` : address.address;
}

/**
 * A Deployment-made Pod as kube-apiserver sends it: init and app containers, tags to pin from
 * `registry` (`host:port`); with another `operation`, a review the route refuses once it has read it.
 */
function warmUpReview(registry: string, operation = 'CREATE'): object {
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'warm-up', namespace: 'warm-up', labels: { app: 'warm-up' } },
    spec: {
      initContainers: [{ name: 'init', image: `${registry}/team/init:v1` }],
      containers: [
        { name: 'app', image: `${registry}/team/app:v1`, env: [{ name: 'MODE', value: 'warm-up' }] },
        { name: 'sidecar', image: `${registry}/team/sidecar:v1` },
      ],
      serviceAccountName: 'default',
      imagePullSecrets: [{ name: 'warm-up' }],
    },
  };
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'warm-up',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'warm-up',
      name: 'warm-up',
      operation,
      dryRun: false,
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
      object: pod,
      oldObject: null,
    },
  };
}

