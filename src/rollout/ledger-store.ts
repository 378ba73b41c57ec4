/**
 * The tag ledger shared by the webhook's replicas (docs/rollouts.md): LedgerEntries of
 * every namespace, watched into an index bounded by bytes, answering tags another
 * replica verified within the cache TTL, and written only when a registry answered and
 * the rules of ledger.ts say so. Every update carries the resourceVersion read: the
 * replica that loses a race drops its write, so a move is reported (Event, counter) by
 * the one replica whose update succeeded. Writes never hold up an admission.
 */
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { LRUCache } from 'lru-cache';
import { CustomInformer } from '../kube/custom-informer.js';
import { describeKubeError } from '../kube/describe.js';
import { warningEvent, type EventSink } from '../kube/events.js';
import { stripMetadata, type KubeLogger } from '../kube/informers.js';
import type { RestartDelays } from '../kube/restarts.js';
import type { LedgerAnswer, LedgerObservation, TagLedger } from '../resolve/index.js';
import { isConflict, RolloutApi } from './api.js';
import {
  answeringEntry,
  entryNamespace,
  entryObject,
  ExpectedMoves,
  leastRecentlyVerified,
  ledgerName,
  nextSpec,
  parseEntry,
  plannedWrite,
  type StoredEntry,
} from './ledger.js';
import { LEDGER_ENTRY_KIND, LEDGER_ENTRY_PLURAL, ROLLOUT_API_VERSION, ROLLOUT_GROUP, ROLLOUT_VERSION } from './types.js';

/** What a write did, for `digest_pinner_ledger_writes_total`. */
export type LedgerOperation = 'created' | 'verified' | 'moved' | 'evicted' | 'conflict' | 'failed';

export const TAG_MOVED_REASON = 'TagMoved';
export const TAG_MOVED_ACTION = 'ResolveTag';
export const DEFAULT_LEDGER_CACHE_BYTES = 16 * 1024 * 1024;
/** What an index entry costs besides its strings: the objects and the map's slot. */
const ENTRY_BYTES = 300;
const HISTORY_BYTES = 150;

export interface LedgerStoreOptions {
  readonly kubeConfig: KubeConfig;
  readonly log: KubeLogger;
  /** Where cluster-wide entries live (`--ledger-namespace`). */
  readonly clusterNamespace: string;
  /** An entry answers while verified within this (`--cache-ttl`). */
  readonly cacheTtlMs: number;
  /** A registry answer naming the entry's digest is written once the entry was verified this long ago (`--ledger-verify-interval`). */
  readonly verifyIntervalMs: number;
  /** Most entries over all namespaces (`--ledger-max-entries`); past it the least recently verified are deleted. */
  readonly maxEntries: number;
  /** Tags expected to move (`--tag-moves-ignore`): counted, no Event. */
  readonly expectedMoves: ExpectedMoves;
  /** Where TagMoved Events go; undefined: none recorded. */
  readonly events: EventSink | undefined;
  /** This replica in the Events it records. */
  readonly reportingInstance: string;
  /** Workloads whose records pin `digest` for `image`, in `namespace` or (undefined) any, for the TagMoved note. */
  readonly pinnedBy?: ((namespace: string | undefined, image: string, digest: string) => readonly string[]) | undefined;
  readonly onWrite?: ((operation: LedgerOperation) => void) | undefined;
  /** A move written by this replica: the registry's host and whether its tag is expected to move. */
  readonly onMove?: ((domain: string, expected: boolean) => void) | undefined;
  /** Most bytes the index holds, as entryBytes estimates them (default 16 MiB). */
  readonly maxBytes?: number | undefined;
  /** Deadline of one request (default 5 s). */
  readonly requestTimeoutMs?: number | undefined;
  readonly now?: (() => number) | undefined;
  readonly absentRecheckMs?: number | undefined;
  readonly restartDelayMs?: RestartDelays | undefined;
}

/** LedgerEntries, as the resolver asks and tells them. */
export class LedgerStore implements TagLedger {
  readonly #options: LedgerStoreOptions;
  readonly #api: RolloutApi;
  readonly #informer: CustomInformer;
  readonly #index: LRUCache<string, StoredEntry>;
  /** Entries this replica is writing now: a second answer for one waits for the watch instead. */
  readonly #writing = new Set<string>();
  readonly #inFlight = new Set<Promise<unknown>>();
  readonly #now: () => number;

  constructor(options: LedgerStoreOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#api = new RolloutApi(options.kubeConfig, options.requestTimeoutMs);
    this.#index = new LRUCache<string, StoredEntry>({
      // Room above the bound for entries other replicas add before one of them evicts.
      max: Math.max(1, options.maxEntries) * 2,
      maxSize: options.maxBytes ?? DEFAULT_LEDGER_CACHE_BYTES,
      sizeCalculation: entryBytes,
    });
    this.#informer = new CustomInformer({
      kubeConfig: options.kubeConfig,
      log: options.log,
      resource: { group: ROLLOUT_GROUP, version: ROLLOUT_VERSION, plural: LEDGER_ENTRY_PLURAL, kind: LEDGER_ENTRY_KIND, what: 'LedgerEntries', without: 'every replica asking registries on its own' },
      absentRecheckMs: options.absentRecheckMs,
      restartDelayMs: options.restartDelayMs,
      // The index reads the spec and these four metadata fields: the rest goes as each list page arrives.
      project: stripMetadata,
      upsert: (object) => {
        this.#held(parseEntry(object));
        strip(object);
      },
      remove: (object) => {
        const { namespace = '', name = '' } = object.metadata ?? {};
        this.#index.delete(indexKey(namespace, name));
      },
      reset: () => { this.#index.clear(); },
    });
  }

  /** True once entries were listed, or found absent (then admissions go on without them). */
  synced(): boolean {
    return this.#informer.synced();
  }

  /** Entries held in the index. */
  get size(): number {
    return this.#index.size;
  }

  async start(): Promise<void> {
    await this.#informer.start();
  }

  async stop(): Promise<void> {
    await this.#informer.stop();
    await this.drain();
  }

  /** Waits for the writes in flight (each bounded by the request timeout), e.g. at shutdown. */
  async drain(): Promise<void> {
    await Promise.all([...this.#inFlight]);
  }

  /** The entry held for `image` in `namespace`, if any. */
  entry(namespace: string, image: string): StoredEntry | undefined {
    const held = this.#index.get(indexKey(namespace, ledgerName(image)));
    return held?.image === image ? held : undefined;
  }

  answer(image: string, namespace: string | undefined): string | undefined {
    return this.#answering(image, namespace, this.#options.cacheTtlMs)?.digest;
  }

  fallback(image: string, namespace: string | undefined, withinMs: number): LedgerAnswer | undefined {
    const entry = this.#answering(image, namespace, withinMs);
    return entry === undefined ? undefined : { digest: entry.digest, verifiedAt: entry.verifiedAt };
  }

  #answering(image: string, namespace: string | undefined, withinMs: number): StoredEntry | undefined {
    return answeringEntry((candidate) => this.entry(candidate, image), namespace, this.#options.clusterNamespace, { now: this.#now(), withinMs });
  }

  observe(observation: LedgerObservation): void {
    const pending = this.write(observation);
    this.#inFlight.add(pending);
    void pending.finally(() => this.#inFlight.delete(pending));
  }

  /** Writes a registry's answer when the rules say so; what it did (undefined: nothing to write). Never rejects. */
  async write(observation: LedgerObservation): Promise<LedgerOperation | undefined> {
    if (this.#informer.state !== 'synced') return undefined;
    const namespace = entryNamespace(observation.tenant, this.#options.clusterNamespace);
    const current = this.entry(namespace, observation.image);
    const now = this.#now();
    const planned = plannedWrite(current, observation.digest, now, this.#options.verifyIntervalMs);
    const key = indexKey(namespace, ledgerName(observation.image));
    if (planned === undefined || this.#writing.has(key)) return undefined;
    this.#writing.add(key);
    const spec = nextSpec(current, observation.image, observation.digest, now);
    const signal = AbortSignal.timeout(this.#options.requestTimeoutMs ?? 5_000);
    try {
      const written = current === undefined
        ? await this.#api.createEntry(namespace, entryObject(namespace, spec), signal)
        : await this.#api.replaceEntry({ namespace, name: current.name }, entryObject(namespace, spec, current.resourceVersion), signal);
      this.#held(parseEntry(written));
      this.#count(planned);
      if (current !== undefined && planned === 'moved') this.#moved(current, observation);
      if (planned === 'created') await this.#evict(signal);
      return planned;
    } catch (error) {
      // 409: another replica wrote first; its version arrives through the watch.
      const operation = isConflict(error) ? 'conflict' : 'failed';
      if (operation === 'failed') this.#options.log.warn({ namespace, image: observation.image, err: describeKubeError(error) }, 'LedgerEntry not written');
      this.#count(operation);
      return operation;
    } finally {
      this.#writing.delete(key);
    }
  }

  /** Reports a move this replica wrote: counted always, an Event unless the tag is expected to move. */
  #moved(before: StoredEntry, observation: LedgerObservation): void {
    const expected = this.#options.expectedMoves.expected(observation.image);
    this.#options.onMove?.(observation.domain, expected);
    const { events } = this.#options;
    if (expected || events === undefined) return;
    const tenant = before.namespace === this.#options.clusterNamespace ? undefined : before.namespace;
    const workloads = this.#options.pinnedBy?.(tenant, observation.image, before.digest) ?? [];
    const note = `${observation.image} moved from ${before.digest} to ${observation.digest}` + (workloads.length === 0 ? '' : `; pinned to the old digest: ${workloads.join(', ')}`);
    const event = warningEvent({
      regarding: { apiVersion: ROLLOUT_API_VERSION, kind: LEDGER_ENTRY_KIND, namespace: before.namespace, name: before.name },
      reason: TAG_MOVED_REASON,
      action: TAG_MOVED_ACTION,
      note,
    }, { reportingInstance: this.#options.reportingInstance, now: new Date(this.#now()) });
    const recorded = events.create(before.namespace, event, AbortSignal.timeout(this.#options.requestTimeoutMs ?? 5_000)).catch((error: unknown) => {
      this.#options.log.warn({ namespace: before.namespace, entry: before.name, err: describeKubeError(error) }, 'TagMoved Event not recorded');
    });
    this.#inFlight.add(recorded);
    void recorded.finally(() => this.#inFlight.delete(recorded));
  }

  /** Past the bound, deletes the least recently verified entries (each only while still at the version read). */
  async #evict(signal: AbortSignal): Promise<void> {
    const excess = this.#index.size - this.#options.maxEntries;
    for (const entry of leastRecentlyVerified(this.#index.values(), excess)) {
      try {
        await this.#api.deleteEntry({ namespace: entry.namespace, name: entry.name }, entry.resourceVersion, signal);
        this.#index.delete(indexKey(entry.namespace, entry.name));
        this.#count('evicted');
      } catch (error) {
        // 409: verified again meanwhile, so no longer the least recent.
        if (!isConflict(error)) this.#options.log.warn({ namespace: entry.namespace, entry: entry.name, err: describeKubeError(error) }, 'LedgerEntry not evicted');
      }
    }
  }

  #held(entry: StoredEntry | undefined): void {
    if (entry === undefined) return;
    const key = indexKey(entry.namespace, entry.name);
    // The watch may bring an older version after this replica's own write: keep the newer verification.
    const before = this.#index.get(key);
    if (before !== undefined && before.digest === entry.digest && before.verifiedAt > entry.verifiedAt) return;
    this.#index.set(key, entry);
  }

  #count(operation: LedgerOperation): void {
    this.#options.onWrite?.(operation);
  }
}

/** An estimate of what one entry holds in memory: its strings (two bytes a character) and a fixed cost per object. */
export function entryBytes(entry: StoredEntry): number {
  const strings = entry.namespace.length + entry.name.length + entry.resourceVersion.length + entry.image.length + entry.digest.length;
  return ENTRY_BYTES + 2 * strings + entry.history.reduce((bytes, item) => bytes + HISTORY_BYTES + 2 * item.digest.length, 0);
}

function indexKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** The informer's own store keeps what the projection left of metadata (stripMetadata): the index holds the spec, parsed. */
function strip(object: KubernetesObject): void {
  Reflect.deleteProperty(object, 'spec');
}
