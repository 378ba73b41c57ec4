/**
 * Writes each ImageSet's `status` (status.ts) from the replica that holds the
 * Lease, whenever the catalog changes and when it becomes the leader. Only
 * differences are written, with the resourceVersion read (a 409 is retried on
 * the next change or pass), through the `imagesets/status` subresource.
 */
import { ApiException, CustomObjectsApi, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { apiClient, DEFAULT_REQUEST_TIMEOUT_MS } from '../kube/api.js';
import { describeKubeError } from '../kube/describe.js';
import type { KubeLogger } from '../kube/informers.js';
import { member } from '../json.js';
import { parseImageSet } from './parse.js';
import type { ImageSetCatalog } from './catalog.js';
import { desiredStatus, statusUpToDate, withTransitionTimes } from './status.js';
import { IMAGESET_GROUP, IMAGESET_PLURAL, IMAGESET_VERSION } from './types.js';

export interface StatusWriterOptions {
  readonly kubeConfig: KubeConfig;
  readonly log: KubeLogger;
  /** The ImageSets as stored (resourceVersion, status) and the catalog built from them. */
  readonly source: { objects(): KubernetesObject[]; catalog(): ImageSetCatalog };
  /** Whether this replica is the one that writes. */
  readonly leading: () => boolean;
  /** Deadline of one write (default 5 s). */
  readonly requestTimeoutMs?: number;
  /** How often to go over every ImageSet again, to repair writes that failed (default 60 s). */
  readonly resyncEveryMs?: number;
}

const DEFAULT_RESYNC_MS = 60_000;

/** Brings ImageSet status up to date; never throws. */
export class ImageSetStatusWriter {
  readonly #options: StatusWriterOptions;
  #running: Promise<void> | undefined;
  #again = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: StatusWriterOptions) {
    this.#options = options;
  }

  /** Starts the periodic pass. */
  start(): void {
    this.#timer = setInterval(() => { this.poke(); }, this.#options.resyncEveryMs ?? DEFAULT_RESYNC_MS);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#again = false;
    await this.#running;
  }

  /** Something changed: write what differs, now or right after the pass under way. */
  poke(): void {
    if (!this.#options.leading()) return;
    if (this.#running !== undefined) {
      this.#again = true;
      return;
    }
    this.#running = this.#pass().finally(() => {
      this.#running = undefined;
      if (this.#again) {
        this.#again = false;
        this.poke();
      }
    });
  }

  /** Resolves when no pass is under way (for tests). */
  async idle(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
  }

  async #pass(): Promise<void> {
    const catalog = this.#options.source.catalog();
    for (const object of this.#options.source.objects()) {
      if (!this.#options.leading()) return;
      const set = parseImageSet(object);
      const stored = member(object, 'status');
      const desired = desiredStatus(set, catalog);
      if (statusUpToDate(desired, stored)) continue;
      await this.#write(object, withTransitionTimes(desired, stored, new Date()));
    }
  }

  async #write(object: KubernetesObject, status: object): Promise<void> {
    const name = object.metadata?.name ?? '';
    try {
      const api = apiClient(this.#options.kubeConfig, CustomObjectsApi, AbortSignal.timeout(this.#options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS));
      await api.replaceClusterCustomObjectStatus({ group: IMAGESET_GROUP, version: IMAGESET_VERSION, plural: IMAGESET_PLURAL, name, body: { ...object, status } });
    } catch (error) {
      // 409: changed since it was read; the watch brings the new version and another pass.
      if (error instanceof ApiException && error.code === 409) return;
      this.#options.log.warn({ imageSet: name, err: describeKubeError(error) }, 'ImageSet status not written');
    }
  }
}
