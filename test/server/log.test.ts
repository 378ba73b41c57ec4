/** The webhook's log: JSON lines with string levels and ISO times, buffered by pino's destination, all written by flushLog. */
import { once } from 'node:events';
import { openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bufferedDestination, flushLog, webhookLogger } from '../../src/server/log.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dp-log-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Logs through a buffered destination on a file, then flushLog; the lines in the file, parsed. */
async function logged(level: string, write: (log: Logger) => void): Promise<Record<string, unknown>[]> {
  const file = join(dir, 'serve.log');
  const destination = bufferedDestination(openSync(file, 'w'));
  try {
    write(webhookLogger(level, destination));
    await flushLog(destination);
    return readFileSync(file, 'utf8').trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
  } finally {
    // Ends its periodic flush and closes the file.
    const closed = once(destination, 'close');
    destination.end();
    await closed;
  }
}

describe('bufferedDestination and flushLog', () => {
  it('write every line, in order, by the time flushLog resolves', async () => {
    const lines = await logged('info', (log) => {
      for (let n = 0; n < 100; n += 1) log.info({ n }, 'admission');
      log.debug('below the level');
    });
    expect(lines.map((line) => line['n'])).toEqual(Array.from({ length: 100 }, (_, n) => n));
  });
});

describe('webhookLogger', () => {
  it('writes string levels, ISO times and the service name', async () => {
    const [warn, debug] = await logged('debug', (log) => {
      log.warn({ image: 'app:v1' }, 'not pinned');
      log.debug('detail');
    });
    expect(warn).toEqual({ level: 'warn', time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) as unknown, service: 'digest-pinner', image: 'app:v1', msg: 'not pinned' });
    expect(debug).toMatchObject({ level: 'debug', msg: 'detail' });
  });
});
