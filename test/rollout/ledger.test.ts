/**
 * The tag ledger's rules as data: names, parsing, when a registry answer is written, history, tenants, eviction, expected moves;
 * and replicas' Resolvers sharing entries kept by those rules, on a clock the test moves.
 */
import { describe, expect, it } from 'vitest';
import { parseImage } from '../../src/reference/index.js';
import type { DigestSource, ManifestDigest } from '../../src/registry/index.js';
import { Resolver, type LedgerAnswer, type LedgerObservation, type ResolutionSource, type TagLedger } from '../../src/resolve/index.js';
import {
  answeringEntry,
  answeringNamespaces,
  answers,
  DEFAULT_TAG_MOVES_IGNORE,
  entryNamespace,
  entryObject,
  ExpectedMoves,
  leastRecentlyVerified,
  ledgerName,
  MAX_HISTORY,
  nextSpec,
  parseEntry,
  plannedWrite,
  tagOf,
  type LedgerSpec,
  type LedgerWrite,
  type StoredEntry,
} from '../../src/rollout/ledger.js';

const digest = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;
const T0 = Date.parse('2030-01-01T00:00:00Z');
const MINUTE = 60_000;
const IMAGE = 'registry.example.com/shop/web:1.4';
const CLUSTER = 'digest-pinner';

/** An entry for IMAGE first seen and verified at `at`. */
const seen = (n: number, at: number): LedgerSpec => nextSpec(undefined, IMAGE, digest(n), at);

describe('ledgerName', () => {
  it('is the repository\'s last part and tag as a DNS label, then 16 hex of the image\'s sha256', () => {
    expect(ledgerName(IMAGE)).toMatch(/^web-1-4-[0-9a-f]{16}$/);
  });

  it('differs for images that share their last part and tag', () => {
    expect(ledgerName('a.example/web:1.4')).not.toBe(ledgerName('b.example/web:1.4'));
  });

  it('stays a DNS label for long and odd names', () => {
    for (const image of [`r.example/${'x'.repeat(300)}:${'T_'.repeat(60)}`, 'r.example/__:--', 'localhost:5000/a/B.c:V_1']) {
      expect(ledgerName(image)).toMatch(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/);
    }
  });
});

describe('plannedWrite (the write rules)', () => {
  it('writes a tag the ledger does not hold', () => {
    expect(plannedWrite(undefined, digest(1), T0, 15 * MINUTE)).toBe('created');
  });

  it('writes a move at once, however recently the entry was verified', () => {
    expect(plannedWrite(seen(1, T0), digest(2), T0 + 1, 15 * MINUTE)).toBe('moved');
  });

  it('writes the same digest only once the verification is as old as the interval', () => {
    expect(plannedWrite(seen(1, T0), digest(1), T0 + 15 * MINUTE - 1, 15 * MINUTE)).toBeUndefined();
    expect(plannedWrite(seen(1, T0), digest(1), T0 + 15 * MINUTE, 15 * MINUTE)).toBe('verified');
  });
});

describe('nextSpec (history)', () => {
  it('keeps firstSeen and the history on a verification, and moves verifiedAt', () => {
    const moved = nextSpec(seen(1, T0), IMAGE, digest(2), T0 + MINUTE);
    expect(nextSpec(moved, IMAGE, digest(2), T0 + 20 * MINUTE)).toEqual({ ...moved, verifiedAt: T0 + 20 * MINUTE });
  });

  it('puts the old digest first in the history on a move, with when it was first seen and when it moved', () => {
    const moved = nextSpec(seen(1, T0), IMAGE, digest(2), T0 + MINUTE);
    expect(moved).toEqual({ image: IMAGE, digest: digest(2), firstSeen: T0 + MINUTE, verifiedAt: T0 + MINUTE, history: [{ digest: digest(1), firstSeen: T0, movedAt: T0 + MINUTE }] });
  });

  it(`keeps the newest ${MAX_HISTORY} earlier digests, newest first`, () => {
    let spec = seen(0, T0);
    for (let n = 1; n <= MAX_HISTORY + 3; n += 1) spec = nextSpec(spec, IMAGE, digest(n), T0 + n * MINUTE);
    expect(spec.digest).toBe(digest(MAX_HISTORY + 3));
    expect(spec.history.map((item) => item.digest)).toEqual([7, 6, 5, 4, 3].map(digest));
  });
});

describe('entryObject and parseEntry', () => {
  it('reads back what it writes (times in whole seconds), with the resourceVersion to update', () => {
    const spec = nextSpec(seen(1, T0), IMAGE, digest(2), T0 + 90_000);
    const object = entryObject('shop', spec, '42');
    expect(object).toMatchObject({ apiVersion: 'digest-pinner.io/v1alpha1', kind: 'LedgerEntry', metadata: { name: ledgerName(IMAGE), namespace: 'shop', resourceVersion: '42', labels: { 'app.kubernetes.io/managed-by': 'digest-pinner' } } });
    expect(object['spec']).toEqual({ image: IMAGE, digest: digest(2), firstSeen: '2030-01-01T00:01:30Z', verifiedAt: '2030-01-01T00:01:30Z', history: [{ digest: digest(1), firstSeen: '2030-01-01T00:00:00Z', movedAt: '2030-01-01T00:01:30Z' }] });
    expect(parseEntry(object)).toEqual({ namespace: 'shop', name: ledgerName(IMAGE), resourceVersion: '42', ...spec });
  });

  it('creates without a resourceVersion', () => {
    expect(member(entryObject(CLUSTER, seen(1, T0)), 'metadata')).not.toHaveProperty('resourceVersion');
  });

  it('ignores an object the webhook could not have written', () => {
    const good = entryObject(CLUSTER, seen(1, T0));
    expect(parseEntry({ ...good, spec: { ...spec(good), digest: 'sha256:short' } })).toBeUndefined();
    expect(parseEntry({ ...good, spec: { ...spec(good), verifiedAt: 'yesterday' } })).toBeUndefined();
    expect(parseEntry({ metadata: { name: 'x' }, spec: spec(good) })).toBeUndefined();
    expect(parseEntry({ ...good, spec: { ...spec(good), history: [{ digest: 'nope' }, 'x'] } })?.history).toEqual([]);
  });
});

describe('the tenant rule', () => {
  it('writes an answer given with a tenant\'s pull secret in the tenant\'s namespace, any other cluster-wide', () => {
    expect(entryNamespace('team-a', CLUSTER)).toBe('team-a');
    expect(entryNamespace(undefined, CLUSTER)).toBe(CLUSTER);
  });

  it('answers a Pod from its own namespace\'s entries, then the cluster-wide ones, never another tenant\'s', () => {
    expect(answeringNamespaces('team-b', CLUSTER)).toEqual(['team-b', CLUSTER]);
    expect(answeringNamespaces('team-b', CLUSTER)).not.toContain('team-a');
    expect(answeringNamespaces(undefined, CLUSTER)).toEqual([CLUSTER]);
    expect(answeringNamespaces(CLUSTER, CLUSTER)).toEqual([CLUSTER]);
  });
});

describe('answers', () => {
  it('answers while verified within the TTL', () => {
    expect(answers(seen(1, T0), T0 + 15 * MINUTE - 1, 15 * MINUTE)).toBe(true);
    expect(answers(seen(1, T0), T0 + 15 * MINUTE, 15 * MINUTE)).toBe(false);
  });

  it('does not answer from an entry verified in the future (another replica\'s clock)', () => {
    expect(answers(seen(1, T0 + MINUTE), T0, 15 * MINUTE)).toBe(false);
  });
});

describe('answeringEntry (the tenant rule, within an age)', () => {
  const held = (entries: Record<string, LedgerSpec>) => (namespace: string): LedgerSpec | undefined => entries[namespace];

  it('answers with the Pod\'s own namespace\'s entry first, then the cluster-wide one', () => {
    const both = held({ 'team-a': seen(1, T0), [CLUSTER]: seen(2, T0) });
    expect(answeringEntry(both, 'team-a', CLUSTER, { now: T0 + MINUTE, withinMs: 15 * MINUTE })?.digest).toBe(digest(1));
    expect(answeringEntry(both, 'team-b', CLUSTER, { now: T0 + MINUTE, withinMs: 15 * MINUTE })?.digest).toBe(digest(2));
  });

  it('never answers a Pod of another namespace with a tenant\'s entry', () => {
    expect(answeringEntry(held({ 'team-a': seen(1, T0) }), 'team-b', CLUSTER, { now: T0 + MINUTE, withinMs: 15 * MINUTE })).toBeUndefined();
  });

  it('passes over an entry verified too long ago for the next one', () => {
    const entries = held({ 'team-a': seen(1, T0), [CLUSTER]: seen(2, T0 + 30 * MINUTE) });
    expect(answeringEntry(entries, 'team-a', CLUSTER, { now: T0 + 40 * MINUTE, withinMs: 15 * MINUTE })?.digest).toBe(digest(2));
    expect(answeringEntry(entries, 'team-a', CLUSTER, { now: T0 + 40 * MINUTE, withinMs: 60 * MINUTE })?.digest).toBe(digest(1));
    expect(answeringEntry(entries, 'team-a', CLUSTER, { now: T0 + 50 * MINUTE, withinMs: 15 * MINUTE })).toBeUndefined();
  });
});

describe('leastRecentlyVerified (eviction)', () => {
  it('picks the entries verified longest ago, oldest first, as many as are past the bound', () => {
    const entries = [5, 1, 4, 2, 3].map((n) => ({ name: `e${n}`, verifiedAt: T0 + n * MINUTE }));
    expect(leastRecentlyVerified(entries, 2).map((entry) => entry.name)).toEqual(['e1', 'e2']);
  });

  it('picks none within the bound', () => {
    expect(leastRecentlyVerified([{ verifiedAt: T0 }], 0)).toEqual([]);
    expect(leastRecentlyVerified([{ verifiedAt: T0 }], -3)).toEqual([]);
  });
});

describe('ExpectedMoves (--tag-moves-ignore)', () => {
  it(`expects ${DEFAULT_TAG_MOVES_IGNORE.join(', ')} to move by default, and no other tag`, () => {
    const moves = new ExpectedMoves();
    expect(['latest', 'main', 'master'].map((tag) => moves.expected(`r.example/app:${tag}`))).toEqual([true, true, true]);
    expect(moves.expected('r.example/app:1.4')).toBe(false);
    expect(moves.expected('r.example/latest:1.4')).toBe(false);
  });

  it('matches globs on the tag alone, with a registry port in the name', () => {
    const moves = new ExpectedMoves(['nightly-*', '*-rc?']);
    expect(moves.expected('localhost:5000/app:nightly-2030')).toBe(true);
    expect(moves.expected('localhost:5000/app:1.0-rc1')).toBe(true);
    expect(moves.expected('localhost:5000/app:latest')).toBe(false);
  });
});

describe('tagOf', () => {
  it('is the tag after the last colon past the last slash', () => {
    expect(tagOf('localhost:5000/app:v1')).toBe('v1');
    expect(tagOf('localhost:5000/app')).toBe('');
  });
});

function member(object: Record<string, unknown>, key: string): unknown {
  return object[key];
}

function spec(object: Record<string, unknown>): Record<string, unknown> {
  return object['spec'] as Record<string, unknown>;
}

/**
 * LedgerEntries as every replica's index holds them once the watch delivers a write (at once here),
 * kept by the rules above: written when plannedWrite says so, times in whole seconds as the API keeps them.
 */
class RuledLedger implements TagLedger {
  readonly #entries = new Map<string, StoredEntry>();
  readonly writes: LedgerWrite[] = [];

  constructor(private readonly clock: { now: number }, private readonly ttlMs: number, private readonly verifyIntervalMs: number) {}

  answer(image: string, namespace: string | undefined): string | undefined {
    return answeringEntry((candidate) => this.#entries.get(`${candidate} ${image}`), namespace, CLUSTER, { now: this.clock.now, withinMs: this.ttlMs })?.digest;
  }

  fallback(): LedgerAnswer | undefined {
    return undefined;
  }

  observe(observation: LedgerObservation): void {
    const namespace = entryNamespace(observation.tenant, CLUSTER);
    const key = `${namespace} ${observation.image}`;
    const current = this.#entries.get(key);
    const planned = plannedWrite(current, observation.digest, this.clock.now, this.verifyIntervalMs);
    if (planned === undefined) return;
    const written = parseEntry(entryObject(namespace, nextSpec(current, observation.image, observation.digest, this.clock.now), '1'));
    if (written === undefined) throw new Error(`unreadable entry for ${observation.image}`);
    this.#entries.set(key, written);
    this.writes.push(planned);
  }
}

describe('replicas sharing the ledger (N replicas cost a registry what one does)', () => {
  const TTL = 5_000;
  const SECOND = 1_000;
  const OTHER_IMAGE = 'registry.example.com/shop/api:2.0';
  /** `replicas` Resolvers with their own caches, sharing one ledger, the registry's requests counted per image. */
  const replicas = (count: number) => {
    // Off the whole second, so the entries' verifiedAt (whole seconds) is older than the caches' fetchedAt.
    const clock = { now: T0 + 300 };
    const asked: string[] = [];
    const source: DigestSource = {
      getDigest: (ref, tag): Promise<ManifestDigest> => {
        asked.push(`${ref.name}:${tag}`);
        return Promise.resolve({ digest: digest(1) });
      },
    };
    const ledger = new RuledLedger(clock, TTL, TTL);
    const resolvers = Array.from({ length: count }, () => new Resolver({ source, cacheTtlMs: TTL, cacheMax: 10, fetchTimeoutMs: SECOND, ledger, now: () => clock.now }));
    const sources: ResolutionSource[] = [];
    /** One admission a second for `seconds`: `who(second)` names the replica and the image. */
    const admitEachSecond = async (seconds: number, who: (second: number) => { readonly replica: number; readonly image: string }): Promise<void> => {
      for (let second = 0; second < seconds; second += 1) {
        const { replica, image } = who(second);
        const resolver = resolvers[replica];
        if (resolver === undefined) throw new Error(`no replica ${replica}`);
        const resolution = await resolver.resolve(parseImage(image), { credentials: [], signal: AbortSignal.timeout(5 * SECOND), scope: { namespace: 'shop', dryRun: false } });
        sources.push(resolution.source);
        clock.now += SECOND;
      }
    };
    const tally = (): Partial<Record<ResolutionSource, number>> => Object.fromEntries(['registry', 'ledger', 'cache'].map((s) => [s, sources.filter((x) => x === s).length]));
    return { asked, ledger, admitEachSecond, tally };
  };

  it('two replicas admitting one tag in turn ask the registry once a TTL, as one replica would; the other\'s admissions are answered from the ledger', async () => {
    const alone = replicas(1);
    await alone.admitEachSecond(60, () => ({ replica: 0, image: IMAGE }));
    const pair = replicas(2);
    await pair.admitEachSecond(60, (second) => ({ replica: second % 2, image: IMAGE }));
    expect(alone.tally()).toEqual({ registry: 12, ledger: 0, cache: 48 });
    // Each window of the TTL: one registry request (by the replica whose cache and the entry are both past the TTL),
    // the other replica's admissions from the entry it wrote, the asker's own from its cache.
    expect(pair.tally()).toEqual({ registry: 12, ledger: 24, cache: 24 });
    expect(pair.asked).toHaveLength(alone.asked.length);
    // A write per registry answer, within the bound: seconds / interval, plus the create.
    expect(pair.ledger.writes).toEqual(['created', ...Array<LedgerWrite>(11).fill('verified')]);
  });

  it('answers nothing to a replica from its own entry: an entry is never fresher than the cache of the replica that wrote it', async () => {
    // Each replica only ever admits its own tag (what `i % 2` replicas over an even number of tags do).
    const pair = replicas(2);
    await pair.admitEachSecond(60, (second) => ({ replica: second % 2, image: second % 2 === 0 ? IMAGE : OTHER_IMAGE }));
    // Each tag every 2 s: a registry request, then its cache twice, then (6 s on) the registry again.
    expect(pair.tally()).toEqual({ registry: 20, ledger: 0, cache: 40 });
  });
});
