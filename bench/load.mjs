/**
 * Measuring helpers: an open-loop constant-rate load generator (autocannon's
 * `overallRate` sends each second's quota in a burst per connection, which
 * measures queueing behind a burst rather than latency at a steady rate), and
 * readers of a process's CPU time and memory from /proc.
 */
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ; 100 on every Linux build that matters). */
const USER_HZ = 100;

/** Value at quantile `q` (0..1) of ascending `sorted`. */
export function quantile(sorted, q) {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/**
 * Sends `body` to `url` at `rate` requests per second for `seconds`, each on the
 * schedule regardless of earlier answers, over up to `connections` keep-alive TLS
 * connections. Latency runs from handing the request to the pool (so time queued
 * for a connection counts) to the end of the response body.
 */
export async function constantRate({ origin, path, body, ca, rate, seconds, connections }) {
  const pool = new Pool(origin, { connections, connect: { ca }, pipelining: 1, keepAliveTimeout: 120_000 });
  const send = async () => {
    const started = performance.now();
    const response = await pool.request({ path, method: 'POST', headers: { 'content-type': 'application/json' }, body });
    await response.body.text();
    return { ms: performance.now() - started, status: response.statusCode };
  };
  // Open every connection first, so TLS handshakes are not in the figures.
  await Promise.all(Array.from({ length: connections }, send));
  const total = Math.round(rate * seconds);
  const interval = 1000 / rate;
  const pending = [];
  let maxLagMs = 0;
  const start = performance.now();
  for (let i = 0; i < total; ) {
    const now = performance.now();
    while (i < total && start + i * interval <= now) {
      maxLagMs = Math.max(maxLagMs, now - (start + i * interval));
      pending.push(send());
      i += 1;
    }
    if (i < total) await sleep(Math.max(0, start + i * interval - performance.now()));
  }
  const results = await Promise.all(pending);
  const elapsed = (performance.now() - start) / 1000;
  await pool.close();
  const latencies = results.map((r) => r.ms).sort((a, b) => a - b);
  return {
    sent: total,
    achievedRate: total / elapsed,
    non2xx: results.filter((r) => r.status < 200 || r.status > 299).length,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    p999: quantile(latencies, 0.999),
    max: latencies[latencies.length - 1],
    maxSendLagMs: maxLagMs,
  };
}

/** CPU seconds (user + system, all threads) `pid` has used so far. */
export async function cpuSeconds(pid) {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
}

/** Current (VmRSS) and peak (VmHWM) resident set of `pid`, in MiB. */
export async function residentMiB(pid) {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rss: kib('VmRSS') / 1024, peak: kib('VmHWM') / 1024 };
}

/** Time `pid`'s main thread (the JavaScript one) has spent on a CPU so far, in ms (/proc/<pid>/schedstat, ns resolution). */
export async function mainThreadCpuMs(pid) {
  const [onCpuNs] = (await readFile(`/proc/${pid}/schedstat`, 'utf8')).split(' ');
  return Number(onCpuNs) / 1e6;
}
