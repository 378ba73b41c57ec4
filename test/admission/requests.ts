/** AdmissionRequests as decodeReview gives them, for admit() tests. */
import type { AdmissionRequest } from '../../src/admission/types.js';

/** A Pod CREATE in namespace `ns` with these containers. */
export function podRequest(containers: readonly Record<string, unknown>[]): AdmissionRequest {
  return {
    uid: 'uid-1',
    kind: { group: '', version: 'v1', kind: 'Pod' },
    subResource: undefined,
    name: 'p',
    namespace: 'ns',
    operation: 'CREATE',
    object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'ns' }, spec: { containers } },
    oldObject: null,
    dryRun: false,
  };
}
