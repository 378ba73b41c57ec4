/**
 * The PinRecords of every namespace, watched into an index bounded by bytes, and the
 * writes an admission makes to them (docs/rollouts.md):
 *
 * - open: the revision's record from the index (no request); the revision's Pods
 *   listed (one request) only when the record is missing or holds provisional pins;
 * - settle: create the record under its deterministic name, or add pins with the
 *   resourceVersion read; when another replica wrote first (409), read its record
 *   (one request) and adopt its digests;
 * - after writing provisional pins, look at the revision's Pods again after
 *   `confirmDelayMs` and after the grace, confirming what they carry and removing
 *   what no Pod ever carried.
 *
 * Never on a dry run. A record that cannot be read or written in time leaves the Pod
 * pinned as before, with a warning.
 */
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { LRUCache } from 'lru-cache';
import { CustomInformer } from '../kube/custom-informer.js';
import { describeKubeError } from '../kube/describe.js';
import { stripMetadata, type KubeLogger } from '../kube/informers.js';
import type { RestartDelays } from '../kube/restarts.js';
import { member } from '../json.js';
import type { Deadline } from '../timeout.js';
import { isConflict, RolloutApi } from './api.js';
import { mergePins, parseRecord, pinsPatch, recordObject, recordView, sameRevision, siblingDigests, unlistedView, type FreshPin, type RecordView } from './record.js';
import { inRevision, podSelector, recordName, recordOwner, revisionOf } from './revision.js';
import type { PodAdmission, RecordedPin, RecordSession, RevisionRecords, Settled } from './session.js';
import { DEFAULT_GRACE_MS, PIN_RECORD_KIND, PIN_RECORD_PLURAL, pinKey, ROLLOUT_GROUP, ROLLOUT_VERSION, type Revision, type StoredRecord } from './types.js';

/** What happened, for metrics: per record created, per pin otherwise. */
export type RecordOperation = 'created' | 'conflict' | 'adopted' | 'added' | 'confirmed' | 'removed' | 'siblings' | 'failed';

export interface RecordStoreOptions {
  readonly kubeConfig: KubeConfig;
  readonly log: KubeLogger;
  /** How long a provisional pin no stored Pod carries is still adopted (default 60 s). */
  readonly graceMs?: number | undefined;
  /** When the writer first looks for the Pod its provisional pins were made for (default 5 s). */
  readonly confirmDelayMs?: number | undefined;
  /** Most bytes the index holds, as recordBytes estimates them (default 64 MiB). */
  readonly maxBytes?: number | undefined;
  /** Deadline of one request, besides the admission's own (default 5 s). */
  readonly requestTimeoutMs?: number | undefined;
  readonly onOperation?: ((operation: RecordOperation, count: number) => void) | undefined;
  readonly now?: (() => number) | undefined;
  readonly absentRecheckMs?: number | undefined;
  readonly restartDelayMs?: RestartDelays | undefined;
}

const DEFAULT_CONFIRM_DELAY_MS = 5_000;
export const DEFAULT_RECORD_CACHE_BYTES = 64 * 1024 * 1024;
/** Checks pending at once; past it, later Pods of the revision confirm its pins instead. */
const MAX_PENDING_CHECKS = 10_000;
/** What an index entry costs besides its strings: the objects and the map's slot. */
const RECORD_BYTES = 400;
const PIN_BYTES = 300;

/** PinRecords, as the admission reads and writes them. */
export class RecordStore implements RevisionRecords {
  readonly #options: RecordStoreOptions;
  readonly #api: RolloutApi;
  readonly #informer: CustomInformer;
  readonly #index: LRUCache<string, StoredRecord>;
  readonly #checks = new Map<string, NodeJS.Timeout>();
  readonly #now: () => number;
  #stopped = false;

  constructor(options: RecordStoreOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#api = new RolloutApi(options.kubeConfig, options.requestTimeoutMs);
    this.#index = new LRUCache<string, StoredRecord>({
      maxSize: options.maxBytes ?? DEFAULT_RECORD_CACHE_BYTES,
      sizeCalculation: recordBytes,
    });
    this.#informer = new CustomInformer({
      kubeConfig: options.kubeConfig,
      log: options.log,
      resource: { group: ROLLOUT_GROUP, version: ROLLOUT_VERSION, plural: PIN_RECORD_PLURAL, kind: PIN_RECORD_KIND, what: 'PinRecords', without: 'pinning each Pod on its own' },
      absentRecheckMs: options.absentRecheckMs,
      restartDelayMs: options.restartDelayMs,
      // The index reads the spec and these four metadata fields: the rest goes as each list page arrives.
      project: stripMetadata,
      upsert: (object) => {
        const record = parseRecord(object);
        if (record !== undefined) this.#index.set(indexKey(record.namespace, record.name), record);
        strip(object);
      },
      remove: (object) => {
        const { namespace = '', name = '' } = object.metadata ?? {};
        this.#index.delete(indexKey(namespace, name));
      },
      reset: () => { this.#index.clear(); },
    });
  }

  /** True once records were listed, or found absent (then admissions go on without them). */
  synced(): boolean {
    return this.#informer.synced();
  }

  /** Records held in the index. */
  get size(): number {
    return this.#index.size;
  }

  /** Bytes the index holds, as recordBytes estimates them. */
  get bytes(): number {
    return this.#index.calculatedSize;
  }

  /**
   * The revisions whose records pin `digest` for `image`, in `namespace` (undefined: every
   * namespace), as `ReplicaSet shop/web-5d8f7c9b4`; at most `limit`.
   */
  revisionsPinning(namespace: string | undefined, image: string, digest: string, limit: number): string[] {
    const found: string[] = [];
    for (const record of this.#index.values()) {
      if (found.length >= limit) break;
      if (namespace !== undefined && record.namespace !== namespace) continue;
      if ([...record.pins.values()].some((pin) => pin.image === image && pin.digest === digest)) found.push(`${record.revision.kind} ${record.namespace}/${record.revision.name}`);
    }
    return found;
  }

  async start(): Promise<void> {
    this.#stopped = false;
    await this.#informer.start();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const timer of this.#checks.values()) clearTimeout(timer);
    this.#checks.clear();
    await this.#informer.stop();
  }

  async open(pod: PodAdmission, deadline: Deadline): Promise<RecordSession | undefined> {
    if (this.#informer.state !== 'synced') return undefined;
    const revision = revisionOf(pod.object, pod.namespace);
    if (revision === undefined) return undefined;
    const name = recordName(revision);
    const held = this.#index.get(indexKey(revision.namespace, name));
    // A record of the same name but an earlier owner (deleted, not yet collected) is not this revision's.
    const stored = held !== undefined && sameRevision(held, revision) ? held : undefined;
    const selector = podSelector(revision, member(member(pod.object, 'metadata'), 'labels'));
    const pending = stored === undefined || [...stored.pins.values()].some((pin) => pin.confirmedAt === undefined);
    const pods = pending && selector !== undefined ? await this.#revisionPods(revision, selector, deadline.signal) : undefined;
    const view = pods === undefined ? unlistedView(stored) : recordView(stored, pods, this.#now(), this.#graceMs());
    return new Session(this, { revision, name, selector, stored, view, pods: pods ?? [], dryRun: pod.dryRun });
  }

  /** The revision's stored Pods; undefined when they could not be listed (the record is then taken as it stands). */
  async #revisionPods(revision: Revision, selector: string, signal: AbortSignal): Promise<readonly unknown[] | undefined> {
    try {
      const pods = await this.#api.listPods(revision.namespace, selector, signal);
      return pods.filter((pod) => inRevision(pod, revision));
    } catch (error) {
      this.#options.log.warn({ namespace: revision.namespace, revision: revision.name, err: describeKubeError(error) }, "revision's Pods not listed: its record's provisional pins are taken as they stand");
      return undefined;
    }
  }

  /** Writes an admission's pins; see Session.settle. */
  async settle(state: SessionState, fresh: readonly FreshPin[], signal: AbortSignal): Promise<Settled> {
    let current = state.stored;
    let winners: ReadonlyMap<string, string> = new Map();
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const merged = mergePins(current, state.view, fresh, this.#now());
      winners = merged.winners;
      if (merged.pins === undefined) return { winners, notes: [] };
      try {
        const written = current === undefined
          ? await this.#create(state.revision, merged.pins, signal)
          : await this.#patch(current, merged.pins, signal);
        if (!written) return { winners, notes: [] };
        this.#count(current === undefined ? 'created' : 'added', current === undefined ? 1 : merged.added);
        this.#count('confirmed', state.view.confirmed.length);
        this.#count('removed', state.view.expired.length);
        this.#scheduleChecks(state);
        return { winners, notes: [] };
      } catch (error) {
        if (!isConflict(error)) return this.#notWritten(state, winners, error);
        this.#count('conflict', 1);
        try {
          current = await this.#reread(state, signal);
        } catch (readError) {
          return this.#notWritten(state, winners, readError);
        }
      }
    }
    return { winners, notes: [] };
  }

  /** Creates the record; false when its owner is gone (then nothing is written). */
  async #create(revision: Revision, pins: Parameters<typeof recordObject>[2], signal: AbortSignal): Promise<boolean> {
    const owner = recordOwner(revision);
    const ownerUid = owner.kind === 'ControllerRevision' ? await this.#api.controllerRevisionUid(revision.namespace, owner.name, signal) : revision.uid;
    if (ownerUid === undefined) {
      this.#options.log.info({ namespace: revision.namespace, controllerRevision: owner.name }, 'no record written: the revision\'s ControllerRevision was not found');
      return false;
    }
    const created = parseRecord(await this.#api.create(revision.namespace, recordObject(revision, ownerUid, pins), signal));
    if (created !== undefined) this.#index.set(indexKey(created.namespace, created.name), created);
    return true;
  }

  async #patch(current: StoredRecord, pins: Parameters<typeof pinsPatch>[1], signal: AbortSignal): Promise<boolean> {
    const patched = parseRecord(await this.#api.patch(current, pinsPatch(current.resourceVersion, pins), signal));
    if (patched !== undefined) this.#index.set(indexKey(patched.namespace, patched.name), patched);
    return true;
  }

  /**
   * The record as stored now, after a conflict; one left by an earlier owner of the name is deleted first.
   * The revision's record is put back into the index: it was missing from it (dropped for the byte bound,
   * or not yet watched), and later Pods of the revision then read it there instead of paying this again.
   */
  async #reread(state: SessionState, signal: AbortSignal): Promise<StoredRecord | undefined> {
    const { revision, name } = state;
    const stored = parseRecord(await this.#api.get({ namespace: revision.namespace, name }, signal));
    if (stored === undefined) return undefined;
    if (sameRevision(stored, revision)) {
      this.#index.set(indexKey(stored.namespace, stored.name), stored);
      return stored;
    }
    await this.#api.delete({ namespace: revision.namespace, name }, { uid: stored.uid, resourceVersion: stored.resourceVersion }, signal);
    return undefined;
  }

  #notWritten(state: SessionState, winners: ReadonlyMap<string, string>, error: unknown): Settled {
    this.#count('failed', 1);
    const reason = describeKubeError(error);
    this.#options.log.warn({ namespace: state.revision.namespace, record: state.name, err: reason }, 'PinRecord not written');
    return { winners, notes: [`record ${state.name} of this revision not written (${reason}): its later Pods may pin other digests`] };
  }

  /** Looks at the revision's Pods after confirmDelayMs, and again after the grace for what is still provisional. */
  #scheduleChecks(state: SessionState): void {
    const { selector, revision, name } = state;
    if (selector === undefined || this.#stopped) return;
    const key = indexKey(revision.namespace, name);
    if (this.#checks.has(key) || this.#checks.size >= MAX_PENDING_CHECKS) return;
    const confirmDelayMs = this.#options.confirmDelayMs ?? DEFAULT_CONFIRM_DELAY_MS;
    const run = (delayMs: number, again: boolean): void => {
      const timer = setTimeout(() => {
        this.#checks.delete(key);
        void this.#check(revision, name, selector).then((pending) => {
          if (pending && again && !this.#stopped) run(this.#graceMs(), false);
        });
      }, delayMs);
      timer.unref();
      this.#checks.set(key, timer);
    };
    run(confirmDelayMs, true);
  }

  /** Confirms or removes a record's provisional pins by its revision's Pods; true while some stay provisional. */
  async #check(revision: Revision, name: string, selector: string): Promise<boolean> {
    const signal = AbortSignal.timeout(this.#options.requestTimeoutMs ?? 5_000);
    const current = this.#index.get(indexKey(revision.namespace, name));
    if (current === undefined || ![...current.pins.values()].some((pin) => pin.confirmedAt === undefined)) return false;
    try {
      const pods = await this.#revisionPods(revision, selector, signal);
      if (pods === undefined) return true;
      const view = recordView(current, pods, this.#now(), this.#graceMs());
      const merged = mergePins(current, view, [], this.#now());
      if (merged.pins !== undefined) await this.#patch(current, merged.pins, signal);
      this.#count('confirmed', view.confirmed.length);
      this.#count('removed', view.expired.length);
      return [...view.adoptable.values()].some((pin) => pin.confirmedAt === undefined);
    } catch (error) {
      // 409: another writer moved it on; the watch brings its version, and later Pods look again.
      if (!isConflict(error)) this.#options.log.warn({ namespace: revision.namespace, record: name, err: describeKubeError(error) }, 'PinRecord not checked');
      return false;
    }
  }

  #graceMs(): number {
    return this.#options.graceMs ?? DEFAULT_GRACE_MS;
  }

  #count(operation: RecordOperation, count: number): void {
    if (count > 0) this.#options.onOperation?.(operation, count);
  }

  /** Counts adoptions (from an admission's session). */
  counted(operation: RecordOperation, count: number): void {
    this.#count(operation, count);
  }
}

/** What one admission's session holds. */
interface SessionState {
  readonly revision: Revision;
  readonly name: string;
  readonly selector: string | undefined;
  readonly stored: StoredRecord | undefined;
  readonly view: RecordView;
  /** The revision's stored Pods, when they were listed. */
  readonly pods: readonly unknown[];
  readonly dryRun: boolean;
}

class Session implements RecordSession {
  readonly #store: RecordStore;
  readonly #state: SessionState;
  readonly #notes: string[] = [];
  readonly name: string;

  constructor(store: RecordStore, state: SessionState) {
    this.#store = store;
    this.#state = state;
    this.name = state.name;
  }

  recorded(field: string, image: string): RecordedPin | undefined {
    const pin = this.#state.view.adoptable.get(pinKey(field, image));
    if (pin !== undefined) {
      this.#store.counted('adopted', 1);
      return { digest: pin.digest, source: 'record' };
    }
    const digests = siblingDigests(this.#state.pods, field, image);
    const [only] = digests;
    if (only !== undefined && digests.length === 1) {
      this.#store.counted('siblings', 1);
      return { digest: only, source: 'siblings' };
    }
    if (digests.length > 1) this.#notes.push(`${field}: the running Pods of this revision run ${digests.length} different digests (the revision is split); resolved afresh`);
    return undefined;
  }

  notes(): readonly string[] {
    return this.#notes;
  }

  async settle(pins: readonly FreshPin[], signal: AbortSignal): Promise<Settled> {
    if (this.#state.dryRun) return { winners: new Map(), notes: [] };
    return this.#store.settle(this.#state, pins, signal);
  }
}


/**
 * An estimate of what one record holds in memory: its strings (two bytes a character, as V8
 * may keep them) and a fixed cost per object.
 */
export function recordBytes(record: StoredRecord): number {
  let bytes = RECORD_BYTES + 2 * (record.namespace.length + record.name.length + record.resourceVersion.length + record.revision.name.length + record.revision.uid.length);
  for (const [key, pin] of record.pins) bytes += PIN_BYTES + 2 * (key.length + pin.field.length + pin.image.length + pin.digest.length);
  return bytes;
}

function indexKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** The informer's own store keeps what the projection left of metadata (stripMetadata): the index holds the spec, parsed. */
function strip(object: KubernetesObject): void {
  Reflect.deleteProperty(object, 'spec');
}
