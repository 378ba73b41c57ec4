/** BatchedLines: log lines reach their sink in batches, none lost, none reordered. */
import { describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { BatchedLines } from '../../src/server/log-lines.js';

function recordingSink(): { writes: string[]; write(chunk: string): void } {
  const writes: string[] = [];
  return { writes, write: (chunk) => void writes.push(chunk) };
}

describe('BatchedLines', () => {
  it('writes the lines of one burst in one write, in order, after at most maxDelayMs', async () => {
    const sink = recordingSink();
    const lines = new BatchedLines(sink, { maxDelayMs: 20, maxBytes: 1 << 20 });
    for (let i = 0; i < 5; i += 1) lines.write(`{"n":${i}}\n`);
    expect(sink.writes).toEqual([]);
    await sleep(60);
    expect(sink.writes).toEqual(['{"n":0}\n{"n":1}\n{"n":2}\n{"n":3}\n{"n":4}\n']);
  });

  it('writes at once when a batch reaches maxBytes', () => {
    const sink = recordingSink();
    const lines = new BatchedLines(sink, { maxDelayMs: 60_000, maxBytes: 10 });
    lines.write('12345\n');
    expect(sink.writes).toEqual([]);
    lines.write('67890\n');
    expect(sink.writes).toEqual(['12345\n67890\n']);
    lines.flush();
    expect(sink.writes).toHaveLength(1);
  });

  it('flush() writes what is pending and leaves no timer behind', async () => {
    const sink = recordingSink();
    const lines = new BatchedLines(sink, { maxDelayMs: 20, maxBytes: 1 << 20 });
    lines.write('a\n');
    lines.flush();
    expect(sink.writes).toEqual(['a\n']);
    await sleep(40);
    expect(sink.writes).toEqual(['a\n']);
    lines.write('b\n');
    await sleep(40);
    expect(sink.writes).toEqual(['a\n', 'b\n']);
  });
});
