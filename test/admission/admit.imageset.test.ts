/** admit() with ImageSets: answered from the catalog without the resolver, authoritative registries, conflicts, RELATED_IMAGE_* env values. */
import { describe, expect, it } from 'vitest';
import { admit, REASONS, type AdmitDeps, type ImageResolver } from '../../src/admission/admit.js';
import type { Deadline } from '../../src/timeout.js';
import { skipList } from '../../src/admission/skip.js';
import { podRequest } from './requests.js';
import { AuthoritativeRegistries } from '../../src/imageset/authoritative.js';
import { ImageSetCatalog } from '../../src/imageset/catalog.js';
import { parseImageSet } from '../../src/imageset/parse.js';
import type { ImageRef } from '../../src/reference/types.js';
import type { Resolution } from '../../src/resolve/index.js';
import { deadlineOf } from '../support/deadline.js';

const A = `sha256:${'a'.repeat(64)}`;
const B = `sha256:${'b'.repeat(64)}`;
const R = `sha256:${'e'.repeat(64)}`;
const AIRGAP = '127.0.0.1:1';

/** A resolver that answers R for everything and records what it was asked (standing in for cache and registry). */
class RecordingResolver implements ImageResolver {
  readonly asked: string[] = [];
  resolve(ref: ImageRef): Promise<Resolution> {
    this.asked.push(ref.written);
    return Promise.resolve({ ref, digest: R, source: 'registry', credential: undefined });
  }
}

function deps(
  sets: unknown[],
  options: { authoritative?: string[]; pinRelatedImages?: boolean; relatedImagesIn?: (namespace: string | undefined) => boolean } = {},
): AdmitDeps & { resolver: RecordingResolver } {
  const catalog = ImageSetCatalog.of(sets.map(parseImageSet));
  const authoritative = new AuthoritativeRegistries(options.authoritative ?? []);
  return {
    resolver: new RecordingResolver(),
    credentials: () => Promise.resolve([undefined]),
    skip: skipList([]),
    dropTag: false,
    imageSets: { lookup: (ref) => catalog.lookup(ref), authoritative: (ref) => authoritative.covers(ref) },
    pinRelatedImages: options.pinRelatedImages,
    relatedImagesIn: options.relatedImagesIn,
  };
}

function imageSet(name: string, images: { image: string; digest: string }[]) {
  return { metadata: { name }, spec: { images } };
}


function patchOf(response: { patch?: string }): { op: string; path: string; value?: unknown }[] {
  return response.patch === undefined ? [] : (JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) as { op: string; path: string; value?: unknown }[]);
}

const deadline = (): Deadline => deadlineOf(AbortSignal.timeout(5_000));

describe('admit with ImageSets', () => {
  it('pins from an ImageSet without asking the resolver, and reports source imageset', async () => {
    const d = deps([imageSet('airgap', [{ image: `${AIRGAP}/airgap/app:v1`, digest: A }])]);
    const result = await admit(podRequest([{ name: 'app', image: `${AIRGAP}/airgap/app:v1` }]), 'strict', d, deadline());
    expect(result.outcome).toBe('pinned');
    expect(d.resolver.asked).toEqual([]);
    expect(result.resolutions).toMatchObject([{ digest: A, source: 'imageset', imageSet: 'airgap', credential: undefined }]);
    expect(patchOf(result.response)).toContainEqual({ op: 'replace', path: '/spec/containers/0/image', value: `${AIRGAP}/airgap/app:v1@${A}` });
  });

  it('asks the resolver for images no ImageSet lists, on registries that are not authoritative', async () => {
    const d = deps([imageSet('airgap', [{ image: 'calico/node:v1', digest: A }])]);
    const result = await admit(podRequest([{ name: 'node', image: 'quay.io/calico/node:v1' }, { name: 'other', image: 'quay.io/other:v1' }]), 'warn', d, deadline());
    expect(d.resolver.asked).toEqual(['quay.io/other:v1']);
    expect(result.resolutions.map((r) => r.source)).toEqual(['imageset', 'registry']);
  });

  it('fails an image missing from every ImageSet on an authoritative registry, never asking it', async () => {
    const d = deps([imageSet('airgap', [{ image: `${AIRGAP}/airgap/app:v1`, digest: A }])], { authoritative: [AIRGAP] });
    const result = await admit(podRequest([{ name: 'app', image: `${AIRGAP}/airgap/missing:v1` }]), 'strict', d, deadline());
    expect(d.resolver.asked).toEqual([]);
    expect(result.outcome).toBe('denied');
    expect(result.failures).toEqual([{ where: 'containers/app', image: `${AIRGAP}/airgap/missing:v1`, code: REASONS.notInImageSet, registry: AIRGAP, reason: expect.stringContaining('not in any ImageSet') as string }]);
    expect(result.response.status?.message).toContain(`containers/app image "${AIRGAP}/airgap/missing:v1" not pinned: not in any ImageSet`);
  });

  it('admits it unpinned with a warning in warn mode', async () => {
    const d = deps([], { authoritative: [AIRGAP] });
    const result = await admit(podRequest([{ name: 'app', image: `${AIRGAP}/airgap/missing:v1` }]), 'warn', d, deadline());
    expect(result.outcome).toBe('warned');
    expect(result.response.warnings?.[0]).toContain('not in any ImageSet');
  });

  it('resolves a conflicting image through the resolver, or fails it on an authoritative registry', async () => {
    const sets = [imageSet('one', [{ image: 'registry.internal/app:v1', digest: A }]), imageSet('two', [{ image: 'registry.internal/app:v1', digest: B }])];
    const open = deps(sets);
    const pinned = await admit(podRequest([{ name: 'app', image: 'registry.internal/app:v1' }]), 'strict', open, deadline());
    expect(open.resolver.asked).toEqual(['registry.internal/app:v1']);
    expect(pinned.resolutions).toMatchObject([{ digest: R, source: 'registry' }]);

    const closed = deps(sets, { authoritative: ['registry.internal'] });
    const denied = await admit(podRequest([{ name: 'app', image: 'registry.internal/app:v1' }]), 'strict', closed, deadline());
    expect(closed.resolver.asked).toEqual([]);
    expect(denied.failures).toMatchObject([{ code: REASONS.imageSetConflict, reason: expect.stringContaining('ImageSets one, two give it different digests') as string }]);
  });

  it('leaves images already pinned and skipped images alone', async () => {
    const d = { ...deps([imageSet('s', [{ image: 'app:v1', digest: A }])], { authoritative: ['docker.io'] }), skip: skipList(['docker.io/library/skipped*']) };
    const result = await admit(podRequest([{ name: 'a', image: `app:v1@${B}` }, { name: 'b', image: 'skipped:v1' }]), 'strict', d, deadline());
    expect(result.outcome).toBe('unchanged');
    expect(result.resolutions).toMatchObject([{ source: 'pinned', digest: B }]);
  });
});

describe('admit with pinRelatedImages', () => {
  const containers = [{
    name: 'operator',
    image: 'quay.io/op/operator:v1',
    env: [
      { name: 'RELATED_IMAGE_AGENT', value: 'quay.io/op/agent:v1' },
      { name: 'OTHER', value: 'quay.io/op/not-an-image:v1' },
      { name: 'RELATED_IMAGE_FROM', valueFrom: { configMapKeyRef: { name: 'c', key: 'k' } } },
    ],
  }];
  const sets = [imageSet('op', [{ image: 'quay.io/op/operator:v1', digest: A }, { image: 'quay.io/op/agent:v1', digest: B }])];

  it('pins RELATED_IMAGE_* values and records them in the annotation', async () => {
    const result = await admit(podRequest(containers), 'strict', deps(sets, { pinRelatedImages: true }), deadline());
    const ops = patchOf(result.response);
    expect(ops).toContainEqual({ op: 'replace', path: '/spec/containers/0/env/0/value', value: `quay.io/op/agent:v1@${B}` });
    expect(ops.filter((op) => op.path.includes('/env/') && op.op === 'replace')).toHaveLength(1);
    const annotation = ops.find((op) => op.path.startsWith('/metadata'))?.value;
    expect(JSON.stringify(annotation)).toContain('env/operator/RELATED_IMAGE_AGENT');
  });

  it('leaves them alone when the option is off', async () => {
    const result = await admit(podRequest(containers), 'strict', deps(sets), deadline());
    expect(patchOf(result.response).filter((op) => op.path.includes('/env/'))).toEqual([]);
  });

  it('pins them in namespaces that opt in (relatedImagesIn), and only there', async () => {
    const asked: (string | undefined)[] = [];
    const optedIn = (namespace: string | undefined): boolean => {
      asked.push(namespace);
      return namespace === 'operators';
    };
    const envOps = async (namespace: string) =>
      patchOf((await admit({ ...podRequest(containers), namespace }, 'strict', deps(sets, { relatedImagesIn: optedIn }), deadline())).response)
        .filter((op) => op.path.includes('/env/') && op.op === 'replace');
    expect(await envOps('operators')).toEqual([{ op: 'replace', path: '/spec/containers/0/env/0/value', value: `quay.io/op/agent:v1@${B}` }]);
    expect(await envOps('apps')).toEqual([]);
    expect(asked).toEqual(['operators', 'apps']);
  });

  it('pins them everywhere when pinRelatedImages is true, whatever relatedImagesIn says', async () => {
    const result = await admit({ ...podRequest(containers), namespace: 'apps' }, 'strict', deps(sets, { pinRelatedImages: true, relatedImagesIn: () => false }), deadline());
    expect(patchOf(result.response)).toContainEqual({ op: 'replace', path: '/spec/containers/0/env/0/value', value: `quay.io/op/agent:v1@${B}` });
  });

  it('names a RELATED_IMAGE_* value that cannot be pinned by container and variable', async () => {
    const result = await admit(podRequest(containers), 'strict', deps([imageSet('op', [{ image: 'quay.io/op/operator:v1', digest: A }])], { pinRelatedImages: true, authoritative: ['quay.io'] }), deadline());
    expect(result.response.status?.message).toContain('env/operator/RELATED_IMAGE_AGENT image "quay.io/op/agent:v1" not pinned: not in any ImageSet');
  });
});

describe('admit and the deadline', () => {
  it('hands the credential lookup the admission deadline, and the resolver its signal', async () => {
    const d = deps([]);
    const given = deadline();
    const seen: unknown[] = [];
    const result = await admit(
      podRequest([{ name: 'app', image: 'registry.example/app:v1' }]),
      'warn',
      {
        ...d,
        credentials: (_ref, context) => {
          seen.push(context.deadline);
          return Promise.resolve([undefined]);
        },
      },
      given,
    );
    expect(seen).toEqual([given]);
    expect(seen[0]).toBe(given);
    expect(result.outcome).toBe('pinned');
  });
});
