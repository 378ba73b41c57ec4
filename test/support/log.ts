/**
 * serve's log as tests give it: a file written by pino's own destination (sonic-boom), read
 * back after flushSync(). Written synchronously, so what was logged is in the file by then.
 */
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import type { LogDestination } from '../../src/server/log.js';

export interface TestLog {
  readonly destination: LogDestination;
  /** Everything logged so far. */
  text(): string;
  /** Everything logged so far, one object per JSON line. */
  lines(): Record<string, unknown>[];
}

/** A log in `file` (created, or appended to). */
export function testLog(file: string): TestLog {
  const destination = pino.destination({ dest: file, sync: true, mkdir: true });
  const text = (): string => {
    destination.flushSync();
    return readFileSync(file, 'utf8');
  };
  return {
    destination,
    text,
    lines: () =>
      text()
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}
