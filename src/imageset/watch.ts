/**
 * What `serve` runs for ImageSets: the informer, and, when status writing is on,
 * the Lease elector and the status writer of the replica that leads. The object
 * doubles as the admission's ImageSet source (lookup, authoritative).
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { KubeLogger } from '../kube/informers.js';
import type { RestartDelays } from '../kube/restarts.js';
import type { ImageRef } from '../reference/types.js';
import type { AuthoritativeRegistries } from './authoritative.js';
import { ImageSetInformer } from './informer.js';
import { LeaseElector } from './lease.js';
import { ImageSetStatusWriter } from './status-writer.js';
import type { ImageSetAnswer } from './types.js';

/** The Lease that elects the replica writing ImageSet status. */
export const STATUS_LEASE_NAME = 'digest-pinner-imageset-status';

export interface ImageSetWatchOptions {
  readonly kubeConfig: KubeConfig;
  readonly log: KubeLogger;
  readonly authoritative: AuthoritativeRegistries;
  /** Where the status Lease lives and who this replica is; undefined: never write status. */
  readonly lease: { readonly namespace: string; readonly identity: string; readonly name?: string } | undefined;
  /** See ImageSetInformerOptions. */
  readonly absentRecheckMs?: number;
  readonly restartDelayMs?: RestartDelays;
  /** Lease timings, for tests (defaults 15 s and 5 s). */
  readonly leaseDurationMs?: number;
  readonly renewEveryMs?: number;
}

/** ImageSets as an admission sees them: lookups from memory, and the authoritative registries. */
export class ImageSetWatch {
  readonly #informer: ImageSetInformer;
  readonly #authoritative: AuthoritativeRegistries;
  readonly #elector: LeaseElector | undefined;
  readonly #writer: ImageSetStatusWriter | undefined;

  constructor(options: ImageSetWatchOptions) {
    this.#authoritative = options.authoritative;
    const { kubeConfig, log, lease } = options;
    let writer: ImageSetStatusWriter | undefined;
    this.#informer = new ImageSetInformer({
      kubeConfig,
      log,
      absentRecheckMs: options.absentRecheckMs,
      restartDelayMs: options.restartDelayMs,
      onChange: () => { writer?.poke(); },
    });
    if (lease !== undefined) {
      const elector = new LeaseElector({
        kubeConfig,
        log,
        namespace: lease.namespace,
        name: lease.name ?? STATUS_LEASE_NAME,
        identity: lease.identity,
        leaseDurationMs: options.leaseDurationMs,
        renewEveryMs: options.renewEveryMs,
        onChange: (leading) => { if (leading) writer?.poke(); },
      });
      writer = new ImageSetStatusWriter({ kubeConfig, log, source: this.#informer, leading: () => elector.leading() });
      this.#elector = elector;
    }
    this.#writer = writer;
  }

  /** See ImageSetSource in the admission stage. */
  lookup(ref: ImageRef): ImageSetAnswer | undefined {
    return this.#informer.catalog().lookup(ref);
  }

  authoritative(ref: ImageRef): boolean {
    return this.#authoritative.covers(ref);
  }

  /** True once ImageSets were listed or found absent. */
  synced(): boolean {
    return this.#informer.synced();
  }

  get informer(): ImageSetInformer {
    return this.#informer;
  }

  /** Whether this replica writes ImageSet status now. */
  leading(): boolean {
    return this.#elector?.leading() ?? false;
  }

  /** Starts watching (and electing); never rejects. */
  async start(): Promise<void> {
    this.#elector?.start();
    this.#writer?.start();
    await this.#informer.start();
  }

  async stop(): Promise<void> {
    await this.#writer?.stop();
    await this.#elector?.stop();
    await this.#informer.stop();
  }
}
