/**
 * Self-managed certificates: the webhook keeps its CA and serving certificate in one Secret
 * and the caBundle of its MutatingWebhookConfiguration current, without cert-manager.
 *
 * Two loops per replica, and no leader:
 * - a watch on the Secret hands each new serving certificate to the server at once (a
 *   mounted Secret reaches a Pod only after kubelet's sync period);
 * - rounds read the webhook configuration and the Secret, take the step certs/plan.ts
 *   decides, and write the Secret with the resourceVersion read: when replicas race, one
 *   write wins and the others plan again. A round runs on every change of the Secret and
 *   when the plan says a step falls due.
 * When the API cannot be reached, the certificate being served stays; rounds are retried
 * with a growing delay, each failure logged and counted.
 */
import { ApiException, CoreV1Api, type KubeConfig, type V1Secret } from '@kubernetes/client-node';
import type { KeyPair } from '../certs/generate.js';
import { applyStep, planStep, type Step, type StepKind, type StepMaterial, type Timing } from '../certs/plan.js';
import {
  bundlePem,
  bundleWith,
  pemBundleFingerprint,
  readStored,
  servingPairInfo,
  storedAnnotations,
  storedData,
  viewOf,
  PUBLISHED_ANNOTATION,
  REPLICAS_ANNOTATION,
  SECRET_KEYS,
  type StoredCertificates,
} from '../certs/stored.js';
import { apiClient } from './api.js';
import { describeKubeError } from './describe.js';
import { ManagedInformer, type KubeLogger } from './informers.js';
import { Restarts, type RestartDelays } from './restarts.js';
import { commonCaBundle, readWebhookCaBundles, setWebhookCaBundle, type WebhookCaBundles } from './webhook-ca-bundle.js';

export interface SelfManagedOptions {
  readonly kubeConfig: KubeConfig;
  /** The Secret holding the CA and the serving certificate. */
  readonly namespace: string;
  readonly name: string;
  /** The MutatingWebhookConfiguration whose caBundle is kept current. */
  readonly webhook: string;
  /** This replica, unique among them. */
  readonly identity: string;
  /** DNS names and IP addresses the serving certificate is valid for. */
  readonly hosts: readonly string[];
  readonly timing: Timing;
  readonly log: KubeLogger;
  /** Serves `pair` from now on; throws when it cannot be used. */
  readonly serve: (pair: KeyPair, notAfter: number) => void;
  /** Called after each step taken, and after each failed round. */
  readonly onStep?: (kind: StepKind) => void;
  readonly onFailure?: () => void;
  readonly now?: () => number;
  /** Deadline of one request (default 10 s). */
  readonly requestTimeoutMs?: number;
  readonly restartDelayMs?: RestartDelays;
}

const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/** Steps one round takes before it yields; a plan that keeps stepping is a bug, not progress. */
const MAX_STEPS_PER_ROUND = 12;
/** setTimeout's longest delay. */
const MAX_TIMER_MS = 2_147_483_647;

/** A Secret write that lost to another writer (HTTP 409), or a caBundle patch whose resourceVersion test failed (422). */
export function lostRace(error: unknown): boolean {
  return error instanceof ApiException && (error.code === 409 || error.code === 422);
}

/** The Secret's certificates and the webhook configuration's caBundle, kept current by every replica. */
export class SelfManagedCertificates {
  readonly #options: SelfManagedOptions;
  readonly #now: () => number;
  readonly #informer: ManagedInformer<V1Secret>;
  readonly #restarts: Restarts;
  #serving: string | undefined;
  /**
   * Whether a version of the Secret recorded this replica serving that version's certificate.
   * From then on its record stays live (heartbeats), so no CA it relies on is dropped.
   */
  #recorded = false;
  #waiters: (() => void)[] = [];
  #running: Promise<void> | undefined;
  #again = false;
  #timer: NodeJS.Timeout | undefined;
  #stopped = true;
  #lastProblems = '';

  constructor(options: SelfManagedOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#restarts = new Restarts(options.restartDelayMs);
    const { namespace, name } = options;
    const fieldSelector = `metadata.name=${name}`;
    this.#informer = new ManagedInformer<V1Secret>(
      {
        name: `secret ${namespace}/${name}`,
        kind: 'Secret',
        path: `/api/v1/namespaces/${namespace}/secrets`,
        fieldSelector,
        listPage: (clientOf, continueToken) => clientOf(CoreV1Api).listNamespacedSecret({ namespace, fieldSelector, _continue: continueToken }),
        upsert: (secret) => { this.#seen(secret); },
        remove: () => {
          options.log.warn({ secret: `${namespace}/${name}` }, 'certificate Secret deleted: serving the certificate held until it is back');
          this.poke();
        },
      },
      { kubeConfig: options.kubeConfig, log: options.log, restartDelayMs: options.restartDelayMs },
      () => undefined,
    );
  }

  /** Starts the watch and the first round. */
  start(): void {
    this.#stopped = false;
    void this.#informer.start();
    this.poke();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#restarts.cancel();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#informer.stop();
    await this.#running;
  }

  /** Resolves once a certificate is served; rejects when `signal` aborts first. */
  serving(signal: AbortSignal): Promise<void> {
    if (this.#serving !== undefined) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = (): void => { reject(signal.reason instanceof Error ? signal.reason : new Error('gave up waiting for a serving certificate')); };
      if (signal.aborted) {
        onAbort();
        return;
      }
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }

  /**
   * True once a version of the Secret recorded this replica serving that version's
   * certificate: from then on no CA is dropped while this replica serves a certificate from
   * it. (Recorded serving an older one, it might have lagged behind a drop already decided.)
   * It stays true when the replica swaps certificates, so replicas swapping together never
   * all turn unready.
   */
  ready(): boolean {
    return this.#recorded;
  }

  /** Something changed: a round now, or right after the one under way. */
  poke(): void {
    if (this.#stopped) return;
    if (this.#running !== undefined) {
      this.#again = true;
      return;
    }
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#running = this.#round().finally(() => {
      this.#running = undefined;
      if (this.#again) {
        this.#again = false;
        this.poke();
      }
    });
  }

  /** A new version of the Secret from the watch: serve its certificate if it is new, then plan. */
  #seen(secret: V1Secret): void {
    const { stored } = this.#read(secret);
    const offered = stored.cert === undefined || stored.key === undefined ? undefined : this.#offer({ cert: stored.cert, key: stored.key });
    if (offered !== undefined && offered === this.#serving && stored.replicas[this.#options.identity]?.cert === offered) this.#recorded = true;
    this.poke();
  }

  /** Serves `pair` unless it is served already; returns its fingerprint, or undefined when it cannot be used. */
  #offer(pair: KeyPair): string | undefined {
    const info = servingPairInfo(pair.cert, pair.key);
    if (typeof info === 'string') return undefined;
    if (info.fingerprint === this.#serving) return info.fingerprint;
    try {
      this.#options.serve(pair, info.notAfter);
    } catch (error) {
      this.#options.log.error({ err: describeKubeError(error), fingerprint: info.fingerprint }, 'serving certificate from the Secret not used');
      return undefined;
    }
    this.#serving = info.fingerprint;
    this.#options.log.info({ fingerprint: info.fingerprint, notAfter: new Date(info.notAfter).toISOString() }, 'serving the certificate from the Secret');
    for (const waiter of this.#waiters) waiter();
    this.#waiters = [];
    return info.fingerprint;
  }

  async #round(): Promise<void> {
    try {
      for (let steps = 0; steps < MAX_STEPS_PER_ROUND; steps += 1) {
        if (this.#stopped) return;
        const step = await this.#step();
        if (step === undefined) continue;
        if (step.kind === 'wait') {
          this.#restarts.cancel();
          this.#wakeAt(step.until);
          return;
        }
      }
      this.#options.log.warn({ steps: MAX_STEPS_PER_ROUND }, 'certificate round took too many steps; pausing');
      this.#retryLater();
    } catch (error) {
      this.#options.onFailure?.();
      this.#options.log.warn({ err: describeKubeError(error), secret: `${this.#options.namespace}/${this.#options.name}`, webhook: this.#options.webhook }, 'certificate round failed; serving the certificate held');
      this.#retryLater();
    }
  }

  /**
   * Reads, plans and takes one step; returns it, or undefined when another writer got there
   * first. The configuration is read before the Secret, so the caBundle patched in is never
   * older than the one it replaces.
   */
  async #step(): Promise<Step | undefined> {
    const { kubeConfig, namespace, name, webhook, identity, hosts, timing } = this.#options;
    const signal = AbortSignal.timeout(this.#options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS);
    // Unreadable, the configuration only holds back the steps that depend on it.
    const configuration = await readWebhookCaBundles(kubeConfig, webhook, signal).catch((error: unknown) => new WebhookUnreadable(error));
    const secret = await apiClient(kubeConfig, CoreV1Api, signal).readNamespacedSecret({ namespace, name });
    const read = this.#read(secret);
    const { view, problems } = viewOf(read.stored, hosts);
    this.#report([...read.problems, ...problems]);
    const stored = read.stored;
    const now = this.#now();
    const step = planStep({ now, view, webhook: webhookView(configuration), self: { identity, serving: this.#serving }, hosts }, timing);
    if (step.kind === 'wait') {
      if (configuration instanceof WebhookUnreadable) throw configuration.cause;
      return step;
    }
    try {
      await this.#take(step, { secret, stored, configuration, now, signal });
    } catch (error) {
      if (lostRace(error)) return undefined;
      throw error;
    }
    if (step.kind !== 'heartbeat') this.#options.log.info({ step: step.kind, reason: step.reason }, 'certificate step taken');
    this.#options.onStep?.(step.kind);
    return step;
  }

  async #take(step: Exclude<Step, { kind: 'wait' }>, read: { secret: V1Secret; stored: StoredCertificates; configuration: WebhookCaBundles | WebhookUnreadable; now: number; signal: AbortSignal }): Promise<void> {
    const { kubeConfig, namespace, name, identity } = this.#options;
    if (step.kind === 'publish-bundle') {
      if (read.configuration instanceof WebhookUnreadable) throw read.configuration.cause;
      await setWebhookCaBundle(kubeConfig, read.configuration, bundlePem(read.stored.bundle), read.signal);
      return;
    }
    const next = applyStep(read.stored, step, await material(step, read.stored, read.now), { now: read.now, identity });
    await apiClient(kubeConfig, CoreV1Api, read.signal).replaceNamespacedSecret({ namespace, name, body: withStored(read.secret, next) });
  }

  #read(secret: V1Secret): { stored: StoredCertificates; problems: string[] } {
    const data = Object.fromEntries(Object.entries(secret.data ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64').toString('utf8')]));
    return readStored(data, secret.metadata?.annotations ?? {});
  }

  /** Logs what cannot be used in the Secret (rounds find it), once per change of it. */
  #report(problems: readonly string[]): void {
    const text = problems.join('; ');
    if (text === this.#lastProblems) return;
    this.#lastProblems = text;
    if (text !== '') this.#options.log.warn({ secret: `${this.#options.namespace}/${this.#options.name}`, problems }, 'certificate Secret: entries ignored');
  }

  #wakeAt(until: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (!Number.isFinite(until)) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.poke();
    }, Math.min(Math.max(until - this.#now(), 0), MAX_TIMER_MS));
    this.#timer.unref();
  }

  #retryLater(): void {
    if (this.#stopped) return;
    this.#restarts.after(this.#restarts.backoff(), () => { this.poke(); });
  }
}

/** A failed read of the webhook configuration, kept until the plan shows whether it matters. */
class WebhookUnreadable {
  constructor(readonly cause: unknown) {}
}

/** What the plan takes of the configuration: the fingerprint of the caBundle all its webhooks hold. */
function webhookView(configuration: WebhookCaBundles | WebhookUnreadable): { bundle: string | undefined } | undefined {
  if (configuration instanceof WebhookUnreadable) return undefined;
  const common = commonCaBundle(configuration);
  return { bundle: common === undefined ? undefined : pemBundleFingerprint(common) };
}

/** Key material for a step: made here, where @peculiar/x509 is loaded only when a certificate is to be written. */
async function material(step: Step, stored: StoredCertificates, now: number): Promise<StepMaterial> {
  if (step.kind === 'create-ca') {
    const { createCa } = await import('../certs/generate.js');
    return { ca: await createCa({ now, notAfter: step.notAfter }) };
  }
  if (step.kind === 'issue-cert') {
    const [signer] = bundleWith(stored.bundle, [step.signer]);
    if (signer === undefined || stored.caKey === undefined) throw new Error('no CA key to sign with');
    const { issueServingCertificate } = await import('../certs/generate.js');
    return { serving: await issueServingCertificate({ ca: { cert: signer, key: stored.caKey }, hosts: step.hosts, now, notAfter: step.notAfter }) };
  }
  return {};
}

/** Sets `stored` as the certificates and annotations of `secret` (as just read, used once); other data and annotations are kept. */
function withStored(secret: V1Secret, stored: StoredCertificates): V1Secret {
  const ours = new Set<string>(Object.values(SECRET_KEYS));
  const otherData = Object.entries(secret.data ?? {}).filter(([key]) => !ours.has(key));
  // tls.crt and tls.key are always present (empty at first): a kubernetes.io/tls Secret requires them.
  const data = { [SECRET_KEYS.cert]: '', [SECRET_KEYS.key]: '', ...storedData(stored) };
  secret.data = { ...Object.fromEntries(otherData), ...Object.fromEntries(Object.entries(data).map(([key, value]) => [key, Buffer.from(value).toString('base64')])) };
  const metadata = secret.metadata ?? {};
  const otherAnnotations = Object.entries(metadata.annotations ?? {}).filter(([key]) => key !== PUBLISHED_ANNOTATION && key !== REPLICAS_ANNOTATION);
  metadata.annotations = { ...Object.fromEntries(otherAnnotations), ...storedAnnotations(stored) };
  secret.metadata = metadata;
  return secret;
}
