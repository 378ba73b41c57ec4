/** A DNS lookup (the registry client's `lookup` option) answering from a table: names a test gives its servers, never asked of a real resolver. */
import type { LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';

/** A DNS answering from a table; a list of answers is served one per call (DNS rebinding), the last repeating. */
export function fakeDns(table: Record<string, readonly string[]>): LookupFunction & { calls: string[] } {
  const served = new Map<string, number>();
  const calls: string[] = [];
  const lookup = ((hostname, options, callback) => {
    calls.push(hostname);
    const answers = table[hostname];
    if (answers === undefined) {
      const error: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${hostname}`);
      error.code = 'ENOTFOUND';
      callback(error, '', 0);
      return;
    }
    const n = served.get(hostname) ?? 0;
    served.set(hostname, n + 1);
    const address = answers[Math.min(n, answers.length - 1)] ?? '';
    const entry: LookupAddress = { address, family: address.includes(':') ? 6 : 4 };
    if (options.all === true) callback(null, [entry]);
    else callback(null, entry.address, entry.family);
  }) as LookupFunction & { calls: string[] };
  lookup.calls = calls;
  return lookup;
}
