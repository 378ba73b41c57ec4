import type { EventsV1Event } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { AdmissionRequest } from '../../src/admission/types.js';
import type { ImageFailure } from '../../src/admission/warnings.js';
import {
  eventBody,
  EventRecorder,
  failureNote,
  regardingObject,
  truncateBytes,
  MAX_NOTE_BYTES,
  type AdmittedObject,
  type EventSink,
  type FailedImage,
  type RecordOutcome,
} from '../../src/kube/events.js';

const FAILURE: FailedImage = { where: 'containers/app', image: 'quay.io/team/app:1', reason: 'manifest unknown', code: 'DP_ERR_MANIFEST_UNKNOWN' };
const NOW = new Date('2026-03-04T05:06:07.089Z');

const admitted = (overrides: Partial<AdmittedObject> = {}): AdmittedObject => ({
  kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
  namespace: 'team-a',
  name: 'web',
  object: { metadata: { name: 'web', namespace: 'team-a' } },
  dryRun: false,
  ...overrides,
});

/** A sink that keeps what it is given; `fail` makes it reject, `hang` never answers (until aborted). */
function recordingSink(behaviour: 'ok' | 'fail' | 'hang' = 'ok') {
  const created: { namespace: string; event: EventsV1Event }[] = [];
  const sink: EventSink = {
    create: (namespace, event, signal) => {
      created.push({ namespace, event });
      if (behaviour === 'fail') return Promise.reject(new Error('HTTP 403: forbidden'));
      if (behaviour === 'hang') {
        return new Promise((_resolve, reject) => {
          signal.addEventListener('abort', () => { reject(signal.reason instanceof Error ? signal.reason : new Error('aborted')); });
        });
      }
      return Promise.resolve();
    },
  };
  return { sink, created };
}

describe('regardingObject', () => {
  it('is the object itself when it has a name', () => {
    expect(regardingObject(admitted())).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'team-a', name: 'web' });
  });

  it('carries the uid when the object has one (UPDATE)', () => {
    const object = { metadata: { name: 'web', namespace: 'team-a', uid: 'u-1' } };
    expect(regardingObject(admitted({ object }))?.uid).toBe('u-1');
  });

  it('writes core objects as v1', () => {
    expect(regardingObject(admitted({ kind: { group: '', version: 'v1', kind: 'Pod' }, name: 'p' }))).toMatchObject({ apiVersion: 'v1', kind: 'Pod', name: 'p' });
  });

  it('for a Pod without a name (generateName), is its controller owner', () => {
    const object = {
      metadata: {
        generateName: 'web-5d4f8c-',
        namespace: 'team-a',
        ownerReferences: [
          { apiVersion: 'v1', kind: 'ConfigMap', name: 'not-controller', uid: 'x' },
          { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-5d4f8c', uid: 'rs-uid', controller: true },
        ],
      },
    };
    expect(regardingObject(admitted({ kind: { group: '', version: 'v1', kind: 'Pod' }, name: undefined, object }))).toEqual({
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      namespace: 'team-a',
      name: 'web-5d4f8c',
      uid: 'rs-uid',
    });
  });

  it('for a nameless object without a controller, is the Namespace (kept in that namespace)', () => {
    const object = { metadata: { generateName: 'job-', ownerReferences: [{ apiVersion: 'v1', kind: 'X', name: 'y', controller: false }] } };
    expect(regardingObject(admitted({ name: '', object }))).toEqual({ apiVersion: 'v1', kind: 'Namespace', namespace: 'team-a', name: 'team-a' });
  });

  it('is undefined without a namespace', () => {
    expect(regardingObject(admitted({ namespace: undefined, object: {} }))).toBeUndefined();
  });

  it('accepts an AdmissionRequest as it is', () => {
    const request: AdmissionRequest = {
      uid: 'r',
      kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
      subResource: undefined,
      name: 'web',
      namespace: 'team-a',
      operation: 'CREATE',
      object: {},
      oldObject: undefined,
      dryRun: false,
    };
    const failures: readonly ImageFailure[] = [FAILURE];
    const recorder = new EventRecorder({ sink: recordingSink().sink, reportingInstance: 'pod-1' });
    recorder.recordFailures(request, failures);
    expect(regardingObject(request)?.name).toBe('web');
  });
});

describe('eventBody', () => {
  it('is an events.k8s.io/v1 Warning with reason, action, controller and instance', () => {
    const body = eventBody({ dryRun: false, regarding: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'team-a', name: 'web' }, failure: FAILURE }, { reportingInstance: 'dp-0', now: NOW });
    expect(body).toMatchObject({
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { namespace: 'team-a' },
      reportingController: 'digest-pinner.io/webhook',
      reportingInstance: 'dp-0',
      action: 'PinImage',
      reason: 'ImageNotPinned',
      type: 'Warning',
      regarding: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'team-a', name: 'web' },
      note: 'containers/app image "quay.io/team/app:1" not pinned to a digest: manifest unknown (DP_ERR_MANIFEST_UNKNOWN)',
    });
    expect(body.metadata?.name).toMatch(/^web\.[0-9a-f]+$/);
    // MicroTime: six fractional digits, as kube-apiserver requires.
    expect(JSON.parse(JSON.stringify({ t: body.eventTime }))).toEqual({ t: '2026-03-04T05:06:07.089000Z' });
  });

  it('names events uniquely and validly for long or odd object names', () => {
    const regarding = { apiVersion: 'v1', kind: 'Pod', namespace: 'n', name: `${'a'.repeat(199)}-x` };
    const names = new Set(Array.from({ length: 50 }, () => eventBody({ dryRun: false, regarding, failure: FAILURE }, { reportingInstance: 'i', now: NOW }).metadata?.name));
    expect(names.size).toBe(50);
    for (const name of names) {
      expect(name?.length).toBeLessThanOrEqual(253);
      expect(name).toMatch(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
      expect(name).not.toMatch(/[-.]\./);
    }
  });
});

describe('failureNote and truncateBytes', () => {
  it('bounds the note to 1 KiB of UTF-8 on a character boundary', () => {
    const note = failureNote({ ...FAILURE, reason: '€'.repeat(2000) });
    expect(Buffer.byteLength(note)).toBeLessThanOrEqual(MAX_NOTE_BYTES);
    expect(note.endsWith('…')).toBe(true);
    expect(note).not.toContain('\uFFFD');
  });

  it('leaves short text alone', () => {
    expect(truncateBytes('short', 10)).toBe('short');
    expect(truncateBytes('exactly10!', 10)).toBe('exactly10!');
    expect(truncateBytes('eleven char', 10)).toBe('eleven …');
  });
});

describe('EventRecorder', () => {
  it('creates one Event per failure in the object namespace', async () => {
    const { sink, created } = recordingSink();
    const outcomes: RecordOutcome[] = [];
    const recorder = new EventRecorder({ sink, reportingInstance: 'dp-0', onRecorded: (o) => outcomes.push(o) });
    recorder.recordFailures(admitted(), [FAILURE, { ...FAILURE, where: 'containers/side', image: 'quay.io/team/side:2' }]);
    await recorder.drain();
    expect(created.map((c) => [c.namespace, c.event.note])).toEqual([
      ['team-a', expect.stringContaining('quay.io/team/app:1')],
      ['team-a', expect.stringContaining('quay.io/team/side:2')],
    ]);
    expect(outcomes).toEqual(['created', 'created']);
  });

  it('refuses to record a dry run', async () => {
    const { sink, created } = recordingSink();
    const outcomes: RecordOutcome[] = [];
    const recorder = new EventRecorder({ sink, reportingInstance: 'dp-0', onRecorded: (o) => outcomes.push(o) });
    recorder.recordFailures(admitted({ dryRun: true }), [FAILURE]);
    const regarding = { apiVersion: 'v1', kind: 'Namespace', namespace: 'team-a', name: 'team-a' };
    await expect(recorder.record({ dryRun: true, regarding, failure: FAILURE })).resolves.toBe('dry-run');
    await recorder.drain();
    expect(created).toEqual([]);
    expect(outcomes).toEqual([]);
    // A dry run does not use up the de-duplication window either.
    await expect(recorder.record({ dryRun: false, regarding, failure: FAILURE })).resolves.toBe('created');
  });

  it('records the same (object, image, failure) once per window', async () => {
    const { sink, created } = recordingSink();
    const outcomes: RecordOutcome[] = [];
    let clock = NOW.getTime();
    const recorder = new EventRecorder({ sink, reportingInstance: 'dp-0', onRecorded: (o) => outcomes.push(o), dedupTtlMs: 1_000, now: () => new Date(clock) });
    recorder.recordFailures(admitted(), [FAILURE]);
    recorder.recordFailures(admitted(), [FAILURE]);
    recorder.recordFailures(admitted({ name: 'other', object: {} }), [FAILURE]);
    recorder.recordFailures(admitted(), [{ ...FAILURE, code: 'DP_ERR_REGISTRY_AUTH' }]);
    await recorder.drain();
    // A duplicate is counted at once; creates when the API has answered.
    expect(outcomes).toEqual(['deduplicated', 'created', 'created', 'created']);
    expect(created).toHaveLength(3);
    // Still inside the window, then past it.
    clock += 999;
    recorder.recordFailures(admitted(), [FAILURE]);
    await recorder.drain();
    expect(created).toHaveLength(3);
    clock += 2;
    recorder.recordFailures(admitted(), [FAILURE]);
    await recorder.drain();
    expect(created).toHaveLength(4);
  });

  it('remembers keys by bytes as well as by count: images of a megabyte each push the oldest out', async () => {
    const { sink } = recordingSink();
    const outcomes: RecordOutcome[] = [];
    const recorder = new EventRecorder({ sink, reportingInstance: 'dp-0', onRecorded: (o) => outcomes.push(o) });
    const huge = (n: number): FailedImage => ({ ...FAILURE, image: `${String(n)}${'x'.repeat(1024 * 1024)}`, code: 'DP_ERR_INVALID_REFERENCE' });
    for (let n = 0; n < 8; n += 1) recorder.recordFailures(admitted(), [huge(n)]);
    await recorder.drain();
    recorder.recordFailures(admitted(), [huge(7)]);
    recorder.recordFailures(admitted(), [huge(0)]);
    await recorder.drain();
    expect(outcomes.slice(8)).toEqual(['deduplicated', 'created']);
  });

  it('never rejects: a failed create is counted, reported and may be retried', async () => {
    const { sink, created } = recordingSink('fail');
    const outcomes: RecordOutcome[] = [];
    const errors: string[] = [];
    const recorder = new EventRecorder({
      sink,
      reportingInstance: 'dp-0',
      onRecorded: (o) => outcomes.push(o),
      onError: (error, event) => errors.push(`${event.regarding.kind}/${event.regarding.name} ${event.image}: ${String(error)}`),
    });
    const regarding = { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'team-a', name: 'web' };
    await expect(recorder.record({ dryRun: false, regarding, failure: FAILURE })).resolves.toBe('failed');
    await expect(recorder.record({ dryRun: false, regarding, failure: FAILURE })).resolves.toBe('failed');
    expect(created).toHaveLength(2);
    expect(outcomes).toEqual(['failed', 'failed']);
    expect(errors).toEqual([
      'Deployment/web quay.io/team/app:1: Error: HTTP 403: forbidden',
      'Deployment/web quay.io/team/app:1: Error: HTTP 403: forbidden',
    ]);
  });

  it('gives up on a create that does not answer within the timeout, without holding up the caller', async () => {
    const { sink } = recordingSink('hang');
    const outcomes: RecordOutcome[] = [];
    const errors: unknown[] = [];
    const recorder = new EventRecorder({ sink, reportingInstance: 'dp-0', timeoutMs: 100, onRecorded: (o) => outcomes.push(o), onError: (e) => errors.push(e) });
    recorder.recordFailures(admitted(), [FAILURE]);
    // Back while the create still hangs: its outcome comes later.
    expect(outcomes).toEqual([]);
    await recorder.drain();
    expect(outcomes).toEqual(['failed']);
    expect(errors).toEqual([expect.objectContaining({ name: 'TimeoutError' })]);
  });

  it('cuts reportingInstance to 128 characters', async () => {
    const { sink, created } = recordingSink();
    const recorder = new EventRecorder({ sink, reportingInstance: 'x'.repeat(300) });
    recorder.recordFailures(admitted(), [FAILURE]);
    await recorder.drain();
    expect(created[0]?.event.reportingInstance).toHaveLength(128);
  });
});
