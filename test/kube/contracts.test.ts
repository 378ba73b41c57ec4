/** The kube stage's structural contracts line up with what serve.ts will pass in (checked by tsc). */
import type { FastifyBaseLogger } from 'fastify';
import { describe, expectTypeOf, it } from 'vitest';
import type { AdmissionRequest } from '../../src/admission/types.js';
import type { ImageFailure } from '../../src/admission/warnings.js';
import type { AdmittedObject, FailedImage, KubeLogger, OwnCredentials, RecordOutcome } from '../../src/kube/index.js';
import type { CredentialChain as KubeCredentialChain } from '../../src/kube/index.js';
import type { DockerConfigCredentials } from '../../src/registry/docker-config.js';
import type { CredentialChain } from '../../src/resolve/index.js';
import type { Metrics } from '../../src/metrics/metrics.js';

describe('contracts with the rest of the webhook', () => {
  it('takes fastify logger, admission request and failures, docker config, and metrics hook as they are', () => {
    expectTypeOf<FastifyBaseLogger>().toExtend<KubeLogger>();
    expectTypeOf<AdmissionRequest>().toExtend<AdmittedObject>();
    expectTypeOf<ImageFailure>().toExtend<FailedImage>();
    expectTypeOf<DockerConfigCredentials>().toExtend<OwnCredentials>();
    expectTypeOf<KubeCredentialChain>().toEqualTypeOf<CredentialChain>();
    expectTypeOf<Metrics['eventRecorded']>().toExtend<(outcome: RecordOutcome) => void>();
  });
});
