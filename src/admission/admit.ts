/**
 * The admission handler, as a straight line: filter → find images → parse → ImageSets →
 * the revision's record → resolve → record what was resolved → patch → respond. Pure
 * except for the resolver, the credential lookup and the records it is given.
 */
import type { Operation as PatchOperation } from 'fast-json-patch';
import { describeError, DigestPinnerError } from '../errors.js';
import { parseImage, pinnedReference, taggedName } from '../reference/index.js';
import type { ImageRef } from '../reference/types.js';
import type { CredentialChain, CredentialContext, CredentialLookup } from '../credentials/types.js';
import { failureDetail, failureReason, type Resolution, type ResolutionSource, type ResolveScope } from '../resolve/index.js';
import { invalidRegistryHost } from '../registry/index.js';
import type { ImageSetAnswer } from '../imageset/types.js';
import { imagesToPin, skipsControlledTemplate, podSpecLocation, valueAt, type ImageField } from '../workload/index.js';
import { buildPatch, encodePatch, type Pin } from '../patch/index.js';
import type { SkipList } from './skip.js';
import { denialMessage, failureWarnings, tooManyImagesMessage, type ImageFailure, type ImageNote, type Unattempted } from './warnings.js';
import { boundedFanOut, MAX_IMAGES_PER_ADMISSION, withinImageLimit } from './fan-out.js';
import type { AdmissionRequest, AdmissionResponse, Mode } from './types.js';
import type { Deadline } from '../timeout.js';
import { pinKey } from '../rollout/types.js';
import type { FreshPin, RecordSession, RevisionRecords } from '../rollout/session.js';

/** Resolves one reference; the webhook's Resolver satisfies it. */
export interface ImageResolver {
  resolve(ref: ImageRef, options: ResolveRequest): Promise<Resolution>;
  /** The answer `resolve` would give at once from the cache, when it has one; undefined when it would have to wait. */
  cached?(ref: ImageRef, credentials: CredentialChain): Resolution | undefined;
}

/** What an admission tells the resolver (the resolver's ResolveOptions). */
export interface ResolveRequest {
  readonly credentials: CredentialChain;
  readonly signal: AbortSignal;
  /** A revision's image its record does not hold yet: ask the registry. */
  readonly fresh?: boolean | undefined;
  /** The Pod's namespace and dryRun, for the tag ledger. */
  readonly scope?: ResolveScope | undefined;
}

/** The ImageSets the webhook watches: asked before any cache or registry, with no network. */
export interface ImageSetSource {
  /** What the ImageSets say about `ref`; undefined when none lists it. */
  lookup(ref: ImageRef): ImageSetAnswer | undefined;
  /** Whether ImageSets are the only source for `ref`'s registry (`--imageset-authoritative`): its registry is never asked. */
  authoritative(ref: ImageRef): boolean;
}

export interface AdmitDeps {
  readonly resolver: ImageResolver;
  readonly credentials: CredentialLookup;
  readonly skip: SkipList;
  readonly dropTag: boolean;
  /** Absent: no ImageSets (no cluster, or not configured). */
  readonly imageSets?: ImageSetSource | undefined;
  /** Also pin `RELATED_IMAGE_*` env values of containers (operator-sdk operators deploy those images). */
  readonly pinRelatedImages?: boolean | undefined;
  /** When pinRelatedImages is not true: whether a request's namespace opts in (the Namespace annotation). */
  readonly relatedImagesIn?: ((namespace: string | undefined) => boolean) | undefined;
  /** Moves an image to another registry or path before it is pinned (--config rewrites); throws on a bad result. */
  readonly rewrite?: ((ref: ImageRef) => ImageRef) | undefined;
  /** Records of revisions (PinRecords): every Pod of a revision gets the same digests. Absent: each Pod on its own. */
  readonly records?: RevisionRecords | undefined;
}

/** Where an admission's digest came from: the resolver's sources, an ImageSet, the revision's record, or its running Pods. */
export type AdmissionSource = ResolutionSource | 'imageset' | 'record' | 'siblings';

/** A resolved image as the admission reports it. */
export interface AdmissionResolution extends Omit<Resolution, 'source'> {
  readonly source: AdmissionSource;
  /** The ImageSet that gave the digest, when `source` is `imageset`. */
  readonly imageSet?: string | undefined;
}

/** Why an admission ended as it did, for logs and metrics. */
export type AdmissionOutcome = 'pinned' | 'unchanged' | 'ignored' | 'warned' | 'denied';

export interface AdmitResult {
  readonly response: AdmissionResponse;
  readonly outcome: AdmissionOutcome;
  readonly resolutions: readonly AdmissionResolution[];
  readonly failures: readonly ImageFailure[];
  /** Image fields not looked up at all (beyond the image limit, or after the deadline), when there were any. */
  readonly notAttempted?: number;
  /** The name of the Pod's revision's record (e.g. `replicaset.web-5d8f7c9b4`), when it has one. */
  readonly record?: string;
}

/** Reasons operators and tests can rely on. */
export const REASONS = {
  invalidReference: 'DP_ERR_INVALID_REFERENCE',
  /** A rewrite rule produced an invalid reference. */
  rewrite: 'DP_ERR_REWRITE',
  /** An ImageSet-authoritative registry's image that no ImageSet lists. */
  notInImageSet: 'DP_ERR_NOT_IN_IMAGESET',
  /** An ImageSet-authoritative registry's image that ImageSets list with different digests. */
  imageSetConflict: 'DP_ERR_IMAGESET_CONFLICT',
  unknown: 'DP_ERR_UNKNOWN',
} as const;

const NOTHING_TO_DO = (uid: string, outcome: AdmissionOutcome): AdmitResult => ({
  response: { uid, allowed: true },
  outcome,
  resolutions: [],
  failures: [],
});

/** Admits one request: pins what it can; warns or denies, per `mode`, about what it cannot. */
export async function admit(request: AdmissionRequest, mode: Mode, deps: AdmitDeps, deadline: Deadline): Promise<AdmitResult> {
  const kind = request.kind.kind;
  const location = podSpecLocation(kind);
  if (location === undefined || (request.operation !== 'CREATE' && request.operation !== 'UPDATE')) return NOTHING_TO_DO(request.uid, 'ignored');
  if (skipsControlledTemplate(kind, request.object)) return NOTHING_TO_DO(request.uid, 'ignored');

  const fields = imagesToPin({
    kind,
    operation: request.operation,
    subResource: request.subResource,
    object: request.object,
    oldObject: request.oldObject,
    relatedImages: deps.pinRelatedImages === true || deps.relatedImagesIn?.(request.namespace) === true,
  });
  const podSpec = valueAt(request.object, location.specPointer);
  const credentials: CredentialContext = { namespace: request.namespace, kind, podSpec, deadline };
  const { admitted, beyond, distinct } = withinImageLimit(fields);
  const unattempted: Unattempted = { kind, fields: beyond.length, distinctImages: distinct, maxImages: MAX_IMAGES_PER_ADMISSION };
  if (beyond.length > 0 && mode === 'strict') return { ...denied(request.uid, tooManyImagesMessage(unattempted), [], []), notAttempted: fields.length };
  const session = await openRecord(request, deps, deadline);
  const context: FieldContext = { credentials, deadline, session, scope: { namespace: request.namespace, dryRun: request.dryRun } };
  const run = await boundedFanOut(admitted, (field) => pinField(field, deps, context), deadline);
  const notAttempted: Unattempted = { ...unattempted, fields: beyond.length + run.notStarted };

  const resolved = gather(run.outcomes);
  if ((resolved.failures.length > 0 || notAttempted.fields > 0) && mode === 'strict') {
    return { ...denied(request.uid, denialMessage(resolved.failures, notAttempted), resolved.resolutions, resolved.failures), ...notAttemptedField(notAttempted) };
  }
  const { pins, failures, resolutions, notes, revisionNotes } = await recorded(run.outcomes, session, deps, deadline);
  const ops = buildPatch({ object: request.object, kind, pins });
  const response: AdmissionResponse = {
    uid: request.uid,
    allowed: true,
    ...patchFields(ops),
    ...(failures.length + notes.length + revisionNotes.length + notAttempted.fields > 0 ? { warnings: failureWarnings(failures, notes, notAttempted, revisionNotes) } : {}),
  };
  const outcome: AdmissionOutcome = failures.length + notAttempted.fields > 0 ? 'warned' : ops.length > 0 ? 'pinned' : 'unchanged';
  return { response, outcome, resolutions, failures, ...notAttemptedField(notAttempted), ...recordField(session) };
}

/**
 * The outcomes once the revision's record holds them: what this admission resolved afresh is
 * written, and where another replica recorded a digest first, it wins. Unchanged without a record.
 */
async function recorded(
  outcomes: readonly (FieldOutcome | undefined)[],
  session: RecordSession | undefined,
  deps: AdmitDeps,
  deadline: Deadline,
): Promise<Gathered & { readonly revisionNotes: readonly string[] }> {
  const resolved = gather(outcomes);
  if (session === undefined) return { ...resolved, revisionNotes: [] };
  const settled = await session.settle(resolved.fresh, deadline.signal);
  const final = settled.winners.size === 0 ? resolved : gather(outcomes.map((outcome) => withWinner(outcome, settled.winners, deps)));
  return { ...final, revisionNotes: [...session.notes(), ...settled.notes] };
}

/** AdmitResult's `record`, when the Pod has a revision's record. */
function recordField(session: RecordSession | undefined): Pick<AdmitResult, 'record'> {
  return session === undefined ? {} : { record: session.name };
}

/** The record of a Pod's revision, when records are on and this is a Pod's creation. */
async function openRecord(request: AdmissionRequest, deps: AdmitDeps, deadline: Deadline): Promise<RecordSession | undefined> {
  if (deps.records === undefined || request.kind.kind !== 'Pod' || request.operation !== 'CREATE' || request.subResource !== undefined) return undefined;
  return deps.records.open({ object: request.object, namespace: request.namespace, dryRun: request.dryRun }, deadline);
}

/** An outcome with the digest another replica recorded first for its field and image, when there is one: the record wins, so every Pod of the revision agrees. */
function withWinner(outcome: FieldOutcome | undefined, winners: ReadonlyMap<string, string>, deps: AdmitDeps): FieldOutcome | undefined {
  const fresh = outcome?.fresh;
  const digest = fresh === undefined ? undefined : winners.get(pinKey(fresh.field, fresh.image));
  if (outcome?.pin === undefined || outcome.resolution === undefined || digest === undefined) return outcome;
  const { ref } = outcome.resolution;
  return {
    pin: { field: outcome.pin.field, pinned: pinnedReference(ref, digest, { dropTag: deps.dropTag }) },
    resolution: { ref, digest, source: 'record', credential: undefined },
  };
}

function notAttemptedField(unattempted: Unattempted): Pick<AdmitResult, 'notAttempted'> {
  return unattempted.fields > 0 ? { notAttempted: unattempted.fields } : {};
}

function denied(uid: string, message: string, resolutions: AdmissionResolution[], failures: ImageFailure[]): AdmitResult {
  return { response: { uid, allowed: false, status: { code: 403, reason: 'Forbidden', message } }, outcome: 'denied', resolutions, failures };
}

/** `patchType` and `patch` together or not at all: kube-apiserver rejects one without the other. */
function patchFields(ops: readonly PatchOperation[]): Pick<AdmissionResponse, 'patch' | 'patchType'> {
  if (ops.length === 0) return {};
  return { patchType: 'JSONPatch', patch: encodePatch(ops) };
}

/** The fields' outcomes, sorted by kind, in field order. */
function gather(settled: readonly (FieldOutcome | undefined)[]): Gathered {
  const gathered = { pins: [] as Pin[], failures: [] as ImageFailure[], resolutions: [] as AdmissionResolution[], notes: [] as ImageNote[], fresh: [] as FreshPin[] };
  for (const outcome of settled) {
    if (outcome === undefined) continue;
    if (outcome.pin !== undefined) gathered.pins.push(outcome.pin);
    if (outcome.failure !== undefined) gathered.failures.push(outcome.failure);
    if (outcome.resolution !== undefined) gathered.resolutions.push(outcome.resolution);
    if (outcome.note !== undefined) gathered.notes.push(outcome.note);
    if (outcome.fresh !== undefined) gathered.fresh.push(outcome.fresh);
  }
  return gathered;
}

interface Gathered {
  readonly pins: Pin[];
  readonly failures: ImageFailure[];
  readonly resolutions: AdmissionResolution[];
  readonly notes: ImageNote[];
  /** Digests found for the revision that its record does not hold yet. */
  readonly fresh: FreshPin[];
}

interface FieldOutcome {
  readonly pin?: Pin;
  readonly resolution?: AdmissionResolution;
  /** Pinned, with a warning for the user (a stale digest). */
  readonly note?: ImageNote;
  readonly failure?: ImageFailure;
  /** A digest for the revision's record: resolved, or what the revision's running Pods agree on. */
  readonly fresh?: FreshPin;
}

/** What every field of one admission shares. */
interface FieldContext {
  readonly credentials: CredentialContext;
  readonly deadline: Deadline;
  /** The revision's record; undefined for a Pod of no recorded revision. */
  readonly session: RecordSession | undefined;
  /** Who asks, for the tag ledger. */
  readonly scope: ResolveScope;
}

async function pinField(field: ImageField, deps: AdmitDeps, context: FieldContext): Promise<FieldOutcome> {
  const where = `${field.location}/${field.name}`;
  let ref: ImageRef;
  try {
    ref = parseImage(field.image);
  } catch (error) {
    return { failure: { where, image: field.image, reason: describeError(error), code: REASONS.invalidReference } };
  }
  // Skip globs match what the user wrote, before any rewrite.
  if (deps.skip.matches(ref)) return {};
  let target: ImageRef;
  try {
    target = deps.rewrite?.(ref) ?? ref;
  } catch (error) {
    return { failure: { where, image: field.image, reason: describeError(error), code: REASONS.rewrite } };
  }
  if (ref.digest !== undefined) return alreadyPinned(field, ref, target, deps);
  const fromImageSets = imageSetOutcome(field, target, deps);
  if (fromImageSets !== undefined) return fromImageSets;
  // Before credentials and caches see it: a host no DNS name can have may be a megabyte long
  // (and is no registry, so its failure names none).
  const badHost = invalidRegistryHost(target.domain);
  if (badHost !== undefined) return { failure: { where, image: field.image, reason: badHost.message, code: badHost.code } };
  return recordedOutcome(field, target, context.session, deps) ?? (await resolveField(field, target, deps, context));
}

/** Resolves one field's image: from the cache when it can, afresh from the registry for a revision's record. */
async function resolveField(field: ImageField, target: ImageRef, deps: AdmitDeps, context: FieldContext): Promise<FieldOutcome> {
  const where = `${field.location}/${field.name}`;
  try {
    // Credentials for the registry actually contacted: the rewritten one.
    const credentials = await deps.credentials(target, context.credentials);
    // A revision's image its record lacks asks the registry; any other is answered from the cache when it can
    // (no deadline signal, timer or promise chain for a cache hit).
    const fresh = context.session !== undefined;
    const resolution = (fresh ? undefined : deps.resolver.cached?.(target, credentials))
      ?? (await deps.resolver.resolve(target, { credentials, signal: context.deadline.signal, fresh, scope: context.scope }));
    const pin = { field, pinned: pinnedReference(target, resolution.digest, { dropTag: deps.dropTag }) };
    // A fresh lookup never takes the ledger's answer.
    const recordAs = fresh && resolution.source !== 'pinned' && resolution.source !== 'ledger' ? { fresh: { field: where, image: taggedName(target), digest: resolution.digest, source: resolution.source } } : {};
    if (resolution.warning === undefined) return { resolution, pin, ...recordAs };
    return { resolution, pin, note: { where, image: field.image, text: resolution.warning }, ...recordAs };
  } catch (error) {
    const code = error instanceof DigestPinnerError ? error.code : REASONS.unknown;
    return { failure: { where, image: field.image, reason: failureReason(error), code, detail: failureDetail(error), registry: target.domain } };
  }
}

/** The digest the revision's record (or its running Pods) gives this field and image; undefined: resolve it. */
function recordedOutcome(field: ImageField, target: ImageRef, session: RecordSession | undefined, deps: AdmitDeps): FieldOutcome | undefined {
  const where = `${field.location}/${field.name}`;
  const image = taggedName(target);
  const recorded = session?.recorded(where, image);
  if (recorded === undefined) return undefined;
  const pin = { field, pinned: pinnedReference(target, recorded.digest, { dropTag: deps.dropTag }) };
  const resolution: AdmissionResolution = { ref: target, digest: recorded.digest, source: recorded.source, credential: undefined };
  // Running siblings' digest goes into the record; a recorded one is there already.
  return recorded.source === 'siblings' ? { pin, resolution, fresh: { field: where, image, digest: recorded.digest, source: 'siblings' } } : { pin, resolution };
}

/** A reference that carries its digest: nothing to resolve; moved only when a rewrite applies. */
function alreadyPinned(field: ImageField, ref: ImageRef, target: ImageRef, deps: AdmitDeps): FieldOutcome {
  const digest = ref.digest ?? '';
  // Counted even when unchanged: metrics show how much arrives pinned.
  const resolution: AdmissionResolution = { ref: target, digest, source: 'pinned', credential: undefined };
  if (target === ref) return { resolution };
  return { resolution, pin: { field, pinned: pinnedReference(target, digest, { dropTag: deps.dropTag }) } };
}

/**
 * The outcome an ImageSet decides: a pin from an entry, or, on an authoritative
 * registry, a failure when no entry answers (missing, or conflicting). Undefined
 * when the resolver should be asked (no ImageSets, or not listed / conflicting on
 * a registry that is not authoritative).
 */
function imageSetOutcome(field: ImageField, ref: ImageRef, deps: AdmitDeps): FieldOutcome | undefined {
  const imageSets = deps.imageSets;
  if (imageSets === undefined) return undefined;
  const answer = imageSets.lookup(ref);
  if (answer?.kind === 'hit') {
    return {
      resolution: { ref, digest: answer.digest, source: 'imageset', credential: undefined, imageSet: answer.imageSet },
      pin: { field, pinned: pinnedReference(ref, answer.digest, { dropTag: deps.dropTag }) },
    };
  }
  if (!imageSets.authoritative(ref)) return undefined;
  const where = `${field.location}/${field.name}`;
  if (answer === undefined) {
    const reason = `not in any ImageSet, and ImageSets are authoritative for ${ref.domain} (its registry is never asked)`;
    return { failure: { where, image: field.image, reason, code: REASONS.notInImageSet, registry: ref.domain } };
  }
  const { conflict } = answer;
  const reason = `ImageSets ${conflict.imageSets.join(', ')} give it different digests (${conflict.digests.join(', ')}), and ImageSets are authoritative for ${ref.domain}`;
  return { failure: { where, image: field.image, reason, code: REASONS.imageSetConflict, registry: ref.domain } };
}
