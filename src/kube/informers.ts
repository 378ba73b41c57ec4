/**
 * Watched caches of the cluster's pull secrets and ServiceAccounts, so an admission
 * reads memory instead of making a request.
 *
 * Three list-then-watch informers (client-node's ListWatch): Secrets of type
 * `kubernetes.io/dockerconfigjson`, Secrets of type `kubernetes.io/dockercfg` (a field
 * selector cannot say "or"), and ServiceAccounts, all namespaces. The `type` field
 * selector is applied by kube-apiserver, so TLS keys, tokens and every other Secret
 * never reach this process. What does arrive is parsed into keyrings (cache.ts) and then
 * stripped from the informer's own store: data, annotations (kubectl's
 * last-applied-configuration holds the data again), labels and managed fields.
 *
 * client-node informers stop on an error; each is restarted here after a delay that
 * doubles up to a ceiling and resets once things have been quiet for a while.
 */
import { CoreV1Api, ListWatch, Watch } from '@kubernetes/client-node';
import type { Configuration, KubeConfig, KubernetesListObject, KubernetesObject, V1ListMeta, V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import { apiClient } from './api.js';
import type { PullSecretCache } from './cache.js';
import { describeKubeError } from './describe.js';
import { DEFAULT_LIST_TIMEOUT_MS, DEFAULT_PAGE_SIZE, listAllPages, Restarts, type RestartDelays } from './restarts.js';
import { PULL_SECRET_TYPES } from '../credentials/keyring.js';

/** The subset of a pino logger the informers use. */
export interface KubeLogger {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
}

/** How any informer here talks to the cluster and recovers from failures. */
export interface InformerRunOptions {
  readonly kubeConfig: KubeConfig;
  readonly log: KubeLogger;
  /** First delay before restarting a failed informer, and the most it grows to (default 1 s and 30 s). */
  readonly restartDelayMs?: RestartDelays;
  /** Deadline of one list request (one page), in ms (default 60 s). */
  readonly listTimeoutMs?: number;
  /** Objects per list page (default 500). */
  readonly pageSize?: number;
}

export interface PullSecretInformersOptions extends InformerRunOptions {
  readonly cache: PullSecretCache;
}

/** One object as the informers' own stores hold it, for diagnostics and tests. */
export interface HeldObject {
  readonly informer: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  /** The Secret type; undefined for a ServiceAccount. */
  readonly type: string | undefined;
  /** Names of the fields still held besides metadata (`data` must never be among them). */
  readonly fields: readonly string[];
}

/** A client of one client-node API group (CoreV1Api, AdmissionregistrationV1Api) whose requests share one deadline. */
export type ClientOf = <A>(Api: new (configuration: Configuration) => A) => A;

/** What one informer watches and what it does with each change. */
export interface InformerSpec<T extends KubernetesObject> {
  readonly name: string;
  readonly kind: 'Secret' | 'ServiceAccount' | 'Namespace' | 'ValidatingAdmissionPolicy';
  readonly path: string;
  readonly fieldSelector: string | undefined;
  readonly listPage: (clientOf: ClientOf, continueToken: string | undefined) => Promise<KubernetesListObject<T>>;
  readonly upsert: (object: T) => void;
  readonly remove: (object: T) => void;
}

const ENVELOPE_FIELDS: ReadonlySet<string> = new Set(['apiVersion', 'kind', 'metadata', 'type']);

/** The three informers behind the pull-secret cache. */
export class PullSecretInformers {
  readonly #informers: readonly RunningInformer[];
  readonly #waiters = new Set<() => void>();

  constructor(options: PullSecretInformersOptions) {
    const { cache, log } = options;
    const logProblems = (change: { object: string | undefined; problems: readonly string[] }): void => {
      if (change.problems.length > 0) log.warn({ object: change.object, problems: change.problems }, 'pull secret entries skipped');
    };
    const secretSpec = (type: string): InformerSpec<V1Secret> => ({
      name: `secrets type=${type}`,
      kind: 'Secret',
      path: '/api/v1/secrets',
      fieldSelector: `type=${type}`,
      listPage: (clientOf, continueToken) =>
        clientOf(CoreV1Api).listSecretForAllNamespaces({ fieldSelector: `type=${type}`, limit: options.pageSize ?? DEFAULT_PAGE_SIZE, _continue: continueToken }),
      upsert: (secret) => {
        logProblems(cache.upsertSecret(secret));
        stripSecret(secret);
      },
      remove: (secret) => { cache.deleteSecret(secret); },
    });
    const serviceAccountSpec: InformerSpec<V1ServiceAccount> = {
      name: 'serviceaccounts',
      kind: 'ServiceAccount',
      path: '/api/v1/serviceaccounts',
      fieldSelector: undefined,
      listPage: (clientOf, continueToken) =>
        clientOf(CoreV1Api).listServiceAccountForAllNamespaces({ limit: options.pageSize ?? DEFAULT_PAGE_SIZE, _continue: continueToken }),
      upsert: (account) => {
        cache.upsertServiceAccount(account);
        stripServiceAccount(account);
      },
      remove: (account) => { cache.deleteServiceAccount(account); },
    };
    const onSynced = (): void => { this.#notifyIfSynced(); };
    this.#informers = [
      new ManagedInformer(secretSpec(PULL_SECRET_TYPES.dockerConfigJson), options, onSynced),
      new ManagedInformer(secretSpec(PULL_SECRET_TYPES.dockercfg), options, onSynced),
      new ManagedInformer(serviceAccountSpec, options, onSynced),
    ];
  }

  /** Starts the informers; resolves once each has made its first attempt (synced or not). Never rejects. */
  async start(): Promise<void> {
    await Promise.all(this.#informers.map((informer) => informer.start()));
  }

  /** Stops the informers and any pending restart. */
  async stop(): Promise<void> {
    await Promise.all(this.#informers.map((informer) => informer.stop()));
  }

  /** True once all three informers have loaded their initial list (and stays true). */
  synced(): boolean {
    return this.#informers.every((informer) => informer.synced);
  }

  /** Resolves once synced(); rejects when `signal` aborts first. */
  waitForSync(signal?: AbortSignal): Promise<void> {
    if (this.synced()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        this.#waiters.delete(done);
        reject(signal?.reason instanceof Error ? signal.reason : new Error('gave up waiting for the pull-secret informers to sync'));
      };
      const done = (): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      if (signal?.aborted === true) {
        onAbort();
        return;
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.add(done);
    });
  }

  /** What the informers' own stores hold (names, types and remaining field names; never values). */
  heldObjects(): HeldObject[] {
    return this.#informers.flatMap((informer) => informer.held());
  }

  #notifyIfSynced(): void {
    if (!this.synced()) return;
    for (const waiter of this.#waiters) waiter();
    this.#waiters.clear();
  }
}

/** What PullSecretInformers needs of each informer, whatever it watches. */
export interface RunningInformer {
  readonly synced: boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
  held(): HeldObject[];
}

/** One ListWatch, restarted after failures. */
export class ManagedInformer<T extends KubernetesObject> implements RunningInformer {
  readonly #spec: InformerSpec<T>;
  readonly #options: InformerRunOptions;
  readonly #onSynced: () => void;
  readonly #informer: ListWatch<T>;
  #synced = false;
  /** Lists completed so far: a run that saw one more has its objects in the store. */
  #lists = 0;
  #stopped = true;
  readonly #restarts: Restarts;

  constructor(spec: InformerSpec<T>, options: InformerRunOptions, onSynced: () => void) {
    this.#spec = spec;
    this.#options = options;
    this.#restarts = new Restarts(options.restartDelayMs);
    this.#onSynced = onSynced;
    this.#informer = new ListWatch<T>(spec.path, new Watch(options.kubeConfig), () => this.#list(), false, undefined, spec.fieldSelector);
    this.#informer.on('add', spec.upsert);
    this.#informer.on('update', spec.upsert);
    this.#informer.on('delete', spec.remove);
    this.#informer.on('error', (error?: unknown) => { this.#failed(error); });
  }

  get synced(): boolean {
    return this.#synced;
  }

  async start(): Promise<void> {
    this.#stopped = false;
    await this.#run();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#restarts.cancel();
    await this.#informer.stop();
  }

  held(): HeldObject[] {
    return this.#informer.list().map((object) => ({
      informer: this.#spec.name,
      kind: this.#spec.kind,
      namespace: object.metadata?.namespace ?? '',
      name: object.metadata?.name ?? '',
      type: typeOf(object),
      fields: Object.entries(object)
        .filter(([field, value]) => value !== undefined && !ENVELOPE_FIELDS.has(field))
        .map(([field]) => field),
    }));
  }

  async #run(): Promise<void> {
    if (this.#stopped) return;
    const listsBefore = this.#lists;
    try {
      // Resolves after the list (if one was needed) is in the store and the watch is open.
      await this.#informer.start();
    } catch (error) {
      this.#failed(error);
      return;
    }
    if (this.#lists > listsBefore && !this.#synced) {
      this.#synced = true;
      this.#options.log.info({ informer: this.#spec.name, objects: this.#informer.list().length }, 'informer synced');
      this.#onSynced();
    }
  }

  /** The initial list (and any relist), page by page, as one list at the first page's resourceVersion. */
  async #list(): Promise<KubernetesListObject<T>> {
    const timeoutMs = this.#options.listTimeoutMs ?? DEFAULT_LIST_TIMEOUT_MS;
    const { items, resourceVersion } = await listAllPages(async (continueToken) => {
      const signal = AbortSignal.timeout(timeoutMs);
      const page = await this.#spec.listPage((Api) => apiClient(this.#options.kubeConfig, Api, signal), continueToken);
      return { items: page.items, resourceVersion: page.metadata?.resourceVersion ?? '', next: page.metadata?._continue };
    });
    this.#lists += 1;
    const metadata: V1ListMeta = { resourceVersion };
    return { metadata, items };
  }

  #failed(error: unknown): void {
    // Stopping aborts the watch, which client-node reports as an error too.
    if (this.#stopped || this.#restarts.pending) return;
    const delayMs = this.#restarts.backoff();
    this.#options.log.warn({ informer: this.#spec.name, err: describeKubeError(error), retryInMs: delayMs, synced: this.#synced }, 'informer failed; restarting');
    this.#restarts.after(delayMs, () => void this.#run());
  }
}

function typeOf(object: KubernetesObject): string | undefined {
  return 'type' in object && typeof object.type === 'string' ? object.type : undefined;
}

/*
 * The strip functions set fields to undefined and replace metadata rather than delete
 * properties: V8 turns an object that loses properties into a dictionary, larger per
 * object, and the stores hold tens of thousands of them (bench/README.md).
 */

/** Drops from an informer's stored Secret everything the cache does not need. */
function stripSecret(secret: V1Secret): void {
  secret.data = undefined;
  secret.stringData = undefined;
  stripMetadata(secret);
}

/** Drops from an informer's stored ServiceAccount everything but its imagePullSecrets. */
function stripServiceAccount(account: V1ServiceAccount): void {
  account.secrets = undefined;
  account.automountServiceAccountToken = undefined;
  stripMetadata(account);
}

/** Keeps of an informer's stored object's metadata only its name, namespace, uid and resourceVersion. */
export function stripMetadata(object: KubernetesObject): void {
  const metadata = object.metadata;
  if (metadata === undefined) return;
  object.metadata = { name: metadata.name, namespace: metadata.namespace, uid: metadata.uid, resourceVersion: metadata.resourceVersion };
}
