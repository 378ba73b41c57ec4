/** What the memory probes (informers.mjs, records.mjs) share: full collections and this process's memory. */
import { readFile } from 'node:fs/promises';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';

/** Full collections, with a turn of the event loop between them so finalizers run. */
export async function collect() {
  for (let i = 0; i < 3; i += 1) {
    globalThis.gc?.();
    await sleep(50);
  }
}

/** This process's RSS, peak RSS and V8 heap in use, in MiB. */
export async function memory() {
  const status = await readFile('/proc/self/status', 'utf8');
  const kib = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rssMiB: kib('VmRSS') / 1024, peakMiB: kib('VmHWM') / 1024, heapMiB: process.memoryUsage().heapUsed / 2 ** 20 };
}

/** A logger for the src/ informers that prints only errors. */
export const quiet = { info: () => {}, warn: () => {}, error: (object, message) => process.stderr.write(`${message} ${JSON.stringify(object)}\n`) };
