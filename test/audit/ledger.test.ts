/** When a tag moved, read tolerantly from LedgerEntry objects as docs/rollouts.md lays them out. */
import { describe, expect, it } from 'vitest';
import { ledgerMovedAt } from '../../src/audit/index.js';

const IMAGE = 'registry.example.com/shop/web:1.4';
const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;
const D3 = `sha256:${'3'.repeat(64)}`;

function entry(namespace: string, digest: string, history: unknown): unknown {
  return { metadata: { namespace, name: 'web-1.4-3f5c0a9e1b7d2c4f' }, spec: { image: IMAGE, digest, firstSeen: '2026-05-01T09:14:03Z', history } };
}

describe('ledgerMovedAt', () => {
  it('answers when the tag moved away from a digest of its history', () => {
    const movedAt = ledgerMovedAt([entry('digest-pinner', D3, [{ digest: D2, firstSeen: '2026-04-20T08:00:00Z', movedAt: '2026-05-01T09:14:03Z' }, { digest: D1, movedAt: '2026-04-20T08:00:00Z' }])]);
    expect(movedAt(IMAGE, D2, 'shop')).toBe('2026-05-01T09:14:03Z');
    expect(movedAt(IMAGE, D1, 'shop')).toBe('2026-04-20T08:00:00Z');
  });

  it('does not know for the current digest, an unknown digest, another image, or no entries', () => {
    const movedAt = ledgerMovedAt([entry('digest-pinner', D3, [{ digest: D2, movedAt: '2026-05-01T09:14:03Z' }])]);
    expect(movedAt(IMAGE, D3, 'shop')).toBeUndefined();
    expect(movedAt(IMAGE, D1, 'shop')).toBeUndefined();
    expect(movedAt('registry.example.com/shop/api:1', D2, 'shop')).toBeUndefined();
    expect(ledgerMovedAt([])(IMAGE, D2, 'shop')).toBeUndefined();
  });

  it('prefers the entry of the namespace asked about (a tenant\'s) to a cluster-wide one', () => {
    const movedAt = ledgerMovedAt([
      entry('digest-pinner', D3, [{ digest: D2, movedAt: '2026-05-02T00:00:00Z' }]),
      entry('shop', D3, [{ digest: D2, movedAt: '2026-05-01T00:00:00Z' }]),
    ]);
    expect(movedAt(IMAGE, D2, 'shop')).toBe('2026-05-01T00:00:00Z');
    expect(movedAt(IMAGE, D2, 'other')).toBe('2026-05-02T00:00:00Z');
  });

  it('skips entries and history items missing what it reads, without throwing', () => {
    const movedAt = ledgerMovedAt([null, 'x', { spec: { image: IMAGE } }, entry('shop', D3, 'not a list'), entry('shop', D3, [null, { digest: D2 }, { movedAt: 'x' }, { digest: D1, movedAt: '2026-04-20T08:00:00Z' }])]);
    expect(movedAt(IMAGE, D2, 'shop')).toBeUndefined();
    expect(movedAt(IMAGE, D1, 'shop')).toBe('2026-04-20T08:00:00Z');
  });
});
