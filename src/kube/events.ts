/**
 * Events for images the webhook could not pin. Admission warnings on a Pod that a
 * controller creates reach kube-controller-manager, not a person: an Event on the
 * workload (or the namespace) is what `kubectl get events` and `kubectl describe` show.
 *
 * events.k8s.io/v1, not core/v1: it is the API Kubernetes asks new reporters to use,
 * its fields are the ones this module fills (`regarding`, `note`, `reportingController`,
 * `reportingInstance`), and kube-apiserver validates them strictly (type, reason, action,
 * note ≤ 1 KiB). Both APIs store the same objects, so core/v1 readers (kubectl describe)
 * see them too. RBAC: `create` on `events` in API group `events.k8s.io`.
 *
 * Recording never delays or fails an admission: it is started and forgotten, bounded by
 * a timeout, and errors go to a callback. Never on dry runs. The same (object, image,
 * failure) is recorded at most once per de-duplication window.
 */
import { randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { V1MicroTime, type EventsV1Event, type KubeConfig } from '@kubernetes/client-node';
import { EventsV1Api } from '@kubernetes/client-node';
import { arrayOf, isRecord, member, stringAt } from '../json.js';
import { apiClient } from './api.js';

export const EVENT_REASON = 'ImageNotPinned';
export const EVENT_TYPE = 'Warning';
export const EVENT_ACTION = 'PinImage';
export const REPORTING_CONTROLLER = 'digest-pinner.io/webhook';
/** kube-apiserver's limit on `note`, in bytes. */
export const MAX_NOTE_BYTES = 1024;
/** kube-apiserver's limit on `reportingInstance`. */
const MAX_REPORTING_INSTANCE = 128;
/** Room left in a 253-character name for the `.<unique suffix>`. */
const MAX_NAME_PREFIX = 200;
const DEFAULT_TIMEOUT_MS = 5_000;
const DEFAULT_DEDUP_TTL_MS = 10 * 60_000;
const DEFAULT_DEDUP_MAX = 10_000;
/** The de-duplication keys' bytes: a key holds the image as written, which may be as long as a review allows. */
const DEDUP_MAX_BYTES = 4 * 1024 * 1024;

/** What happened to one failure, for metrics. */
export type RecordOutcome = 'created' | 'deduplicated' | 'failed';
/** RecordOutcome, or `dry-run` when the admission was a dry run and nothing was attempted. */
export type RecordResult = RecordOutcome | 'dry-run';

/** The object an Event is about (events.k8s.io/v1 `regarding`). */
export interface ObjectReference {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid?: string;
}

/** The parts of an admission request recording needs; the admission stage's AdmissionRequest satisfies it. */
export interface AdmittedObject {
  readonly kind: { readonly group: string; readonly version: string; readonly kind: string };
  readonly namespace: string | undefined;
  readonly name: string | undefined;
  readonly object: unknown;
  readonly dryRun: boolean;
}

/** One image that was not pinned; the admission stage's ImageFailure satisfies it. */
export interface FailedImage {
  /** Where the image is, e.g. `containers/app`. */
  readonly where: string;
  readonly image: string;
  readonly reason: string;
  /** Stable error code, e.g. `DP_ERR_MANIFEST_UNKNOWN`. */
  readonly code: string;
}

/** One Event to record. */
export interface FailureEvent {
  /** The admission's dryRun: when true nothing is recorded. Required so no caller can forget it. */
  readonly dryRun: boolean;
  readonly regarding: ObjectReference;
  readonly failure: FailedImage;
}

/** Where Events go: the API, or a test's list. */
export interface EventSink {
  create(namespace: string, event: EventsV1Event, signal: AbortSignal): Promise<void>;
}

export interface EventRecorderOptions {
  readonly sink: EventSink;
  /** This replica, e.g. the pod name (`HOSTNAME`); cut to 128 characters. */
  readonly reportingInstance: string;
  /** Deadline of one create request (default 5 s). */
  readonly timeoutMs?: number;
  /** How long the same (object, image, failure) is not recorded again (default 10 min). */
  readonly dedupTtlMs?: number;
  /** Most keys remembered for de-duplication (default 10 000). */
  readonly dedupMax?: number;
  /** Counts every failure offered (dry runs excluded), e.g. for a prom-client counter. */
  readonly onRecorded?: (outcome: RecordOutcome) => void;
  /** A create that failed; log it. The Event is not retried until another admission offers it. */
  readonly onError?: (error: unknown, event: { readonly regarding: ObjectReference; readonly image: string }) => void;
  /** The clock of Event times and, when given, of the de-duplication window (default: the system's). */
  readonly now?: () => Date;
}

/** Records ImageNotPinned Events, de-duplicated, without ever holding up an admission. */
export class EventRecorder {
  readonly #options: EventRecorderOptions;
  readonly #recent: LRUCache<string, true>;
  readonly #inFlight = new Set<Promise<RecordResult>>();
  readonly #reportingInstance: string;

  constructor(options: EventRecorderOptions) {
    this.#options = options;
    this.#reportingInstance = options.reportingInstance.slice(0, MAX_REPORTING_INSTANCE) || 'unknown';
    const { now } = options;
    this.#recent = new LRUCache<string, true>({
      max: options.dedupMax ?? DEFAULT_DEDUP_MAX,
      maxSize: DEDUP_MAX_BYTES,
      sizeCalculation: (_value, key) => key.length,
      ttl: options.dedupTtlMs ?? DEFAULT_DEDUP_TTL_MS,
      // lru-cache reads the time itself; a given clock must drive it, read afresh each time.
      ...(now === undefined ? {} : { perf: { now: () => now().getTime() }, ttlResolution: 0 }),
    });
  }

  /** Starts recording one Event per failure of an admission and returns at once. */
  recordFailures(admitted: AdmittedObject, failures: readonly FailedImage[]): void {
    if (admitted.dryRun || failures.length === 0) return;
    const regarding = regardingObject(admitted);
    if (regarding === undefined) return;
    for (const failure of failures) void this.record({ dryRun: admitted.dryRun, regarding, failure });
  }

  /** Records one Event. Never rejects; resolves once the API has answered or the timeout passed. */
  record(event: FailureEvent): Promise<RecordResult> {
    if (event.dryRun) return Promise.resolve('dry-run');
    const key = dedupKey(event);
    if (this.#recent.has(key)) {
      this.#options.onRecorded?.('deduplicated');
      return Promise.resolve('deduplicated');
    }
    this.#recent.set(key, true);
    const pending = this.#create(event, key);
    this.#inFlight.add(pending);
    void pending.finally(() => this.#inFlight.delete(pending));
    return pending;
  }

  /** Waits for every create in flight (each bounded by the timeout), e.g. at shutdown. */
  async drain(): Promise<void> {
    await Promise.all([...this.#inFlight]);
  }

  async #create(event: FailureEvent, key: string): Promise<RecordOutcome> {
    const now = this.#options.now?.() ?? new Date();
    const body = eventBody(event, { reportingInstance: this.#reportingInstance, now });
    try {
      await this.#options.sink.create(event.regarding.namespace, body, AbortSignal.timeout(this.#options.timeoutMs ?? DEFAULT_TIMEOUT_MS));
      this.#options.onRecorded?.('created');
      return 'created';
    } catch (error) {
      // Forget it, so the next admission of the same image tries again.
      this.#recent.delete(key);
      this.#options.onRecorded?.('failed');
      this.#options.onError?.(error, { regarding: event.regarding, image: event.failure.image });
      return 'failed';
    }
  }
}

/**
 * The object an admission's Event is about: the object itself when it has a name; for a
 * Pod without one yet (a controller's, from generateName) its controller owner; else the
 * Namespace. Undefined without a namespace (nothing to attach a namespaced Event to).
 */
export function regardingObject(admitted: AdmittedObject): ObjectReference | undefined {
  const namespace = admitted.namespace ?? stringAt(metadataOf(admitted.object), 'namespace') ?? '';
  if (namespace === '') return undefined;
  const metadata = metadataOf(admitted.object);
  const name = nonEmpty(admitted.name) ?? nonEmpty(stringAt(metadata, 'name'));
  if (name !== undefined) {
    const { group, version, kind } = admitted.kind;
    const uid = nonEmpty(stringAt(metadata, 'uid'));
    return { apiVersion: group === '' ? version : `${group}/${version}`, kind, namespace, name, ...(uid === undefined ? {} : { uid }) };
  }
  const owner = controllerOwner(metadata, namespace);
  if (owner !== undefined) return owner;
  // A Namespace is cluster-scoped, but kube-apiserver keeps an Event about a cluster-scoped
  // object only in `default`; naming the namespace here keeps the Event where its tenant looks.
  return { apiVersion: 'v1', kind: 'Namespace', namespace, name: namespace };
}

/** The events.k8s.io/v1 Event for one failure. */
export function eventBody(event: FailureEvent, context: EventContext): EventsV1Event {
  return warningEvent({ regarding: event.regarding, reason: EVENT_REASON, action: EVENT_ACTION, note: failureNote(event.failure) }, context);
}

/** Who reports an Event, and when. */
export interface EventContext {
  readonly reportingInstance: string;
  readonly now: Date;
}

/** What a Warning Event says: about what, why, what the webhook was doing, and a note (cut to MAX_NOTE_BYTES). */
export interface WarningEvent {
  readonly regarding: ObjectReference;
  readonly reason: string;
  readonly action: string;
  readonly note: string;
}

/** A Warning Event of the webhook (events.k8s.io/v1), e.g. ImageNotPinned or TagMoved. */
export function warningEvent(event: WarningEvent, context: EventContext): EventsV1Event {
  const { regarding } = event;
  return {
    apiVersion: 'events.k8s.io/v1',
    kind: 'Event',
    metadata: { name: eventName(regarding.name, context.now), namespace: regarding.namespace },
    eventTime: new V1MicroTime(context.now.getTime()),
    reportingController: REPORTING_CONTROLLER,
    reportingInstance: context.reportingInstance.slice(0, MAX_REPORTING_INSTANCE) || 'unknown',
    action: event.action,
    reason: event.reason,
    type: EVENT_TYPE,
    regarding: { ...regarding },
    note: truncateBytes(event.note, MAX_NOTE_BYTES),
  };
}

/** The note of one failure, at most MAX_NOTE_BYTES of UTF-8. */
export function failureNote(failure: FailedImage): string {
  return truncateBytes(`${failure.where} image "${failure.image}" not pinned to a digest: ${failure.reason} (${failure.code})`, MAX_NOTE_BYTES);
}

/** `text` cut to at most `max` bytes of UTF-8 on a character boundary, with `…` when cut. */
export function truncateBytes(text: string, max: number): string {
  if (Buffer.byteLength(text) <= max) return text;
  const ellipsis = '…';
  let budget = max - Buffer.byteLength(ellipsis);
  let cut = '';
  for (const char of text) {
    const size = Buffer.byteLength(char);
    if (size > budget) break;
    budget -= size;
    cut += char;
  }
  return cut + ellipsis;
}

/** An Event sink that creates Events through kube-apiserver. */
export function apiEventSink(kubeConfig: KubeConfig): EventSink {
  return {
    create: async (namespace, event, signal) => {
      await apiClient(kubeConfig, EventsV1Api, signal).createNamespacedEvent({ namespace, body: event });
    },
  };
}

function dedupKey(event: FailureEvent): string {
  const { regarding, failure } = event;
  return [regarding.apiVersion, regarding.kind, regarding.namespace, regarding.name, failure.image, EVENT_REASON, failure.code].join('\u0000');
}

/** `<object name>.<unique hex>`, as client-go names Events; a valid DNS subdomain. */
function eventName(objectName: string, now: Date): string {
  const prefix = objectName.toLowerCase().slice(0, MAX_NAME_PREFIX).replace(/[^a-z0-9]+$/, '');
  const suffix = `${now.getTime().toString(16)}${randomBytes(4).toString('hex')}`;
  return prefix === '' ? suffix : `${prefix}.${suffix}`;
}

function controllerOwner(metadata: Record<string, unknown>, namespace: string): ObjectReference | undefined {
  for (const owner of arrayOf(member(metadata, 'ownerReferences'))) {
    if (member(owner, 'controller') !== true) continue;
    const apiVersion = nonEmpty(stringAt(owner, 'apiVersion'));
    const kind = nonEmpty(stringAt(owner, 'kind'));
    const name = nonEmpty(stringAt(owner, 'name'));
    if (apiVersion === undefined || kind === undefined || name === undefined) continue;
    const uid = nonEmpty(stringAt(owner, 'uid'));
    return { apiVersion, kind, namespace, name, ...(uid === undefined ? {} : { uid }) };
  }
  return undefined;
}

function metadataOf(object: unknown): Record<string, unknown> {
  const metadata = member(object, 'metadata');
  return isRecord(metadata) ? metadata : {};
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
