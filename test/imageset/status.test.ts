import { describe, expect, it } from 'vitest';
import { ImageSetCatalog } from '../../src/imageset/catalog.js';
import { parseImageSet } from '../../src/imageset/parse.js';
import { desiredStatus, statusUpToDate, withTransitionTimes } from '../../src/imageset/status.js';

const A = `sha256:${'a'.repeat(64)}`;
const B = `sha256:${'b'.repeat(64)}`;
const set = (name: string, images: unknown[]) => parseImageSet({ metadata: { name, generation: 2 }, spec: { images } });

describe('desiredStatus', () => {
  it('says Ready and no conflict for a clean ImageSet', () => {
    const clean = set('clean', [{ image: 'app:v1', digest: A }]);
    expect(desiredStatus(clean, ImageSetCatalog.of([clean]))).toEqual({
      observedGeneration: 2,
      images: 1,
      conditions: [
        { type: 'Ready', status: 'True', reason: 'Loaded', message: '1 images in use', observedGeneration: 2 },
        { type: 'Conflict', status: 'False', reason: 'NoConflicts', message: 'no image has another digest in any ImageSet', observedGeneration: 2 },
      ],
      conflicts: [],
      invalidImages: [],
    });
  });

  it('lists conflicts with other ImageSets and ignored entries', () => {
    const first = set('first', [{ image: 'app:v1', digest: A }, { image: 'app', digest: A }]);
    const second = set('second', [{ image: 'app:v1', digest: B }]);
    const status = desiredStatus(first, ImageSetCatalog.of([first, second]));
    expect(status.conditions[0]).toMatchObject({ type: 'Ready', status: 'False', reason: 'InvalidEntries' });
    expect(status.conditions[1]).toMatchObject({ type: 'Conflict', status: 'True', reason: 'ConflictingDigests' });
    expect(status.conditions[1]?.message).toContain('app:v1 (first, second)');
    expect(status.conflicts).toEqual([{ image: 'app:v1', imageSets: ['first', 'second'], digests: [A, B] }]);
    expect(status.invalidImages).toEqual([{ image: 'app', reason: expect.stringContaining('no tag') as string }]);
  });
});

describe('statusUpToDate and withTransitionTimes', () => {
  const clean = set('clean', [{ image: 'app:v1', digest: A }]);
  const desired = desiredStatus(clean, ImageSetCatalog.of([clean]));

  it('ignores transition times and key order, and sees any other difference', () => {
    const stored = JSON.parse(JSON.stringify(withTransitionTimes(desired, undefined, new Date(0)))) as Record<string, unknown>;
    expect(statusUpToDate(desired, stored)).toBe(true);
    expect(statusUpToDate(desired, { ...stored, images: 2 })).toBe(false);
    expect(statusUpToDate(desired, undefined)).toBe(false);
  });

  it('keeps a stored transition time while the condition status is unchanged', () => {
    const stored = withTransitionTimes(desired, undefined, new Date(0));
    const again = withTransitionTimes(desired, stored, new Date(1_000_000));
    expect(again.conditions.map((c) => c.lastTransitionTime)).toEqual([new Date(0).toISOString(), new Date(0).toISOString()]);
    const flipped = { ...stored, conditions: stored.conditions.map((c) => (c.type === 'Ready' ? { ...c, status: 'False' as const } : c)) };
    expect(withTransitionTimes(desired, flipped, new Date(1_000_000)).conditions[0]?.lastTransitionTime).toBe(new Date(1_000_000).toISOString());
  });
});
