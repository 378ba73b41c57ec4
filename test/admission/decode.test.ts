import { describe, expect, it } from 'vitest';
import { decodeReview, InvalidReviewError, reviewUid } from '../../src/admission/index.js';

const review = (request: unknown, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request,
  ...extra,
});

const podRequest = {
  uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
  kind: { group: '', version: 'v1', kind: 'Pod' },
  resource: { group: '', version: 'v1', resource: 'pods' },
  namespace: 'team-a',
  operation: 'CREATE',
  object: { spec: { containers: [] } },
  oldObject: null,
  dryRun: false,
};

describe('decodeReview', () => {
  it('returns the request fields the webhook reads', () => {
    const request = decodeReview(review(podRequest));
    expect(request).toMatchObject({
      uid: podRequest.uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      namespace: 'team-a',
      operation: 'CREATE',
      dryRun: false,
      subResource: undefined,
      oldObject: undefined,
    });
  });

  it.each([
    ['a non-object body', [], 'body must be a JSON object'],
    ['a v1beta1 review', { ...review(podRequest), apiVersion: 'admission.k8s.io/v1beta1' }, 'apiVersion must be "admission.k8s.io/v1"'],
    ['a different kind', { ...review(podRequest), kind: 'ConfigMap' }, 'kind must be "AdmissionReview", got "ConfigMap"'],
    ['no request', { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }, 'request is required'],
    ['no uid', review({ ...podRequest, uid: undefined }), 'request.uid is required'],
    ['a numeric uid', review({ ...podRequest, uid: 7 }), 'request.uid must be a string'],
    ['an unknown operation', review({ ...podRequest, operation: 'PATCH' }), 'request.operation "PATCH" is not one of'],
    ['no kind', review({ ...podRequest, kind: undefined }), 'request.kind must be an object'],
  ])('rejects %s with a message naming the problem', (_name, body, message) => {
    expect(() => decodeReview(body)).toThrow(InvalidReviewError);
    expect(() => decodeReview(body)).toThrow(message);
  });

  it('reads dryRun and subResource', () => {
    const request = decodeReview(review({ ...podRequest, operation: 'UPDATE', subResource: 'ephemeralcontainers', dryRun: true }));
    expect(request.subResource).toBe('ephemeralcontainers');
    expect(request.dryRun).toBe(true);
  });
});

describe('reviewUid', () => {
  it('finds the uid of an otherwise invalid review', () => {
    expect(reviewUid({ request: { uid: 'abc' } })).toBe('abc');
  });
  it('is undefined when there is none', () => {
    expect(reviewUid('nope')).toBeUndefined();
    expect(reviewUid({ request: { uid: 3 } })).toBeUndefined();
  });
});
