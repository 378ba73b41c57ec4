/**
 * The webhook's Prometheus metrics, on a registry of its own (not prom-client's
 * global one) so each app, and each test, counts only what it did. Every label
 * value comes from a fixed set or is bounded, never straight from a request.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AdmitResult } from '../admission/index.js';
import { podSpecLocation } from '../workload/index.js';
import type { BreakerState, RequestEvent } from '../registry/index.js';
import type { StepKind } from '../certs/plan.js';
import type { ImageSetInformerState } from '../imageset/informer.js';
import { DEFAULT_DOMAIN, DOCKER_HUB_API_HOST } from '../reference/normalize.js';
import { HostLabels, OTHER_HOST, type HostLabelOptions } from './host-labels.js';

/** Breaker states from best to worst: hosts sharing the `other` label report the worst of theirs. */
export const BREAKER_STATES: readonly BreakerState[] = ['closed', 'half-open', 'open'];
/** The ImageSet informer's states, each a series of its own. */
const IMAGESET_STATES: readonly ImageSetInformerState[] = ['starting', 'synced', 'absent'];

export interface MetricsOptions extends HostLabelOptions {
  /** Add prom-client's process and Node.js metrics (default true). */
  readonly defaultMetrics?: boolean;
  /** The webhook's version, the `version` label of `digest_pinner_build_info` (default `unknown`). */
  readonly version?: string;
}

/** Whether one of the webhook's caches of the cluster has its first list; `informer` is the name its log lines use. */
export interface InformerSync {
  readonly informer: string;
  readonly synced: boolean;
}

/** Admission latency: a warm review takes well under a millisecond, a cold one up to the deadline. */
const ADMISSION_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** One registry round trip: milliseconds on a LAN, seconds to a slow public registry. */
const REGISTRY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const OPERATIONS: ReadonlySet<string> = new Set(['CREATE', 'UPDATE', 'DELETE', 'CONNECT']);
const SOURCES: ReadonlySet<string> = new Set(['pinned', 'imageset', 'record', 'siblings', 'cache', 'ledger', 'registry', 'stale']);
const METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST']);
const EVENT_OUTCOMES: ReadonlySet<string> = new Set(['created', 'deduplicated', 'failed', 'dry-run']);
const RECORD_OPERATIONS: ReadonlySet<string> = new Set(['created', 'conflict', 'adopted', 'added', 'confirmed', 'removed', 'siblings', 'failed']);
const LEDGER_OPERATIONS: ReadonlySet<string> = new Set(['created', 'verified', 'moved', 'evicted', 'conflict', 'failed']);
/** Failure codes are constants in our code (`DP_ERR_…`); anything else is a bug, counted as `other`. */
const FAILURE_CODE = /^DP_ERR_[A-Z0-9_]{1,64}$/;
const OTHER = 'other';

/** Metrics of one webhook: admissions, resolutions, registry traffic, cache, breakers, caches of the cluster, certificates, Events. */
export class Metrics {
  /** The registry `GET /metrics` renders. */
  readonly registry = new Registry();
  readonly #hosts: HostLabels;
  readonly #admissions: Counter<'kind' | 'operation' | 'outcome'>;
  readonly #admissionSeconds: Histogram;
  /** Admissions being answered now; the app raises and lowers it around each one (its `inFlight`). */
  readonly admissionsInFlight: Gauge;
  readonly #resolutions: Counter<'source'>;
  readonly #failures: Counter<'code' | 'host'>;
  readonly #registryRequests: Counter<'host' | 'method' | 'status'>;
  readonly #registrySeconds: Histogram<'host' | 'method'>;
  readonly #events: Counter<'outcome'>;
  readonly #recordOperations: Counter<'operation'>;
  readonly #ledgerWrites: Counter<'operation'>;
  readonly #tagMoves: Counter<'host' | 'expected'>;
  readonly #certificateExpiry: Gauge;
  readonly #certificateSteps: Counter<'step'>;
  readonly #certificateFailures: Counter;
  #cacheEntries: () => number = () => 0;
  #breakerStates: () => ReadonlyMap<string, BreakerState> = () => new Map();
  #informers: () => readonly InformerSync[] = () => [];
  #imageSets: () => ImageSetInformerState | undefined = () => undefined;

  constructor(options: MetricsOptions = {}) {
    this.#hosts = new HostLabels(options);
    const registers = [this.registry];
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });

    new Gauge({
      name: 'digest_pinner_build_info',
      help: 'Always 1; `version` is the running webhook\'s version.',
      labelNames: ['version'],
      registers,
    }).set({ version: options.version ?? 'unknown' }, 1);

    this.#admissions = new Counter({
      name: 'digest_pinner_admissions_total',
      help: 'AdmissionReviews answered, by kind, operation and outcome (pinned, unchanged, ignored, warned, denied).',
      labelNames: ['kind', 'operation', 'outcome'],
      registers,
    });
    this.#admissionSeconds = new Histogram({
      name: 'digest_pinner_admission_duration_seconds',
      help: 'Time from receiving an AdmissionReview to answering it, in seconds.',
      buckets: ADMISSION_BUCKETS,
      registers,
    });
    this.admissionsInFlight = new Gauge({
      name: 'digest_pinner_admissions_in_flight',
      help: 'AdmissionReviews decoded and being admitted now (resolving their images).',
      registers,
    });
    this.#resolutions = new Counter({
      name: 'digest_pinner_resolutions_total',
      help: 'Images pinned during admissions, by where the digest came from (pinned, imageset, record, siblings, cache, registry, stale); failures are digest_pinner_resolution_failures_total.',
      labelNames: ['source'],
      registers,
    });
    this.#failures = new Counter({
      name: 'digest_pinner_resolution_failures_total',
      help: 'Images that could not be pinned during admissions, by reason code (DP_ERR_…) and registry host (labelled as in digest_pinner_registry_requests_total; `other` without a label of its own or a registry).',
      labelNames: ['code', 'host'],
      registers,
    });
    this.#registryRequests = new Counter({
      name: 'digest_pinner_registry_requests_total',
      help: 'HTTP requests to registries and token realms, by host, method and status (`error` when no response came). Hosts past the allow-list and the first 50 others seen are `other`.',
      labelNames: ['host', 'method', 'status'],
      registers,
    });
    this.#registrySeconds = new Histogram({
      name: 'digest_pinner_registry_request_duration_seconds',
      help: 'Duration of HTTP requests to registries and token realms, in seconds.',
      labelNames: ['host', 'method'],
      buckets: REGISTRY_BUCKETS,
      registers,
    });
    this.#events = new Counter({
      name: 'digest_pinner_events_total',
      help: 'Kubernetes Events about unpinned images, by outcome (created, deduplicated, failed, dry-run).',
      labelNames: ['outcome'],
      registers,
    });
    this.#recordOperations = new Counter({
      name: 'digest_pinner_record_operations_total',
      help: 'PinRecords (docs/rollouts.md): records created, conflicts (another replica created it first), pins adopted from a record or running siblings, added, confirmed, removed, and writes that failed.',
      labelNames: ['operation'],
      registers,
    });
    this.#ledgerWrites = new Counter({
      name: 'digest_pinner_ledger_writes_total',
      help: 'Tag ledger writes of this replica (docs/rollouts.md): entries created, verified, moved, evicted, conflicts (another replica wrote first; dropped) and failures.',
      labelNames: ['operation'],
      registers,
    });
    this.#tagMoves = new Counter({
      name: 'digest_pinner_tag_moves_total',
      help: 'Tags seen pointing to another digest than the ledger\'s, counted by the one replica whose ledger update succeeded; by registry host (labelled as in digest_pinner_registry_requests_total) and whether the tag is expected to move (--tag-moves-ignore).',
      labelNames: ['host', 'expected'],
      registers,
    });
    this.#certificateExpiry = new Gauge({
      name: 'digest_pinner_serving_certificate_expiry_timestamp_seconds',
      help: 'When the serving certificate in use expires, in seconds since the epoch (set when it is loaded, reloaded or taken from the Secret).',
      registers,
    });
    this.#certificateSteps = new Counter({
      name: 'digest_pinner_certificate_steps_total',
      help: 'Self-managed certificates: steps this replica took (create-ca, issue-cert, publish-bundle, mark-published, drop-cas, heartbeat).',
      labelNames: ['step'],
      registers,
    });
    this.#certificateFailures = new Counter({
      name: 'digest_pinner_certificate_failures_total',
      help: 'Self-managed certificates: checks that failed (API unreachable or refusing); the certificate held is served meanwhile.',
      registers,
    });
    this.#registerCollected(registers);
  }

  /** Collected at scrape time: cache size, breaker states, the caches of the cluster. */
  #registerCollected(registers: Registry[]): void {
    const readEntries = (): number => this.#cacheEntries();
    const readBreakers = (): ReadonlyMap<string, BreakerState> => this.#breakerLabels();
    const readInformers = (): readonly InformerSync[] => this.#informers();
    const readImageSets = (): ImageSetInformerState | undefined => this.#imageSets();
    new Gauge({
      name: 'digest_pinner_cache_entries',
      help: 'Digests held in the resolver cache.',
      registers,
      collect(): void {
        this.set(readEntries());
      },
    });
    new Gauge({
      name: 'digest_pinner_circuit_breaker_state',
      help: 'Circuit breaker per registry host: 1 for the state it is in (closed, half-open, open), 0 for the others (`other`: the worst among hosts without a label of their own).',
      labelNames: ['host', 'state'],
      registers,
      collect(): void {
        this.reset();
        for (const [host, current] of readBreakers()) {
          for (const state of BREAKER_STATES) this.set({ host, state }, state === current ? 1 : 0);
        }
      },
    });
    new Gauge({
      name: 'digest_pinner_informer_synced',
      help: 'Caches of the cluster (pull secrets, ServiceAccounts, Namespaces, the skip list, ImageSets): 1 once the informer has its first list; readiness waits for all of them.',
      labelNames: ['informer'],
      registers,
      collect(): void {
        this.reset();
        for (const { informer, synced } of readInformers()) this.set({ informer }, synced ? 1 : 0);
      },
    });
    new Gauge({
      name: 'digest_pinner_imageset_informer_state',
      help: 'The ImageSet informer: 1 for the state it is in (starting; synced; absent: the CRD is not installed or may not be listed), 0 for the others.',
      labelNames: ['state'],
      registers,
      collect(): void {
        this.reset();
        const current = readImageSets();
        if (current === undefined) return;
        for (const state of IMAGESET_STATES) this.set({ state }, state === current ? 1 : 0);
      },
    });
  }

  /** Reads the cache size at each scrape (the resolver's `size`). */
  trackCache(entries: () => number): void {
    this.#cacheEntries = entries;
  }

  /** Reads the circuit breakers at each scrape (the registry client's `breakerStates()`). */
  trackBreakers(states: () => ReadonlyMap<string, BreakerState>): void {
    this.#breakerStates = states;
  }

  /** Reads whether each cache of the cluster has synced at each scrape (ClusterWatch's `informers()`). */
  trackInformers(informers: () => readonly InformerSync[]): void {
    this.#informers = informers;
  }

  /** Reads the ImageSet informer's state at each scrape; undefined (no cluster): no series. */
  trackImageSets(state: () => ImageSetInformerState | undefined): void {
    this.#imageSets = state;
  }

  /** Records one answered admission; the shape of the app's `onAdmission` hook. */
  admission(result: AdmitResult, kind: string, operation: string, seconds: number): void {
    this.#admissions.inc({
      kind: podSpecLocation(kind) === undefined ? OTHER : kind,
      operation: OPERATIONS.has(operation) ? operation : OTHER,
      outcome: result.outcome,
    });
    this.#admissionSeconds.observe(seconds);
    for (const resolution of result.resolutions) this.#resolutions.inc({ source: SOURCES.has(resolution.source) ? resolution.source : OTHER });
    for (const failure of result.failures) {
      this.#failures.inc({ code: FAILURE_CODE.test(failure.code) ? failure.code : OTHER, host: this.#registryLabel(failure.registry) });
    }
  }

  /** Records one registry or token request; the shape of the registry client's `onRequest` hook. */
  registryRequest(event: RequestEvent): void {
    const host = this.#hosts.label(event.host, event.status !== 'error');
    const method = METHODS.has(event.method) ? event.method : OTHER;
    this.#registryRequests.inc({ host, method, status: statusLabel(event.status) });
    this.#registrySeconds.observe({ host, method }, event.seconds);
  }

  /** Records one Kubernetes Event attempt; the shape of the EventRecorder's `onRecorded` hook. */
  eventRecorded(outcome: string): void {
    this.#events.inc({ outcome: EVENT_OUTCOMES.has(outcome) ? outcome : OTHER });
  }

  /** Counts PinRecord operations; the shape of the RecordStore's `onOperation` hook. */
  recordOperation(operation: string, count: number): void {
    this.#recordOperations.inc({ operation: RECORD_OPERATIONS.has(operation) ? operation : OTHER }, count);
  }

  /** Counts a tag ledger write; the shape of the LedgerStore's `onWrite` hook. */
  ledgerWrite(operation: string): void {
    this.#ledgerWrites.inc({ operation: LEDGER_OPERATIONS.has(operation) ? operation : OTHER });
  }

  /** Counts a tag move this replica wrote to the ledger; the shape of the LedgerStore's `onMove` hook. */
  tagMoved(domain: string, expected: boolean): void {
    this.#tagMoves.inc({ host: this.#registryLabel(domain), expected: String(expected) });
  }

  /** Records the expiry (ms since the epoch) of the serving certificate now in use. */
  servingCertificate(notAfterMs: number): void {
    this.#certificateExpiry.set(notAfterMs / 1000);
  }

  /** Records a step of self-managed certificates; the shape of SelfManagedCertificates' `onStep` hook. */
  certificateStep(step: StepKind): void {
    this.#certificateSteps.inc({ step });
  }

  /** Records a failed check of self-managed certificates. */
  certificateFailure(): void {
    this.#certificateFailures.inc();
  }

  /** Content type of `render()`: Prometheus text format 0.0.4. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text for a scrape. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  /**
   * The label of the registry an image failed on: the one its requests are counted under (Docker
   * Hub's API host for `docker.io`), never a new one, since the image came from a request.
   */
  #registryLabel(domain: string | undefined): string {
    if (domain === undefined) return OTHER_HOST;
    return this.#hosts.existing(domain === DEFAULT_DOMAIN ? DOCKER_HUB_API_HOST : domain);
  }

  /** The breaker state of each host label (a breaker never gives a host a label); hosts sharing `other` report the worst of theirs. */
  #breakerLabels(): ReadonlyMap<string, BreakerState> {
    const labelled = new Map<string, BreakerState>();
    for (const [host, state] of this.#breakerStates()) {
      const label = this.#hosts.existing(host);
      const before = labelled.get(label);
      labelled.set(label, before !== undefined && BREAKER_STATES.indexOf(before) > BREAKER_STATES.indexOf(state) ? before : state);
    }
    return labelled;
  }
}

/** `200`, `401`, … or `error`; a status outside 100–599 is not HTTP and counts as `error`. */
function statusLabel(status: number | 'error'): string {
  return typeof status === 'number' && Number.isInteger(status) && status >= 100 && status <= 599 ? String(status) : 'error';
}
