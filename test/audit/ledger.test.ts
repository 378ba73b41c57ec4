/** When a tag moved, read from LedgerEntry objects as the webhook writes them (rollout/ledger.ts), by its tenant rule. */
import { describe, expect, it } from 'vitest';
import { ledgerMovedAt } from '../../src/audit/index.js';
import { entryObject, nextSpec, type LedgerSpec } from '../../src/rollout/ledger.js';

const IMAGE = 'registry.example.com/shop/web:1.4';
const CLUSTER = 'digest-pinner';
const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;
const D3 = `sha256:${'3'.repeat(64)}`;
const at = (text: string): number => Date.parse(text);

/** The spec after the tag pointed to each digest in turn, at the times given. */
function moves(image: string, ...steps: [string, string][]): LedgerSpec {
  let spec: LedgerSpec | undefined;
  for (const [digest, when] of steps) spec = nextSpec(spec, image, digest, at(when));
  if (spec === undefined) throw new Error('no steps');
  return spec;
}

describe('ledgerMovedAt', () => {
  it('answers when the tag moved away from a digest of its history', () => {
    const spec = moves(IMAGE, [D1, '2026-04-01T08:00:00Z'], [D2, '2026-04-20T08:00:00Z'], [D3, '2026-05-01T09:14:03Z']);
    const movedAt = ledgerMovedAt([entryObject(CLUSTER, spec)], CLUSTER);
    expect(movedAt(IMAGE, D2, 'shop')).toBe('2026-05-01T09:14:03Z');
    expect(movedAt(IMAGE, D1, 'shop')).toBe('2026-04-20T08:00:00Z');
  });

  it('does not know for the current digest, an unknown digest, another image, or no entries', () => {
    const movedAt = ledgerMovedAt([entryObject(CLUSTER, moves(IMAGE, [D2, '2026-04-20T08:00:00Z'], [D3, '2026-05-01T09:14:03Z']))], CLUSTER);
    expect(movedAt(IMAGE, D3, 'shop')).toBeUndefined();
    expect(movedAt(IMAGE, D1, 'shop')).toBeUndefined();
    expect(movedAt('registry.example.com/shop/api:1', D2, 'shop')).toBeUndefined();
    expect(ledgerMovedAt([], CLUSTER)(IMAGE, D2, 'shop')).toBeUndefined();
  });

  it('prefers the entry of the namespace asked about (a tenant\'s) to the cluster-wide one', () => {
    const movedAt = ledgerMovedAt([
      entryObject(CLUSTER, moves(IMAGE, [D2, '2026-04-20T08:00:00Z'], [D3, '2026-05-02T00:00:00Z'])),
      entryObject('shop', moves(IMAGE, [D2, '2026-04-20T08:00:00Z'], [D3, '2026-05-01T00:00:00Z'])),
    ], CLUSTER);
    expect(movedAt(IMAGE, D2, 'shop')).toBe('2026-05-01T00:00:00Z');
    expect(movedAt(IMAGE, D2, 'other')).toBe('2026-05-02T00:00:00Z');
  });

  it('never answers from another tenant\'s entry', () => {
    const movedAt = ledgerMovedAt([entryObject('shop', moves(IMAGE, [D2, '2026-04-20T08:00:00Z'], [D3, '2026-05-01T00:00:00Z']))], CLUSTER);
    expect(movedAt(IMAGE, D2, 'shop')).toBe('2026-05-01T00:00:00Z');
    expect(movedAt(IMAGE, D2, 'other')).toBeUndefined();
  });

  it('skips objects that are not entries the webhook could have written, without throwing', () => {
    const good = entryObject('shop', moves(IMAGE, [D1, '2026-04-01T00:00:00Z'], [D3, '2026-04-20T08:00:00Z']));
    const movedAt = ledgerMovedAt([null, 'x', { spec: { image: IMAGE } }, { metadata: { namespace: 'shop', name: 'x' }, spec: { image: IMAGE, history: [{ digest: D2, movedAt: '2026-05-01T00:00:00Z' }] } }, good], CLUSTER);
    expect(movedAt(IMAGE, D2, 'shop')).toBeUndefined();
    expect(movedAt(IMAGE, D1, 'shop')).toBe('2026-04-20T08:00:00Z');
  });
});
