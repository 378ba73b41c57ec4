/** The tag ledger's rules as data: names, parsing, when a registry answer is written, history, tenants, eviction, expected moves. */
import { describe, expect, it } from 'vitest';
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
