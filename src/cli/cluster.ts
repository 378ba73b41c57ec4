/**
 * `serve`'s side of a cluster: pull secrets and ServiceAccounts, the Namespace opt-in for
 * RELATED_IMAGE_*, ImageSets, the strict policy's skip list, the revisions' PinRecords and Events. serve imports this module, and with it
 * @kubernetes/client-node (some 60 MiB of RSS), only when kubeConfigSource finds a cluster.
 */
import {
  parseSkipPatterns,
  PATTERN_CHARACTERS,
  SKIP_LIST_VARIABLE,
  skipList,
  skipListLiteral,
  type AdmissionRequest,
  type ImageFailure,
  type SkipList,
} from '../admission/index.js';
import { ImageSetWatch, type AuthoritativeRegistries, type ImageSetInformerState } from '../imageset/index.js';
import type { InformerSync } from '../metrics/index.js';
import {
  apiEventSink,
  clusterCredentialLookup,
  describeKubeError,
  EventRecorder,
  kubeConfigFrom,
  NamespaceInformer,
  PullSecretCache,
  PolicyInformer,
  PullSecretInformers,
  RelatedImageNamespaces,
  type KubeConfigSource,
  type KubeLogger,
  type LoadedKubeConfig,
  type PolicyVariables,
  type RecordOutcome,
} from '../kube/index.js';
import type { CredentialLookup, OwnCredentials } from '../credentials/index.js';
import { describeError, errorCode } from '../errors.js';
import type { ImageRef } from '../reference/types.js';
import type { ImageSetAnswer } from '../imageset/types.js';
import { RecordStore, type RecordOperation } from '../rollout/record-store.js';
import type { RecordSession, RevisionRecords } from '../rollout/session.js';
import { LedgerStore, type LedgerOperation } from '../rollout/ledger-store.js';
import type { ExpectedMoves } from '../rollout/ledger.js';
import type { LedgerAnswer, LedgerObservation, TagLedger } from '../resolve/index.js';

/** The tag ledger's settings (docs/rollouts.md): where, for how long, how big, which moves are expected. */
export interface LedgerSettings {
  /** `--ledger-namespace`: where cluster-wide entries live. */
  readonly namespace: string;
  readonly cacheTtlMs: number;
  readonly verifyIntervalMs: number;
  readonly maxEntries: number;
  readonly expectedMoves: ExpectedMoves;
  readonly onWrite: (operation: LedgerOperation) => void;
  readonly onMove: (domain: string, expected: boolean) => void;
}

/** Workloads a TagMoved note names at most (the note is cut to 1 KiB anyway). */
const MAX_MOVED_WORKLOADS = 20;

export interface ClusterOptions {
  readonly source: KubeConfigSource;
  /** The webhook's own credentials, after the tenant's pull secrets. */
  readonly ownCredentials: OwnCredentials;
  readonly authoritative: AuthoritativeRegistries;
  /** --pin-related-images: every namespace pins RELATED_IMAGE_*, so no Namespace informer. */
  readonly pinRelatedEverywhere: boolean;
  /** The ImageSet status Lease. */
  readonly lease: { readonly namespace: string; readonly identity: string };
  /** This replica in the Events it records. */
  readonly reportingInstance: string;
  readonly onEventRecorded: (outcome: RecordOutcome) => void;
  /** `--skip-policy`: the skip list is the `skipList` variable of this ValidatingAdmissionPolicy, the strict policy. */
  readonly skipPolicy?: string | undefined;
  /** PinRecords: every Pod of a revision gets the same digests (off: `--no-pin-records`). */
  readonly pinRecords: boolean;
  /** `--pin-grace`: how long a provisional pin no stored Pod carries binds the revision's later Pods. */
  readonly pinGraceMs: number;
  readonly onRecordOperation: (operation: RecordOperation, count: number) => void;
  /** The tag ledger; undefined with `--no-tag-ledger`. */
  readonly ledger: LedgerSettings | undefined;
}

/** A cache kept up to date from the cluster: started, stopped, and synced once its first list is in. */
interface Watched {
  start(): Promise<void>;
  stop(): Promise<void>;
  synced(): boolean;
}

/** The caches and the Event recorder, built by start() once the app's logger exists. */
interface Running {
  readonly informers: PullSecretInformers;
  readonly namespaces: Watched;
  readonly skipPolicy: Watched;
  readonly imageSets: ImageSetWatch;
  readonly records: RecordStore | undefined;
  readonly ledger: LedgerStore | undefined;
  readonly recorder: EventRecorder;
}

/** The cluster as one admission dependency: credentials, ImageSets, the RELATED_IMAGE_* opt-in, readiness and Events. */
export class ClusterWatch {
  /** The kubeconfig's origin, for the startup log. */
  readonly source: string;
  readonly credentials: CredentialLookup;
  /** The admission's ImageSet source: the watched ImageSets (none before start), and the authoritative registries. */
  readonly imageSets = {
    lookup: (ref: ImageRef): ImageSetAnswer | undefined => this.#running?.imageSets.lookup(ref),
    authoritative: (ref: ImageRef): boolean => this.#options.authoritative.covers(ref),
  };
  /** The revisions' records; undefined with `--no-pin-records` (each Pod is then pinned on its own). */
  readonly records: RevisionRecords | undefined;
  /** The tag ledger shared by replicas (none before start); undefined with `--no-tag-ledger`. */
  readonly ledger: TagLedger | undefined;
  /** The skip list read from `skipPolicy` (nothing skipped until it is read, or while it is absent); undefined without one. */
  readonly skip: SkipList | undefined;
  readonly #options: ClusterOptions;
  #skip = skipList([]);
  readonly #kube: LoadedKubeConfig;
  readonly #pullSecrets = new PullSecretCache();
  readonly #relatedImageNamespaces = new RelatedImageNamespaces();
  #log: KubeLogger | undefined;
  #running: Running | undefined;

  /** Loads the kubeconfig; throws KubeConfigError for one that cannot be read. */
  constructor(options: ClusterOptions) {
    this.#options = options;
    this.#kube = kubeConfigFrom(options.source);
    this.source = this.#kube.source;
    this.records = options.pinRecords
      ? { open: async (pod, signal): Promise<RecordSession | undefined> => this.#running?.records?.open(pod, signal) }
      : undefined;
    this.ledger = options.ledger === undefined
      ? undefined
      : {
        answer: (image: string, namespace: string | undefined): string | undefined => this.#running?.ledger?.answer(image, namespace),
        fallback: (image: string, namespace: string | undefined, withinMs: number): LedgerAnswer | undefined => this.#running?.ledger?.fallback(image, namespace, withinMs),
        observe: (observation: LedgerObservation): void => { this.#running?.ledger?.observe(observation); },
      };
    this.skip = options.skipPolicy === undefined ? undefined : { matches: (ref) => this.#skip.matches(ref) };
    this.credentials = clusterCredentialLookup({
      cache: this.#pullSecrets,
      ownCredentials: options.ownCredentials,
      onLookup: (report) => {
        if (report.missingSecrets.length > 0 || report.missingServiceAccount !== undefined) {
          this.#log?.warn({ ...report }, 'referenced pull secrets or ServiceAccount not found (skipped, as kubelet does)');
        }
      },
    });
  }

  /** Whether `namespace` opts in to RELATED_IMAGE_* pinning (the Namespace annotation). */
  relatedImagesIn(namespace: string | undefined): boolean {
    return this.#relatedImageNamespaces.has(namespace);
  }

  /** Starts the informers and the ImageSet watch; never rejects (ready() stays false until they sync). */
  start(log: KubeLogger): void {
    const { kubeConfig } = this.#kube;
    const options = this.#options;
    this.#log = log;
    const records = options.pinRecords ? new RecordStore({ kubeConfig, log, graceMs: options.pinGraceMs, onOperation: options.onRecordOperation }) : undefined;
    const running: Running = {
      informers: new PullSecretInformers({ kubeConfig, cache: this.#pullSecrets, log }),
      namespaces: options.pinRelatedEverywhere ? NOT_WATCHING : new NamespaceInformer({ kubeConfig, namespaces: this.#relatedImageNamespaces, log }),
      skipPolicy: this.#skipPolicyInformer(kubeConfig, log),
      imageSets: new ImageSetWatch({ kubeConfig, log, authoritative: options.authoritative, lease: options.lease }),
      records,
      ledger: this.#ledgerStore(log, records),
      recorder: new EventRecorder({
        sink: apiEventSink(kubeConfig),
        reportingInstance: options.reportingInstance,
        onRecorded: options.onEventRecorded,
        onError: (error, event) => {
          log.warn({ err: describeKubeError(error), regarding: event.regarding, image: event.image }, 'Event not recorded');
        },
      }),
    };
    this.#running = running;
    // Never reject; /readyz answers 503 until the caches have synced.
    void running.informers.start();
    void running.namespaces.start();
    void running.skipPolicy.start();
    void running.imageSets.start();
    void running.records?.start();
    void running.ledger?.start();
  }

  /** True once every cache has its first list; false before start(). */
  ready(): boolean {
    const running = this.#running;
    return running !== undefined && running.informers.synced() && running.namespaces.synced() && running.skipPolicy.synced() && running.imageSets.synced() && (running.records?.synced() ?? true) && (running.ledger?.synced() ?? true);
  }

  /**
   * Whether each cache of the cluster has its first list, by the name metrics give it; a cache
   * not kept (the Namespace annotation with --pin-related-images, no --skip-policy) is left out.
   */
  informers(): readonly InformerSync[] {
    const running = this.#running;
    if (running === undefined) return [];
    const watched: [string, { synced(): boolean }][] = [
      ['pull-secrets', running.informers],
      ['namespaces', running.namespaces],
      ['skip-policy', running.skipPolicy],
      ['imagesets', running.imageSets],
    ];
    return watched.filter(([, cache]) => cache !== NOT_WATCHING).map(([informer, cache]) => ({ informer, synced: cache.synced() }));
  }

  /** The ImageSet informer's state (starting, synced, absent); undefined before start(). */
  imageSetState(): ImageSetInformerState | undefined {
    return this.#running?.imageSets.informer.state;
  }

  /** Records an Event for each image an admission could not pin. Never throws. */
  recordFailures(review: AdmissionRequest, failures: readonly ImageFailure[]): void {
    this.#running?.recorder.recordFailures(review, failures);
  }

  /** Stops watching and waits for Events being recorded. */
  async stop(): Promise<void> {
    const running = this.#running;
    if (running === undefined) return;
    await running.informers.stop();
    await running.namespaces.stop();
    await running.skipPolicy.stop();
    await running.imageSets.stop();
    await running.records?.stop();
    await running.ledger?.stop();
    await running.recorder.drain();
  }

  #ledgerStore(log: KubeLogger, records: RecordStore | undefined): LedgerStore | undefined {
    const settings = this.#options.ledger;
    if (settings === undefined) return undefined;
    const { kubeConfig } = this.#kube;
    return new LedgerStore({
      kubeConfig,
      log,
      clusterNamespace: settings.namespace,
      cacheTtlMs: settings.cacheTtlMs,
      verifyIntervalMs: settings.verifyIntervalMs,
      maxEntries: settings.maxEntries,
      expectedMoves: settings.expectedMoves,
      events: apiEventSink(kubeConfig),
      reportingInstance: this.#options.reportingInstance,
      pinnedBy: (namespace, image, digest) => records?.revisionsPinning(namespace, image, digest, MAX_MOVED_WORKLOADS) ?? [],
      onWrite: settings.onWrite,
      onMove: settings.onMove,
    });
  }

  #skipPolicyInformer(kubeConfig: LoadedKubeConfig['kubeConfig'], log: KubeLogger): Watched {
    const policy = this.#options.skipPolicy;
    if (policy === undefined) return NOT_WATCHING;
    return new PolicyInformer({
      kubeConfig,
      log,
      policy,
      onChange: (content) => {
        this.#skip = loadSkipList(policy, content, log);
      },
    });
  }
}

/** The skip list the policy holds, parsed as the policy parses it; what was loaded or ignored is logged. */
function loadSkipList(policy: string, content: PolicyVariables | undefined, log: KubeLogger): SkipList {
  if (content === undefined) {
    log.warn({ policy }, 'strict policy not found: no image is skipped');
    return skipList([]);
  }
  const { resourceVersion } = content;
  const text = skipListLiteral(content.variables.get(SKIP_LIST_VARIABLE) ?? '');
  if (text === undefined) {
    log.error({ policy, resourceVersion }, `skip list not used, no image is skipped: the policy's variable ${SKIP_LIST_VARIABLE} must be one raw string literal, r''' then one pattern per line then '''`);
    return skipList([]);
  }
  const { patterns, ignored } = parseSkipPatterns(text);
  const invalid = ignored.filter((line) => line.reason !== 'comment');
  if (invalid.length > 0) {
    log.warn(
      { policy, resourceVersion, ignored: invalid.slice(0, MAX_LOGGED_LINES), more: Math.max(0, invalid.length - MAX_LOGGED_LINES) },
      `skip-list lines ignored, as the strict policy ignores them: a pattern has only ${PATTERN_CHARACTERS}, and a comment is a line of its own`,
    );
  }
  try {
    const loaded = skipList(patterns);
    log.info({ policy, resourceVersion, patterns: patterns.length, ignoredLines: ignored.length }, 'skip list loaded');
    return loaded;
  } catch (error) {
    log.error({ policy, resourceVersion, code: errorCode(error) }, `skip list not used, no image is skipped: ${describeError(error)}`);
    return skipList([]);
  }
}

/** Ignored lines named in one log entry; the rest are counted. */
const MAX_LOGGED_LINES = 20;

const NOT_WATCHING: Watched = { start: () => Promise.resolve(), stop: () => Promise.resolve(), synced: () => true };
