/**
 * The memory figure's webhook: the app, metrics and resolver `serve` builds, with every
 * module `serve` loads in a cluster (its production case: cli/cluster.js and with it
 * @kubernetes/client-node; BENCH_NO_CLUSTER=1 leaves those out, as serve without a cluster
 * does), whose cache run.mjs has filled with BENCH_ENTRIES digests
 * through Resolver.resolve (its public API) from an in-process DigestSource. Going
 * through a registry instead costs about a millisecond of CPU per entry here (HTTP
 * client, one connection per HEAD), 100 s for 100k: too long for a benchmark, and
 * what is cached — one digest per credential, repository and tag — is the same.
 * It imports src/ and runs only as run.mjs bundles it (dist/bench/memory.js, built with
 * the production bundle's options and src/main.ts beside it, so each module is cut alike).
 * Run with --expose-gc; speaks to run.mjs over IPC.
 */
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import '../src/cli/serve.js';
import { skipList } from '../src/admission/index.js';
import { Metrics } from '../src/metrics/index.js';
import { parseImage } from '../src/reference/index.js';
import { Resolver } from '../src/resolve/index.js';
import { buildApp } from '../src/server/app.js';
import { bufferedDestination, webhookLogger } from '../src/server/log.js';

if (process.env.BENCH_NO_CLUSTER !== '1') await import('../src/cli/cluster.js');

const { AbortSignal } = globalThis;
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
/** `serve`'s defaults: --cache-ttl 15m, 100k entries, fetch deadline twice --registry-timeout 5s. */
const CACHE = { cacheTtlMs: 15 * 60_000, cacheMax: 100_000, fetchTimeoutMs: 10_000 };
const BATCH = 1000;

/** A registry's answer, with fresh strings as header parsing makes them (nothing shared between entries). */
const source = {
  getDigest: (ref, tag) =>
    Promise.resolve({
      digest: Buffer.from(`sha256:${createHash('sha256').update(`${ref.name}:${tag}`).digest('hex')}`).toString('latin1'),
      mediaType: Buffer.from(OCI_INDEX).toString('latin1'),
    }),
};

/** The n-th image: names of realistic length over a few registries and many repositories. */
function fillImage(n) {
  return `registry-${n % 7}.example.com/team-${n % 97}/service-${n}:v1.${n % 50}.0`;
}

/** Full collections, with a turn of the event loop between them so finalizers (AbortSignal.timeout's) run. */
async function collect() {
  for (let i = 0; i < 3; i += 1) {
    globalThis.gc?.();
    await sleep(50);
  }
}

async function memory() {
  const status = await readFile('/proc/self/status', 'utf8');
  const kib = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rssMiB: kib('VmRSS') / 1024, peakMiB: kib('VmHWM') / 1024, heapMiB: process.memoryUsage().heapUsed / 2 ** 20 };
}

const metrics = new Metrics();
const resolver = new Resolver({ source, ...CACHE });
metrics.trackCache(() => resolver.size);
const app = buildApp(
  {
    mode: 'warn',
    deadlineMs: 8_000,
    resolver,
    credentials: () => Promise.resolve([undefined]),
    skip: skipList([]),
    dropTag: false,
    ready: () => true,
    onAdmission: (result, kind, operation, seconds) => metrics.admission(result, kind, operation, seconds),
    metrics,
  },
  { https: { cert: readFileSync(process.env.BENCH_CERT ?? ''), key: readFileSync(process.env.BENCH_KEY ?? '') }, logger: webhookLogger('info', bufferedDestination(1)) },
);
await app.listen({ port: 0, host: '127.0.0.1' });

process.on('message', async (message) => {
  if (message !== 'fill') return;
  const entries = Number(process.env.BENCH_ENTRIES);
  await collect();
  const started = await memory();
  const began = performance.now();
  for (let first = 0; first < entries; first += BATCH) {
    // One deadline per batch, as one admission's deadline covers all its images.
    const signal = AbortSignal.timeout(8_000);
    setMaxListeners(BATCH, signal);
    const batch = Array.from({ length: Math.min(BATCH, entries - first) }, (_, i) => parseImage(fillImage(first + i)));
    await Promise.all(batch.map((ref) => resolver.resolve(ref, { credentials: [undefined], signal })));
  }
  const fillSeconds = (performance.now() - began) / 1000;
  const filled = await memory();
  // Each fetch's deadline timer lives for fetchTimeoutMs: let them lapse, as they would between bursts.
  await sleep(CACHE.fetchTimeoutMs + 500);
  await collect();
  const settled = await memory();
  process.send?.({ entries: resolver.size, fillSeconds, started, filled, settled, sample: fillImage(entries - 1) });
});
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
process.send?.({ ready: true, port: app.server.address().port });
