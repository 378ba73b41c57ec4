/** The kube stage's structural contracts line up with what serve.ts will pass in (checked by tsc). */
import type { FastifyBaseLogger } from 'fastify';
import { describe, expectTypeOf, it } from 'vitest';
import type { AdmissionRequest } from '../../src/admission/types.js';
import type { ImageFailure } from '../../src/admission/warnings.js';
import type { AdmittedObject, FailedImage, KubeLogger, RecordOutcome } from '../../src/kube/index.js';
import type { Metrics } from '../../src/metrics/metrics.js';

describe('contracts with the rest of the webhook', () => {
  it('takes fastify logger, admission request and failures, and metrics hook as they are', () => {
    expectTypeOf<FastifyBaseLogger>().toExtend<KubeLogger>();
    expectTypeOf<AdmissionRequest>().toExtend<AdmittedObject>();
    expectTypeOf<ImageFailure>().toExtend<FailedImage>();
    expectTypeOf<Metrics['eventRecorded']>().toExtend<(outcome: RecordOutcome) => void>();
  });
});
