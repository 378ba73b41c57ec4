/**
 * One writer among several replicas: leader election on a coordination.k8s.io/v1
 * Lease, as client-go's leaderelection does it. The holder renews the Lease every
 * `renewEveryMs`; another replica takes it over only after the record has not
 * changed for `leaseDurationMs` by its own clock (so clocks need not agree). Every
 * write carries the resourceVersion read, so two replicas never both win.
 * A replica that fails to renew stops counting itself the leader at once.
 */
import { ApiException, CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease, type V1LeaseSpec } from '@kubernetes/client-node';
import { apiClient, DEFAULT_REQUEST_TIMEOUT_MS } from '../kube/api.js';
import { describeKubeError } from '../kube/describe.js';
import type { KubeLogger } from '../kube/informers.js';

export interface LeaseElectorOptions {
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
  readonly name: string;
  /** This replica, unique among them (host name and a random suffix). */
  readonly identity: string;
  readonly log: KubeLogger;
  /** How long a Lease not renewed stays held (default 15 s). */
  readonly leaseDurationMs?: number;
  /** How often the holder renews and the others look (default 5 s). */
  readonly renewEveryMs?: number;
  /** Deadline of one request (default 5 s). */
  readonly requestTimeoutMs?: number;
  /** Called when this replica becomes the leader, and when it stops being it. Must not throw. */
  readonly onChange?: (leading: boolean) => void;
}

const DEFAULT_LEASE_DURATION_MS = 15_000;
const DEFAULT_RENEW_EVERY_MS = 5_000;

/** Leader election for one Lease. */
export class LeaseElector {
  readonly #options: LeaseElectorOptions;
  #leading = false;
  #timer: NodeJS.Timeout | undefined;
  #stopped = true;
  #round: Promise<void> = Promise.resolve();
  /** The record last seen, and when (by this replica's clock). */
  #observed: { resourceVersion: string; at: number } | undefined;

  constructor(options: LeaseElectorOptions) {
    this.#options = options;
  }

  /** Whether this replica holds the Lease now. */
  leading(): boolean {
    return this.#leading;
  }

  /** Starts trying, at once and then every renewEveryMs. */
  start(): void {
    this.#stopped = false;
    this.#schedule(0);
  }

  /** Stops, and gives the Lease up when held so another replica takes over without waiting it out. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#round;
    if (this.#leading) await this.#release();
    this.#setLeading(false);
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#round = this.#tryAcquireOrRenew().finally(() => { this.#schedule(this.#options.renewEveryMs ?? DEFAULT_RENEW_EVERY_MS); });
    }, delayMs);
    this.#timer.unref();
  }

  async #tryAcquireOrRenew(): Promise<void> {
    const api = apiClient(this.#options.kubeConfig, CoordinationV1Api, AbortSignal.timeout(this.#options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS));
    const { namespace, name } = this.#options;
    try {
      const lease = await readLease(api, namespace, name);
      if (lease === undefined) {
        await api.createNamespacedLease({ namespace, body: { metadata: { name, namespace }, spec: this.#spec(0, Date.now()) } });
        this.#setLeading(true);
        return;
      }
      const spec = this.#takeOver(lease, Date.now());
      if (spec === undefined) {
        this.#setLeading(false);
        return;
      }
      await api.replaceNamespacedLease({ namespace, name, body: { apiVersion: lease.apiVersion, kind: lease.kind, metadata: lease.metadata, spec } });
      this.#setLeading(true);
    } catch (error) {
      // 409: another replica wrote first. Either way this replica is not the leader now.
      if (!(error instanceof ApiException && error.code === 409)) {
        this.#options.log.warn({ lease: `${namespace}/${name}`, err: describeKubeError(error) }, 'Lease not acquired or renewed');
      }
      this.#setLeading(false);
    }
  }

  /** The spec to write to hold `lease` (renewing it, or taking over one expired or released); undefined while another replica holds it. */
  #takeOver(lease: V1Lease, now: number): V1LeaseSpec | undefined {
    const { holderIdentity = '', leaseDurationSeconds = 0, leaseTransitions = 0, acquireTime } = lease.spec ?? {};
    const resourceVersion = lease.metadata?.resourceVersion ?? '';
    if (this.#observed?.resourceVersion !== resourceVersion) this.#observed = { resourceVersion, at: now };
    const mine = holderIdentity === this.#options.identity;
    if (mine) return this.#spec(leaseTransitions, timeOf(acquireTime) ?? now);
    const unchangedFor = now - this.#observed.at;
    if (holderIdentity !== '' && unchangedFor < leaseDurationSeconds * 1000) return undefined;
    return this.#spec(leaseTransitions + 1, now);
  }

  #spec(transitions: number, acquiredAt: number): V1LeaseSpec {
    return {
      holderIdentity: this.#options.identity,
      leaseDurationSeconds: Math.ceil((this.#options.leaseDurationMs ?? DEFAULT_LEASE_DURATION_MS) / 1000),
      acquireTime: new V1MicroTime(acquiredAt),
      renewTime: new V1MicroTime(Date.now()),
      leaseTransitions: transitions,
    };
  }

  /** client-go's ReleaseOnCancel: an empty holder, which any replica may take at once. */
  async #release(): Promise<void> {
    const { namespace, name, identity } = this.#options;
    try {
      const api = apiClient(this.#options.kubeConfig, CoordinationV1Api, AbortSignal.timeout(this.#options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS));
      const lease = await readLease(api, namespace, name);
      if (lease?.spec?.holderIdentity !== identity) return;
      const spec: V1LeaseSpec = { holderIdentity: '', leaseDurationSeconds: 1, acquireTime: lease.spec.acquireTime, renewTime: lease.spec.renewTime, leaseTransitions: lease.spec.leaseTransitions };
      await api.replaceNamespacedLease({ namespace, name, body: { apiVersion: lease.apiVersion, kind: lease.kind, metadata: lease.metadata, spec } });
    } catch (error) {
      this.#options.log.warn({ lease: `${namespace}/${name}`, err: describeKubeError(error) }, 'Lease not released (it expires on its own)');
    }
  }

  #setLeading(leading: boolean): void {
    if (leading === this.#leading) return;
    this.#leading = leading;
    this.#options.log.info({ lease: `${this.#options.namespace}/${this.#options.name}`, identity: this.#options.identity }, leading ? 'leading: this replica writes ImageSet status' : 'no longer leading');
    this.#options.onChange?.(leading);
  }
}

async function readLease(api: CoordinationV1Api, namespace: string, name: string): Promise<V1Lease | undefined> {
  try {
    return await api.readNamespacedLease({ namespace, name });
  } catch (error) {
    if (error instanceof ApiException && error.code === 404) return undefined;
    throw error;
  }
}

/** Milliseconds of a MicroTime as client-node hands it over (typed Date, a string at run time). */
function timeOf(value: unknown): number | undefined {
  if (value instanceof Date) return value.getTime();
  if (typeof value !== 'string') return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}
