/**
 * The admission path run once before the webhook reports ready. V8 compiles a function
 * the first time it is called, so without this a fresh process's first admission also
 * pays for compiling the admission path, the route's body reader, the registry client
 * (undici's pools behind the guarded connector, the auth challenge, the token, the HEAD)
 * and the TLS code (bench/README.md). Nothing it does is seen outside the process: the
 * review is a built-in Pod whose images a RegistryClient of its own resolves from a registry
 * of its own on 127.0.0.1 (warm-up-registry.ts) with a credential of its own; the webhook's
 * registry client, cache and credentials are not touched, and no metric, log line or Event
 * is written. The request to its own HTTPS port is a review the route refuses (400) before
 * admitting it.
 *
 * It runs once the caches have synced, not while they list: V8 drops the bytecode of a
 * function that has not run across several full collections, and listing a large
 * cluster makes many.
 */
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { admit, decodeReview, type AdmitDeps, type AdmitResult } from '../admission/index.js';
import { RegistryClient } from '../registry/index.js';
import { Resolver } from '../resolve/index.js';
import { AdmissionDeadline } from './deadline.js';
import { reviewResponse } from './app.js';
import { startWarmUpRegistry, WARM_UP_REGISTRY_HOST, type WarmUpRegistry } from './warm-up-registry.js';

const WARM_UP_DEADLINE_MS = 5_000;
const WARM_UP_CACHE = { cacheTtlMs: 60_000, cacheMax: 16, fetchTimeoutMs: WARM_UP_DEADLINE_MS } as const;
/** Images of the built-in Pod. */
const WARM_UP_IMAGES = 3;
/** How often `synced` is asked before the warm-up. */
const SYNC_POLL_MS = 100;

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
 * Runs one built-in admission through `deps` (its resolver and credentials replaced, see the
 * module comment) and one HTTPS request to `address`, the webhook's own listener. Never rejects.
 */
export async function warmUp(deps: AdmitDeps, address: AddressInfo | undefined): Promise<WarmUpResult> {
  const problems: string[] = [];
  const pinned = await warmAdmission(deps).catch((error: unknown) => {
    problems.push(`admission: ${String(error)}`);
    return 0;
  });
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
export async function warmUpWhenSynced(deps: AdmitDeps, address: AddressInfo | undefined, synced: () => boolean, signal: AbortSignal): Promise<WarmUpResult | undefined> {
  while (!synced()) {
    if (signal.aborted) return undefined;
    await pause(SYNC_POLL_MS, signal);
  }
  return signal.aborted ? undefined : warmUp(deps, address);
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
 * One admission of the built-in Pod, decoded from JSON and answered as JSON as the route does,
 * its images resolved through a RegistryClient from the warm-up's registry; returns the images
 * pinned. The webhook's rewrites are left out: they could send the images elsewhere.
 */
async function warmAdmission(deps: AdmitDeps): Promise<number> {
  const registry = await startWarmUpRegistry();
  const client = new RegistryClient({
    env: {},
    caFiles: [],
    insecureRegistries: [registry.domain],
    requestTimeoutMs: WARM_UP_DEADLINE_MS,
    userAgent: 'digest-pinner (warm-up)',
    lookup: registry.lookup,
  });
  const resolver = new Resolver({ source: client, ...WARM_UP_CACHE });
  const review = decodeReview(JSON.parse(JSON.stringify(warmUpReview(registry.domain))));
  const deadline = new AdmissionDeadline(WARM_UP_DEADLINE_MS);
  const { rewrite: _rewrite, ...own } = deps;
  try {
    const result = await admit(review, 'warn', { ...own, resolver, credentials: () => Promise.resolve([registry.credential]) }, deadline);
    JSON.stringify(reviewResponse(result.response));
    return pinnedFromRegistry(result, registry);
  } finally {
    deadline.dispose();
    await client.close();
    await registry.close();
  }
}

/** The images pinned from the warm-up's registry; throws unless every image was. */
function pinnedFromRegistry(result: AdmitResult, registry: WarmUpRegistry): number {
  const pinned = result.resolutions.filter((resolution) => resolution.source === 'registry').length;
  if (pinned === WARM_UP_IMAGES) return pinned;
  const reasons = result.failures.map((failure) => `${failure.image}: ${failure.reason}`);
  throw new Error(`${pinned} of ${WARM_UP_IMAGES} images pinned from ${registry.domain}${reasons.length > 0 ? ` (${reasons.join('; ')})` : ''}`);
}

/** POST /mutate on the webhook's own port: the TLS handshake (both ends), undici, fastify's routing and body reader. */
async function warmRequest(address: AddressInfo): Promise<boolean> {
  // Its own certificate: whatever signed it, this request only warms code.
  const agent = new Agent({ connect: { rejectUnauthorized: false }, connections: 1 });
  try {
    const response = await request(`https://${loopbackFor(address)}:${address.port}/mutate`, {
      dispatcher: agent,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(warmUpReview(WARM_UP_REGISTRY_HOST, 'WARM-UP')),
      signal: AbortSignal.timeout(WARM_UP_DEADLINE_MS),
    });
    await response.body.dump();
    return response.statusCode === 400;
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

