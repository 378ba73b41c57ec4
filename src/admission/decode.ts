/** Decodes and validates an AdmissionReview body from kube-apiserver. */
import { DigestPinnerError } from '../errors.js';
import { isRecord, member, stringAt } from '../json.js';
import { ADMISSION_API_VERSION, type AdmissionRequest, type GroupVersionKind, type Operation } from './types.js';

/** The body is not an admission.k8s.io/v1 AdmissionReview the webhook can answer. */
export class InvalidReviewError extends DigestPinnerError {
  readonly code = 'DP_ERR_INVALID_REVIEW';
  readonly statusCode = 400;

  constructor(detail: string) {
    super(`invalid AdmissionReview: ${detail}`);
  }
}

const OPERATIONS: ReadonlySet<string> = new Set<Operation>(['CREATE', 'UPDATE', 'DELETE', 'CONNECT']);

function optionalString(object: unknown, field: string, at: string): string | undefined {
  const value = member(object, field);
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw new InvalidReviewError(`${at}.${field} must be a string`);
  return value;
}

function requiredString(object: unknown, field: string, at: string): string {
  const value = optionalString(object, field, at);
  if (value === undefined) throw new InvalidReviewError(`${at}.${field} is required`);
  return value;
}

function decodeKind(value: unknown): GroupVersionKind {
  if (!isRecord(value)) throw new InvalidReviewError('request.kind must be an object with group, version and kind');
  return {
    group: optionalString(value, 'group', 'request.kind') ?? '',
    version: requiredString(value, 'version', 'request.kind'),
    kind: requiredString(value, 'kind', 'request.kind'),
  };
}

/** Validates `body` and returns its request; throws InvalidReviewError naming the first problem. */
export function decodeReview(body: unknown): AdmissionRequest {
  if (!isRecord(body)) throw new InvalidReviewError('body must be a JSON object');
  const kind = member(body, 'kind');
  if (kind !== 'AdmissionReview') throw new InvalidReviewError(`kind must be "AdmissionReview", got ${JSON.stringify(kind ?? null)}`);
  const apiVersion = member(body, 'apiVersion');
  if (apiVersion !== ADMISSION_API_VERSION) {
    throw new InvalidReviewError(`apiVersion must be "${ADMISSION_API_VERSION}" (the only version this webhook speaks; set admissionReviewVersions: ["v1"]), got ${JSON.stringify(apiVersion ?? null)}`);
  }
  const request = member(body, 'request');
  if (!isRecord(request)) throw new InvalidReviewError('request is required');
  const operation = requiredString(request, 'operation', 'request');
  if (!OPERATIONS.has(operation)) throw new InvalidReviewError(`request.operation ${JSON.stringify(operation)} is not one of CREATE, UPDATE, DELETE, CONNECT`);
  return {
    uid: requiredString(request, 'uid', 'request'),
    kind: decodeKind(member(request, 'kind')),
    subResource: optionalString(request, 'subResource', 'request'),
    name: optionalString(request, 'name', 'request'),
    namespace: optionalString(request, 'namespace', 'request'),
    operation: operation as Operation,
    object: member(request, 'object') ?? undefined,
    oldObject: member(request, 'oldObject') ?? undefined,
    dryRun: member(request, 'dryRun') === true,
  };
}

/** The uid of a body, when it has one, so even a rejected review can be answered by uid. */
export function reviewUid(body: unknown): string | undefined {
  return stringAt(member(body, 'request'), 'uid');
}
