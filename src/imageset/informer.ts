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
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { CustomInformer, type CustomInformerState } from '../kube/custom-informer.js';
import type { KubeLogger } from '../kube/informers.js';
import type { RestartDelays } from '../kube/restarts.js';
import { ImageSetCatalog } from './catalog.js';
import { parseImageSet } from './parse.js';
import { IMAGESET_GROUP, IMAGESET_PLURAL, IMAGESET_VERSION, type ImageSetConflict } from './types.js';

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
export type ImageSetInformerState = CustomInformerState;

/** The informer behind the webhook's ImageSet lookups. */
export class ImageSetInformer {
  readonly #options: ImageSetInformerOptions;
  readonly #informer: CustomInformer;
  #catalog = ImageSetCatalog.empty();
  #dirty = false;
  #notify: NodeJS.Immediate | undefined;
  #loggedConflicts = new Set<string>();

  constructor(options: ImageSetInformerOptions) {
    this.#options = options;
    const changed = (): void => { this.#changed(); };
    this.#informer = new CustomInformer({
      kubeConfig: options.kubeConfig,
      log: options.log,
      resource: { group: IMAGESET_GROUP, version: IMAGESET_VERSION, plural: IMAGESET_PLURAL, kind: 'ImageSet', what: 'ImageSets', without: 'pinning without ImageSets' },
      restartDelayMs: options.restartDelayMs,
      absentRecheckMs: options.absentRecheckMs,
      listTimeoutMs: options.listTimeoutMs,
      pageSize: options.pageSize,
      upsert: changed,
      remove: changed,
      reset: changed,
    });
  }

  get state(): ImageSetInformerState {
    return this.#informer.state;
  }

  /** True once ImageSets have been listed, or found not to be there (and stays true). */
  synced(): boolean {
    return this.#informer.synced();
  }

  /** The current catalog: empty until synced and while the CRD is absent. */
  catalog(): ImageSetCatalog {
    if (this.#dirty) this.#rebuild();
    return this.#catalog;
  }

  /** The ImageSet objects as stored (with resourceVersion and status), for the status writer. */
  objects(): KubernetesObject[] {
    return this.#informer.objects();
  }

  /** Starts the informer; resolves after its first attempt (synced or not). Never rejects. */
  async start(): Promise<void> {
    await this.#informer.start();
    // A first list that found none, or the CRD absent: the catalog is empty, and listeners are told.
    this.#changed();
  }

  /** Stops the informer and any pending restart. */
  async stop(): Promise<void> {
    if (this.#notify !== undefined) clearImmediate(this.#notify);
    this.#notify = undefined;
    await this.#informer.stop();
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
}
