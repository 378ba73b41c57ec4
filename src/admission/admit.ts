/**
 * The admission handler, as a straight line: filter → find images → parse → resolve →
 * patch → respond. Pure except for the resolver and credential lookup it is given.
 */
import type { Operation as PatchOperation } from 'fast-json-patch';
import { describeError, DigestPinnerError } from '../errors.js';
import { parseImage, pinnedReference, normalizedString } from '../reference/index.js';
import type { ImageRef } from '../reference/types.js';
import { failureReason, type CredentialChain, type Resolution } from '../resolve/index.js';
import { imagesToPin, skipsControlledTemplate, podSpecLocation, valueAt, type ImageField } from '../workload/index.js';
import { buildPatch, encodePatch, type Pin } from '../patch/index.js';
import type { SkipList } from './skip.js';
import { denialMessage, failureWarnings, type ImageFailure } from './warnings.js';
import type { AdmissionRequest, AdmissionResponse, Mode } from './types.js';

/** Resolves one reference; the webhook's Resolver satisfies it. */
export interface ImageResolver {
  resolve(ref: ImageRef, options: { credentials: CredentialChain; signal: AbortSignal }): Promise<Resolution>;
}

/** What an admission needs to know to pick credentials for an image. */
export interface CredentialContext {
  readonly namespace: string | undefined;
  readonly kind: string;
  /** The pod spec (imagePullSecrets, serviceAccountName), untrusted JSON. */
  readonly podSpec: unknown;
}

/** Finds the credentials to try for one image, in order. */
export type CredentialLookup = (ref: ImageRef, context: CredentialContext) => Promise<CredentialChain>;

export interface AdmitDeps {
  readonly resolver: ImageResolver;
  readonly credentials: CredentialLookup;
  readonly skip: SkipList;
  readonly dropTag: boolean;
}

/** Why an admission ended as it did, for logs and metrics. */
export type AdmissionOutcome = 'pinned' | 'unchanged' | 'ignored' | 'warned' | 'denied';

export interface AdmitResult {
  readonly response: AdmissionResponse;
  readonly outcome: AdmissionOutcome;
  readonly resolutions: readonly Resolution[];
  readonly failures: readonly ImageFailure[];
}

/** Reasons operators and tests can rely on. */
export const REASONS = {
  invalidReference: 'DP_ERR_INVALID_REFERENCE',
  unknown: 'DP_ERR_UNKNOWN',
} as const;

const NOTHING_TO_DO = (uid: string, outcome: AdmissionOutcome): AdmitResult => ({
  response: { uid, allowed: true },
  outcome,
  resolutions: [],
  failures: [],
});

/** Admits one request: pins what it can; warns or denies, per `mode`, about what it cannot. */
export async function admit(request: AdmissionRequest, mode: Mode, deps: AdmitDeps, signal: AbortSignal): Promise<AdmitResult> {
  const kind = request.kind.kind;
  const location = podSpecLocation(kind);
  if (location === undefined || (request.operation !== 'CREATE' && request.operation !== 'UPDATE')) {
    return NOTHING_TO_DO(request.uid, 'ignored');
  }
  if (skipsControlledTemplate(kind, request.object)) return NOTHING_TO_DO(request.uid, 'ignored');

  const fields = imagesToPin({
    kind,
    operation: request.operation,
    subResource: request.subResource,
    object: request.object,
    oldObject: request.oldObject,
  });
  const context: CredentialContext = { namespace: request.namespace, kind, podSpec: valueAt(request.object, location.specPointer) };
  const settled = await Promise.all(fields.map((field) => pinField(field, deps, context, signal)));

  const pins = settled.flatMap((s) => (s.pin === undefined ? [] : [s.pin]));
  const failures = settled.flatMap((s) => (s.failure === undefined ? [] : [s.failure]));
  const resolutions = settled.flatMap((s) => (s.resolution === undefined ? [] : [s.resolution]));

  if (failures.length > 0 && mode === 'strict') {
    return {
      response: { uid: request.uid, allowed: false, status: { code: 403, reason: 'Forbidden', message: denialMessage(failures) } },
      outcome: 'denied',
      resolutions,
      failures,
    };
  }
  const ops = buildPatch({ object: request.object, kind, pins });
  const response: AdmissionResponse = {
    uid: request.uid,
    allowed: true,
    ...patchFields(ops),
    ...(failures.length > 0 ? { warnings: failureWarnings(failures) } : {}),
  };
  const outcome: AdmissionOutcome = failures.length > 0 ? 'warned' : ops.length > 0 ? 'pinned' : 'unchanged';
  return { response, outcome, resolutions, failures };
}

/** `patchType` and `patch` together or not at all: kube-apiserver rejects one without the other. */
function patchFields(ops: readonly PatchOperation[]): Pick<AdmissionResponse, 'patch' | 'patchType'> {
  if (ops.length === 0) return {};
  return { patchType: 'JSONPatch', patch: encodePatch(ops) };
}

interface FieldOutcome {
  readonly pin?: Pin;
  readonly resolution?: Resolution;
  readonly failure?: ImageFailure;
}

async function pinField(field: ImageField, deps: AdmitDeps, context: CredentialContext, signal: AbortSignal): Promise<FieldOutcome> {
  const where = `${field.location}/${field.name}`;
  let ref: ImageRef;
  try {
    ref = parseImage(field.image);
  } catch (error) {
    return { failure: { where, image: field.image, reason: describeError(error), code: REASONS.invalidReference } };
  }
  // Already pinned: nothing to patch, but counted (metrics show how much arrives pinned).
  if (ref.digest !== undefined) return { resolution: { ref, digest: ref.digest, source: 'pinned', credential: undefined } };
  if (deps.skip.matches(normalizedString(ref))) return {};
  try {
    const credentials = await deps.credentials(ref, context);
    const resolution = await deps.resolver.resolve(ref, { credentials, signal });
    return { resolution, pin: { field, pinned: pinnedReference(ref, resolution.digest, { dropTag: deps.dropTag }) } };
  } catch (error) {
    const code = error instanceof DigestPinnerError ? error.code : REASONS.unknown;
    return { failure: { where, image: field.image, reason: failureReason(error), code } };
  }
}
