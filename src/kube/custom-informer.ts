/**
 * A watched cache of one custom resource, all namespaces or cluster-scoped: ImageSets,
 * PinRecords. One list-then-watch informer (client-node's ListWatch),
 * restarted after failures like the pull-secret informers (informers.ts).
 *
 * When the CRD is not installed (the list answers 404), or the webhook may not list it
 * (403), it says so in its log, counts as synced with no objects, and looks again every
 * `absentRecheckMs`: readiness must not wait for a resource that may never exist, or
 * strict namespaces would stop creating Pods.
 */
import { ApiException, CustomObjectsApi, ListWatch, Watch } from '@kubernetes/client-node';
import type { KubeConfig, KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import { apiClient } from './api.js';
import { describeKubeError } from './describe.js';
import type { KubeLogger } from './informers.js';
import { DEFAULT_LIST_TIMEOUT_MS, DEFAULT_PAGE_SIZE, listAllPages, Restarts, type ListPage, type RestartDelays } from './restarts.js';
import { arrayOf, isRecord, member } from '../json.js';

/** A custom resource, as its CRD names it. */
export interface CustomResource {
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  /** Its kind, as the log names its CRD, e.g. `ImageSet`. */
  readonly kind: string;
  /** What the log calls its objects, e.g. `ImageSets`. */
  readonly what: string;
  /** What the webhook does without them, for the log, e.g. `pinning without ImageSets`. */
  readonly without: string;
}

export interface CustomInformerOptions {
  readonly kubeConfig: KubeConfig;
  readonly log: KubeLogger;
  readonly resource: CustomResource;
  /** First delay before restarting after a failure, and the most it grows to (default 1 s and 30 s). */
  readonly restartDelayMs?: RestartDelays | undefined;
  /** How often to look again for a CRD that is not installed, or a permission not granted (default 30 s). */
  readonly absentRecheckMs?: number | undefined;
  /** Deadline of one list request (one page), in ms (default 60 s). */
  readonly listTimeoutMs?: number | undefined;
  /** Objects per list page (default 500). */
  readonly pageSize?: number | undefined;
  /**
   * Trims an object in place to what `upsert` and the store need, as each list page arrives (so a
   * list's peak does not hold every page's full objects) and before `upsert` for a watched one.
   * Must not throw. Default: drops `metadata.managedFields`, which nothing here reads.
   */
  readonly project?: ((object: KubernetesObject) => void) | undefined;
  /** An object added or changed (projected already); may strip it further in place (the store keeps what is left). Must not throw. */
  readonly upsert: (object: KubernetesObject) => void;
  /** An object deleted. Must not throw. */
  readonly remove: (object: KubernetesObject) => void;
  /** The CRD went away (or access to it): forget every object; a new list adds them again. Must not throw. */
  readonly reset: () => void;
}

/** Where the informer is: not yet listed, listed (and watching), or running without the resource. */
export type CustomInformerState = 'starting' | 'synced' | 'absent';

const DEFAULT_ABSENT_RECHECK_MS = 30_000;
/** List answers that mean "not here", rather than "try again soon". */
const ABSENT_STATUS: ReadonlySet<number> = new Set([403, 404]);

/** One custom resource, listed then watched, with its absence tolerated. */
export class CustomInformer {
  readonly #options: CustomInformerOptions;
  readonly #path: string;
  readonly #crd: string;
  #informer: ListWatch<KubernetesObject>;
  #state: CustomInformerState = 'starting';
  #stopped = true;
  readonly #restarts: Restarts;
  readonly #project: (object: KubernetesObject) => void;

  constructor(options: CustomInformerOptions) {
    this.#options = options;
    this.#project = options.project ?? dropManagedFields;
    const { group, version, plural } = options.resource;
    this.#path = `/apis/${group}/${version}/${plural}`;
    this.#crd = `${plural}.${group}`;
    this.#restarts = new Restarts(options.restartDelayMs);
    this.#informer = this.#newInformer();
  }

  get state(): CustomInformerState {
    return this.#state;
  }

  /** True once the resource has been listed, or found not to be there (and stays true). */
  synced(): boolean {
    return this.#state !== 'starting';
  }

  /** The objects as the store holds them (after `upsert` stripped them); none unless synced. */
  objects(): KubernetesObject[] {
    return this.#state === 'synced' ? [...this.#informer.list()] : [];
  }

  /** Starts the informer; resolves after its first attempt (synced or not). Never rejects. */
  async start(): Promise<void> {
    this.#stopped = false;
    await this.#run();
  }

  /** Stops the informer and any pending restart. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#restarts.cancel();
    await this.#informer.stop();
  }

  /** A ListWatch with an empty store: the first start lists. */
  #newInformer(): ListWatch<KubernetesObject> {
    const informer = new ListWatch<KubernetesObject>(this.#path, new Watch(this.#options.kubeConfig), () => this.#list(), false);
    // Listed objects were projected page by page already; projecting again leaves them as they are.
    const upsert = (object: KubernetesObject): void => {
      this.#project(object);
      this.#options.upsert(object);
    };
    informer.on('add', upsert);
    informer.on('update', upsert);
    informer.on('delete', this.#options.remove);
    informer.on('error', (error?: unknown) => {
      if (informer === this.#informer) this.#failed(error);
    });
    return informer;
  }

  async #run(): Promise<void> {
    if (this.#stopped) return;
    try {
      // Resolves after the list (when one was needed) is in the store and the watch is open;
      // a failed list is reported through 'error', not by rejecting.
      await this.#informer.start();
    } catch (error) {
      this.#failed(error);
    }
  }

  /** The list (and any relist), page by page, as one list at the first page's resourceVersion. */
  async #list(): Promise<KubernetesListObject<KubernetesObject>> {
    const timeoutMs = this.#options.listTimeoutMs ?? DEFAULT_LIST_TIMEOUT_MS;
    const limit = this.#options.pageSize ?? DEFAULT_PAGE_SIZE;
    const { group, version, plural } = this.#options.resource;
    const page = async (continueToken: string | undefined): Promise<ListPage<KubernetesObject>> => {
      const api = apiClient(this.#options.kubeConfig, CustomObjectsApi, AbortSignal.timeout(timeoutMs));
      const body: unknown = await api.listClusterCustomObject({ group, version, plural, limit, _continue: continueToken });
      const metadata = member(body, 'metadata');
      const resourceVersion = member(metadata, 'resourceVersion');
      const next = member(metadata, 'continue');
      return {
        items: arrayOf(member(body, 'items')).filter(isKubernetesObject),
        resourceVersion: typeof resourceVersion === 'string' ? resourceVersion : '',
        next: typeof next === 'string' && next !== '' ? next : undefined,
      };
    };
    const { items, resourceVersion } = await listAllPages(page, this.#project);
    this.#listed(items.length);
    return { metadata: { resourceVersion }, items };
  }

  #listed(count: number): void {
    const before = this.#state;
    this.#state = 'synced';
    if (before === 'synced') return;
    const { what } = this.#options.resource;
    this.#options.log.info({ informer: this.#options.resource.plural, objects: count }, before === 'absent' ? `${what} found (${this.#crd}): using them from now on` : 'informer synced');
  }

  #failed(error: unknown): void {
    // Stopping aborts the watch, which client-node reports as an error too.
    if (this.#stopped || this.#restarts.pending) return;
    const status = httpStatus(error);
    if (status !== undefined && ABSENT_STATUS.has(status)) {
      this.#absent(status, error);
      return;
    }
    const delayMs = this.#restarts.backoff();
    this.#options.log.warn({ informer: this.#options.resource.plural, err: describeKubeError(error), retryInMs: delayMs, synced: this.synced() }, 'informer failed; restarting');
    this.#restarts.after(delayMs, () => void this.#run());
  }

  #absent(status: number, error: unknown): void {
    const recheckMs = this.#options.absentRecheckMs ?? DEFAULT_ABSENT_RECHECK_MS;
    if (this.#state !== 'absent') {
      const { kind, what, without } = this.#options.resource;
      const why = status === 404
        ? `the ${kind} CRD (${this.#crd}) is not installed`
        : `not allowed to list ${what} (${describeKubeError(error)}); grant get, list, watch on ${this.#crd}`;
      const log = status === 404 ? this.#options.log.warn.bind(this.#options.log) : this.#options.log.error.bind(this.#options.log);
      log({ informer: this.#options.resource.plural, recheckInMs: recheckMs }, `${why}: ${without}, looking again every ${Math.round(recheckMs / 1000)}s`);
      this.#state = 'absent';
      this.#options.reset();
      // The CRD may have been removed while watched: start over with a list, not a watch from an old resourceVersion.
      const previous = this.#informer;
      this.#informer = this.#newInformer();
      void previous.stop();
    }
    this.#restarts.after(recheckMs, () => void this.#run());
  }
}

function httpStatus(error: unknown): number | undefined {
  if (error instanceof ApiException) return error.code;
  const status = member(error, 'statusCode');
  return typeof status === 'number' ? status : undefined;
}

/** The default projection: managedFields are often the larger part of an object, and nothing here reads them. */
function dropManagedFields(object: KubernetesObject): void {
  if (object.metadata !== undefined) Reflect.deleteProperty(object.metadata, 'managedFields');
}

function isKubernetesObject(value: unknown): value is KubernetesObject {
  return isRecord(member(value, 'metadata'));
}
