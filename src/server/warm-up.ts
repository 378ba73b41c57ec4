/**
 * The admission path run once before the webhook reports ready. V8 compiles a function
 * the first time it is called, so without this a fresh process's first admission also
 * pays for compiling the admission path, the HTTPS client and the TLS code (several
 * times a warm admission's CPU; bench/README.md). Nothing it does is seen outside the
 * process: the review is a built-in Pod whose tags a Resolver of its own answers from
 * memory (no registry is asked, the webhook's cache is not touched), credentials are
 * anonymous (no credential helper runs), and no metric, log line or Event is written.
 *
 * It runs once the caches have synced, not while they list: V8 drops the bytecode of a
 * function that has not run across several full collections, and listing a large
 * cluster makes many.
 */
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { admit, decodeReview, type AdmitDeps } from '../admission/index.js';
import type { ManifestDigest } from '../registry/types.js';
import { Resolver } from '../resolve/index.js';
import { AdmissionDeadline } from './deadline.js';
import { reviewResponse } from './app.js';

/** A registry name that can never be reached (RFC 2606), for the built-in Pod's images. */
const WARM_UP_REGISTRY = 'warm-up.invalid';
const WARM_UP_DIGEST: ManifestDigest = { digest: `sha256:${'0'.repeat(64)}` };
const WARM_UP_DEADLINE_MS = 5_000;
const WARM_UP_CACHE = { cacheTtlMs: 60_000, cacheMax: 16, fetchTimeoutMs: WARM_UP_DEADLINE_MS } as const;
/** How often `synced` is asked before the warm-up. */
const SYNC_POLL_MS = 100;

/** What the warm-up did, for the startup log. */
export interface WarmUpResult {
  /** Images the built-in admission pinned (0 when it failed). */
  readonly pinned: number;
  /** Whether the request to the webhook's own HTTPS port was answered. */
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

/** One admission of the built-in Pod, decoded from JSON and answered as JSON as the route does; returns the images pinned. */
async function warmAdmission(deps: AdmitDeps): Promise<number> {
  const resolver = new Resolver({ source: { getDigest: () => Promise.resolve(WARM_UP_DIGEST) }, ...WARM_UP_CACHE });
  const review = decodeReview(JSON.parse(JSON.stringify(warmUpReview())));
  const deadline = new AdmissionDeadline(WARM_UP_DEADLINE_MS);
  try {
    const result = await admit(review, 'warn', { ...deps, resolver, credentials: () => Promise.resolve([undefined]) }, deadline);
    JSON.stringify(reviewResponse(result.response));
    return result.resolutions.filter((resolution) => resolution.source !== 'pinned').length;
  } finally {
    deadline.dispose();
  }
}

/** GET /healthz on the webhook's own port: the TLS handshake (both ends), undici, fastify's routing. */
async function warmRequest(address: AddressInfo): Promise<boolean> {
  // Its own certificate: whatever signed it, this request only warms code.
  const agent = new Agent({ connect: { rejectUnauthorized: false }, connections: 1 });
  try {
    const response = await request(`https://${loopbackFor(address)}:${address.port}/healthz`, { dispatcher: agent, signal: AbortSignal.timeout(WARM_UP_DEADLINE_MS) });
    await response.body.dump();
    return response.statusCode === 200;
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

/** A Deployment-made Pod as kube-apiserver sends it: init and app containers, tags to pin. */
function warmUpReview(): object {
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'warm-up', namespace: 'warm-up', labels: { app: 'warm-up' } },
    spec: {
      initContainers: [{ name: 'init', image: `${WARM_UP_REGISTRY}/team/init:v1` }],
      containers: [
        { name: 'app', image: `${WARM_UP_REGISTRY}/team/app:v1`, env: [{ name: 'MODE', value: 'warm-up' }] },
        { name: 'sidecar', image: `${WARM_UP_REGISTRY}/team/sidecar:v1` },
      ],
      serviceAccountName: 'default',
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
      operation: 'CREATE',
      dryRun: false,
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
      object: pod,
      oldObject: null,
    },
  };
}
