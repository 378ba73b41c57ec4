/**
 * A watched cache of every ImageSet, so an admission reads memory instead of
 * making a request. One list-then-watch informer (client-node's ListWatch),
 * restarted after failures like the pull-secret informers (kube/informers.ts).
 *
 * When the ImageSet CRD is not installed (the list answers 404), or the webhook
 * may not list ImageSets (403), it says so in its log, counts as synced with no
 * ImageSets, and looks again every `absentRecheckMs`: readiness must not wait for
 * a resource that may never exist, or strict namespaces would stop creating Pods.
 */
import { ApiException, CustomObjectsApi, ListWatch, Watch } from '@kubernetes/client-node';
import type { KubeConfig, KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import { apiClient } from '../kube/api.js';
import { describeKubeError } from '../kube/describe.js';
import type { KubeLogger } from '../kube/informers.js';
import { DEFAULT_LIST_TIMEOUT_MS, DEFAULT_PAGE_SIZE, listAllPages, Restarts, type ListPage, type RestartDelays } from '../kube/restarts.js';
import { arrayOf, isRecord, member } from '../json.js';
import { ImageSetCatalog } from './catalog.js';
import { parseImageSet } from './parse.js';
import { IMAGESET_CRD, IMAGESET_GROUP, IMAGESET_PLURAL, IMAGESET_VERSION, type ImageSetConflict } from './types.js';

export interface ImageSetInformerOptions {
  readonly kubeConfig: KubeConfig;
  readonly log: KubeLogger;
  /** First delay before restarting after a failure, and the most it grows to (default 1 s and 30 s). */
  readonly restartDelayMs?: RestartDelays;
  /** How often to look again for a CRD that is not installed, or a permission not granted (default 30 s). */
  readonly absentRecheckMs?: number;
  /** Deadline of one list request (one page), in ms (default 60 s). */
  readonly listTimeoutMs?: number;
  /** Objects per list page (default 500). */
  readonly pageSize?: number;
  /** Called after the catalog changed (coalesced: once per burst of events). Must not throw. */
  readonly onChange?: (catalog: ImageSetCatalog) => void;
}

/** Where the informer is: not yet listed, listed (and watching), or running without ImageSets. */
export type ImageSetInformerState = 'starting' | 'synced' | 'absent';

const PATH = `/apis/${IMAGESET_GROUP}/${IMAGESET_VERSION}/${IMAGESET_PLURAL}`;
const DEFAULT_ABSENT_RECHECK_MS = 30_000;
/** List answers that mean "no ImageSets here", rather than "try again soon". */
const ABSENT_STATUS: ReadonlySet<number> = new Set([403, 404]);

/** The informer behind the webhook's ImageSet lookups. */
export class ImageSetInformer {
  readonly #options: ImageSetInformerOptions;
  #informer: ListWatch<KubernetesObject>;
  #state: ImageSetInformerState = 'starting';
  #catalog = ImageSetCatalog.empty();
  #dirty = false;
  #notify: NodeJS.Immediate | undefined;
  #loggedConflicts = new Set<string>();
  #stopped = true;
  readonly #restarts: Restarts;

  constructor(options: ImageSetInformerOptions) {
    this.#options = options;
    this.#restarts = new Restarts(options.restartDelayMs);
    this.#informer = this.#newInformer();
  }

  get state(): ImageSetInformerState {
    return this.#state;
  }

  /** True once ImageSets have been listed, or found not to be there (and stays true). */
  synced(): boolean {
    return this.#state !== 'starting';
  }

  /** The current catalog: empty until synced and while the CRD is absent. */
  catalog(): ImageSetCatalog {
    if (this.#dirty) this.#rebuild();
    return this.#catalog;
  }

  /** The ImageSet objects as stored (with resourceVersion and status), for the status writer. */
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
    if (this.#notify !== undefined) clearImmediate(this.#notify);
    this.#notify = undefined;
    await this.#informer.stop();
  }

  /** A ListWatch with an empty store: the first start lists. */
  #newInformer(): ListWatch<KubernetesObject> {
    const informer = new ListWatch<KubernetesObject>(PATH, new Watch(this.#options.kubeConfig), () => this.#list(), false);
    const changed = (): void => { this.#changed(); };
    informer.on('add', changed);
    informer.on('update', changed);
    informer.on('delete', changed);
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
    const page = async (continueToken: string | undefined): Promise<ListPage<KubernetesObject>> => {
      const api = apiClient(this.#options.kubeConfig, CustomObjectsApi, AbortSignal.timeout(timeoutMs));
      const body: unknown = await api.listClusterCustomObject({ group: IMAGESET_GROUP, version: IMAGESET_VERSION, plural: IMAGESET_PLURAL, limit, _continue: continueToken });
      const metadata = member(body, 'metadata');
      const resourceVersion = member(metadata, 'resourceVersion');
      const next = member(metadata, 'continue');
      return {
        items: arrayOf(member(body, 'items')).filter(isKubernetesObject),
        resourceVersion: typeof resourceVersion === 'string' ? resourceVersion : '',
        next: typeof next === 'string' && next !== '' ? next : undefined,
      };
    };
    const { items, resourceVersion } = await listAllPages(page);
    this.#listed(items.length);
    return { metadata: { resourceVersion }, items };
  }

  #listed(count: number): void {
    const before = this.#state;
    this.#state = 'synced';
    this.#changed();
    if (before === 'synced') return;
    this.#options.log.info({ informer: IMAGESET_PLURAL, objects: count }, before === 'absent' ? `ImageSets found (${IMAGESET_CRD}): using them from now on` : 'informer synced');
  }

  #changed(): void {
    this.#dirty = true;
    this.#notify ??= setImmediate(() => {
      this.#notify = undefined;
      const catalog = this.catalog();
      this.#options.onChange?.(catalog);
    });
  }

  #rebuild(): void {
    this.#dirty = false;
    const sets = this.objects().map(parseImageSet);
    this.#catalog = ImageSetCatalog.of(sets);
    this.#logConflicts(this.#catalog.conflicts());
    for (const set of sets) {
      if (set.invalid.length > 0) this.#options.log.warn({ imageSet: set.name, invalid: set.invalid.slice(0, 10) }, 'ImageSet entries ignored');
    }
  }

  /** Each conflict once, when it appears: the ImageSets' status repeats it for as long as it lasts. */
  #logConflicts(conflicts: readonly ImageSetConflict[]): void {
    const current = new Set<string>();
    for (const conflict of conflicts) {
      const key = JSON.stringify(conflict);
      current.add(key);
      if (this.#loggedConflicts.has(key)) continue;
      this.#options.log.warn({ ...conflict }, `ImageSets give different digests for ${conflict.image}: not pinned from ImageSets until they agree`);
    }
    this.#loggedConflicts = current;
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
    this.#options.log.warn({ informer: IMAGESET_PLURAL, err: describeKubeError(error), retryInMs: delayMs, synced: this.synced() }, 'informer failed; restarting');
    this.#restarts.after(delayMs, () => void this.#run());
  }

  #absent(status: number, error: unknown): void {
    const recheckMs = this.#options.absentRecheckMs ?? DEFAULT_ABSENT_RECHECK_MS;
    if (this.#state !== 'absent') {
      const why = status === 404
        ? `the ImageSet CRD (${IMAGESET_CRD}) is not installed`
        : `not allowed to list ImageSets (${describeKubeError(error)}); grant get, list, watch on ${IMAGESET_CRD}`;
      const log = status === 404 ? this.#options.log.warn.bind(this.#options.log) : this.#options.log.error.bind(this.#options.log);
      log({ informer: IMAGESET_PLURAL, recheckInMs: recheckMs }, `${why}: pinning without ImageSets, looking again every ${Math.round(recheckMs / 1000)}s`);
      this.#state = 'absent';
      this.#changed();
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

function isKubernetesObject(value: unknown): value is KubernetesObject {
  return isRecord(member(value, 'metadata'));
}
