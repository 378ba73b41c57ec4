import { describe, expect, it } from 'vitest';
import { POD_SPEC_KINDS, podSpecLocation } from '../../src/workload/kinds.js';

describe('podSpecLocation', () => {
  it('finds a Pod spec and metadata on the Pod itself', () => {
    expect(podSpecLocation('Pod')).toEqual({ specPointer: '/spec', metadataPointer: '/metadata' });
  });

  it.each(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'ReplicationController', 'Job'])(
    'finds the %s pod template under /spec/template',
    (kind) => {
      expect(podSpecLocation(kind)).toEqual({ specPointer: '/spec/template/spec', metadataPointer: '/spec/template/metadata' });
    },
  );

  it('finds the PodTemplate template at the top level (a PodTemplate has no spec)', () => {
    expect(podSpecLocation('PodTemplate')).toEqual({ specPointer: '/template/spec', metadataPointer: '/template/metadata' });
  });

  it('finds the CronJob pod template inside its job template', () => {
    expect(podSpecLocation('CronJob')).toEqual({
      specPointer: '/spec/jobTemplate/spec/template/spec',
      metadataPointer: '/spec/jobTemplate/spec/template/metadata',
    });
  });

  it.each(['ConfigMap', 'Service', 'pod', 'deployment', '', 'constructor', '__proto__', 'toString'])(
    'knows nothing of %j',
    (kind) => {
      expect(podSpecLocation(kind)).toBeUndefined();
    },
  );
});

describe('POD_SPEC_KINDS', () => {
  it('lists the nine kinds of the table', () => {
    expect([...POD_SPEC_KINDS].sort()).toEqual([
      'CronJob', 'DaemonSet', 'Deployment', 'Job', 'Pod', 'PodTemplate', 'ReplicaSet', 'ReplicationController', 'StatefulSet',
    ]);
  });
});
