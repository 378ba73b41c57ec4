/** Informer restarts (backoff, one pending restart) and paged lists. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { listAllPages, Restarts } from '../../src/kube/restarts.js';

describe('Restarts.backoff', () => {
  it('doubles from initial up to max while failures keep coming, and starts over after a quiet spell of twice max', () => {
    let now = 0;
    const restarts = new Restarts({ initial: 100, max: 1_000 }, () => now, () => 0.5);
    const delays: number[] = [];
    for (let i = 0; i < 6; i += 1) {
      delays.push(restarts.backoff());
      now += 50;
    }
    expect(delays).toEqual([100, 200, 400, 800, 1_000, 1_000]);
    now += 2_001;
    expect(restarts.backoff()).toBe(100);
  });

  it('spreads each delay by ±20%', () => {
    expect(new Restarts({ initial: 1_000, max: 1_000 }, () => 0, () => 0).backoff()).toBe(800);
    expect(new Restarts({ initial: 1_000, max: 1_000 }, () => 0, () => 0.999_999).backoff()).toBe(1_200);
  });
});

describe('Restarts.after', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('runs one pending restart, replaces an earlier one, and runs none once cancelled', () => {
    vi.useFakeTimers();
    const restarts = new Restarts();
    const runs: string[] = [];
    restarts.after(100, () => runs.push('first'));
    restarts.after(100, () => runs.push('second'));
    expect(restarts.pending).toBe(true);
    vi.advanceTimersByTime(100);
    expect(runs).toEqual(['second']);
    expect(restarts.pending).toBe(false);
    restarts.after(100, () => runs.push('third'));
    restarts.cancel();
    vi.advanceTimersByTime(1_000);
    expect(runs).toEqual(['second']);
    expect(restarts.pending).toBe(false);
  });
});

describe('listAllPages', () => {
  it("follows continue tokens to the end (undefined or ''), at the first page's resourceVersion", async () => {
    const pages = new Map<string | undefined, { items: number[]; resourceVersion: string; next: string | undefined }>([
      [undefined, { items: [1, 2], resourceVersion: '10', next: 'a' }],
      ['a', { items: [3], resourceVersion: '11', next: 'b' }],
      ['b', { items: [], resourceVersion: '12', next: '' }],
    ]);
    const asked: (string | undefined)[] = [];
    const list = await listAllPages((token) => {
      asked.push(token);
      const page = pages.get(token);
      return page === undefined ? Promise.reject(new Error(`no page ${String(token)}`)) : Promise.resolve(page);
    });
    expect(list).toEqual({ items: [1, 2, 3], resourceVersion: '10' });
    expect(asked).toEqual([undefined, 'a', 'b']);
  });

  it('projects each page as it arrives, before the next page is asked for', async () => {
    interface Listed { readonly page: number; full: boolean }
    const pages: Listed[][] = [[{ page: 0, full: true }, { page: 0, full: true }], [{ page: 1, full: true }], [{ page: 2, full: true }]];
    // At each request, which objects of the earlier pages were still full.
    const fullWhenAsked: number[] = [];
    const list = await listAllPages<Listed>((token) => {
      const index = token === undefined ? 0 : Number(token);
      fullWhenAsked.push(pages.slice(0, index).flat().filter((item) => item.full).length);
      return Promise.resolve({ items: pages[index] ?? [], resourceVersion: '10', next: index + 1 < pages.length ? String(index + 1) : undefined });
    }, (item) => { item.full = false; });
    expect(fullWhenAsked).toEqual([0, 0, 0]);
    expect(list.items).toEqual([{ page: 0, full: false }, { page: 0, full: false }, { page: 1, full: false }, { page: 2, full: false }]);
  });

  it('fails as its page fails', async () => {
    await expect(listAllPages(() => Promise.reject(new Error('HTTP 500')))).rejects.toThrow('HTTP 500');
  });
});
