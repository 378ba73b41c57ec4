/**
 * admit() with the records of revisions (docs/rollouts.md): a recorded digest is adopted without
 * the resolver, an ImageSet still wins over it, a field the record lacks is resolved afresh and
 * written, and a digest another replica recorded first replaces this admission's. The records
 * here are scripted; the real store against kube-apiserver: test/e2e/rollout.e2e.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { admit, type AdmitDeps, type ImageResolver, type ResolveRequest } from '../../src/admission/admit.js';
import type { Deadline } from '../../src/timeout.js';
import { skipList } from '../../src/admission/skip.js';
import { podRequest } from './requests.js';
import { ImageSetCatalog } from '../../src/imageset/catalog.js';
import { parseImageSet } from '../../src/imageset/parse.js';
import type { ImageRef } from '../../src/reference/types.js';
import type { Resolution } from '../../src/resolve/index.js';
import type { FreshPin, RecordedPin, RecordSession, RevisionRecords, Settled } from '../../src/rollout/session.js';
import { pinKey } from '../../src/rollout/types.js';
import { deadlineOf } from '../support/deadline.js';

const A = `sha256:${'a'.repeat(64)}`;
const R = `sha256:${'e'.repeat(64)}`;
const W = `sha256:${'f'.repeat(64)}`;
const IMAGE = 'registry.test/shop/web:v1';

/** Answers R, and records what it was asked and whether afresh. */
class RecordingResolver implements ImageResolver {
  readonly asked: { image: string; fresh: boolean }[] = [];
  resolve(ref: ImageRef, options: ResolveRequest): Promise<Resolution> {
    this.asked.push({ image: ref.written, fresh: options.fresh === true });
    return Promise.resolve({ ref, digest: R, source: 'registry', credential: undefined });
  }
}

/** One revision's record, scripted: what it holds, what a settle finds recorded first, and what was written. */
class ScriptedRecords implements RevisionRecords {
  readonly written: FreshPin[][] = [];
  constructor(private readonly held: ReadonlyMap<string, RecordedPin>, private readonly settled: Settled = { winners: new Map(), notes: [] }) {}
  open(): Promise<RecordSession | undefined> {
    const session: RecordSession = {
      name: 'replicaset.web-1',
      recorded: (field, image) => this.held.get(pinKey(field, image)),
      notes: () => [],
      settle: (pins) => {
        this.written.push([...pins]);
        return Promise.resolve(this.settled);
      },
    };
    return Promise.resolve(session);
  }
}

function deps(records: RevisionRecords, imageSets: { image: string; digest: string }[] = []): AdmitDeps & { resolver: RecordingResolver } {
  const catalog = ImageSetCatalog.of([parseImageSet({ metadata: { name: 'fix' }, spec: { images: imageSets } })]);
  return {
    resolver: new RecordingResolver(),
    credentials: () => Promise.resolve([undefined]),
    skip: skipList([]),
    dropTag: false,
    imageSets: { lookup: (ref) => catalog.lookup(ref), authoritative: () => false },
    records,
  };
}

const deadline = (): Deadline => deadlineOf(AbortSignal.timeout(5_000));

function imageOf(response: { patch?: string }): unknown {
  const ops = response.patch === undefined ? [] : (JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) as { op: string; path: string; value?: unknown }[]);
  return ops.find((op) => op.op === 'replace' && op.path === '/spec/containers/0/image')?.value;
}

describe('admit with the records of revisions', () => {
  it('adopts the recorded digest without asking the resolver, and writes nothing new', async () => {
    const records = new ScriptedRecords(new Map([[pinKey('containers/app', IMAGE), { digest: A, source: 'record' }]]));
    const d = deps(records);
    const result = await admit(podRequest([{ name: 'app', image: IMAGE }]), 'strict', d, deadline());
    expect(d.resolver.asked).toEqual([]);
    expect(result.resolutions).toMatchObject([{ digest: A, source: 'record' }]);
    expect(imageOf(result.response)).toBe(`${IMAGE}@${A}`);
    expect(records.written).toEqual([[]]);
    // The admission log names the record, so each replica's log shows the revisions it admitted Pods of.
    expect(result.record).toBe('replicaset.web-1');
  });

  it('lets an ImageSet entry win over the record (an administrator\'s fix applies)', async () => {
    const records = new ScriptedRecords(new Map([[pinKey('containers/app', IMAGE), { digest: A, source: 'record' }]]));
    const result = await admit(podRequest([{ name: 'app', image: IMAGE }]), 'strict', deps(records, [{ image: IMAGE, digest: W }]), deadline());
    expect(result.resolutions).toMatchObject([{ digest: W, source: 'imageset' }]);
  });

  it('resolves a field the record lacks afresh and writes it, keyed by field and normalised reference', async () => {
    const records = new ScriptedRecords(new Map());
    const d = deps(records);
    const result = await admit(podRequest([{ name: 'app', image: IMAGE }]), 'strict', d, deadline());
    expect(d.resolver.asked).toEqual([{ image: IMAGE, fresh: true }]);
    expect(records.written).toEqual([[{ field: 'containers/app', image: IMAGE, digest: R, source: 'registry' }]]);
    expect(imageOf(result.response)).toBe(`${IMAGE}@${R}`);
  });

  it('answers with the digest another replica recorded first', async () => {
    const records = new ScriptedRecords(new Map(), { winners: new Map([[pinKey('containers/app', IMAGE), W]]), notes: [] });
    const result = await admit(podRequest([{ name: 'app', image: IMAGE }]), 'strict', deps(records), deadline());
    expect(result.resolutions).toMatchObject([{ digest: W, source: 'record' }]);
    expect(imageOf(result.response)).toBe(`${IMAGE}@${W}`);
  });

  it('says in a warning when the record could not be written', async () => {
    const note = 'record replicaset.web-1 of this revision not written (timed out): its later Pods may pin other digests';
    const records = new ScriptedRecords(new Map(), { winners: new Map(), notes: [note] });
    const result = await admit(podRequest([{ name: 'app', image: IMAGE }]), 'warn', deps(records), deadline());
    expect(result.response.warnings?.some((warning) => warning.includes(note))).toBe(true);
    expect(imageOf(result.response)).toBe(`${IMAGE}@${R}`);
  });
});
