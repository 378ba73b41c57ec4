/**
 * `npm run soak`: the built webhook, run as the container image and the default install run
 * it (test/hostile/webhook-process.ts), for minutes under everything at once: ordinary reviews
 * at a steady rate (cached, cold and failing images, some in strict mode; the cold and failing
 * ones from pools cycled through, with a short --cache-ttl), a registry whose
 * process is stopped and started again every few seconds, a client sending reviews that name
 * thousands of distinct tags, one sending hostile bodies, and slow clients kept open. Every
 * answer is classified (bench/soak-traffic.mjs), the process's memory sampled every second,
 * and at the end it gets SIGTERM with the slow clients still connected. Prints the report,
 * writes it to bench/soak-results.md, and exits 1 when a criterion is not met
 * (bench/soak-report.mjs). SOAK_SECONDS sets the duration (default 150), SOAK_RATE the
 * ordinary reviews per second (default 20); SOAK_NODE the node binary that runs the webhook
 * (default the one running the soak; the image runs Node 24); DP_HOSTILE_DIST, as for the
 * hostile tests, another build's dist/ directory to soak instead of this one's.
 */
import { execFileSync } from 'node:child_process';
import console from 'node:console';
import { readdir, mkdir, mkdtemp, rm, writeFile, copyFile, readFile } from 'node:fs/promises';
import os from 'node:os';
import { join, relative } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import process from 'node:process';
import { clearTimeout, setTimeout } from 'node:timers';
import { setTimeout as sleep } from 'node:timers/promises';
import { URL, fileURLToPath } from 'node:url';
import { request } from 'undici';
import { parse } from 'yaml';
import { compileTests, startRegistries } from './harness.mjs';
import { cpuSeconds, residentMiB } from './load.mjs';
import { report } from './soak-report.mjs';
import { bodySender, fanOut, hostileBodies, ordinaryLoad, slowClients } from './soak-traffic.mjs';

const { AbortController, AbortSignal } = globalThis;
const REPO = fileURLToPath(new URL('..', import.meta.url));
const SECONDS = Number(process.env.SOAK_SECONDS ?? '150');
const RATE = Number(process.env.SOAK_RATE ?? '20');
const DIST = process.env.DP_HOSTILE_DIST || join(REPO, 'dist');
const NODE = process.env.SOAK_NODE || process.execPath;
/** The flapping registry: up this long, then stopped (its process ended) for DOWN_MS, then started again. */
const UP_MS = 5_000;
const DOWN_MS = 3_000;
/**
 * Connections of the ordinary reviews' client: kube-apiserver's Go client opens one per
 * concurrent call, so reviews never queue behind each other in the client.
 */
const ORDINARY_CONNECTIONS = 64;
/** After a failed restart (its port taken meanwhile), the next try. */
const RESTART_RETRY_MS = 500;
/** Existing tags the fan-out reviews take turns naming. */
const FAN_OUT_POOL = 1_024;
/**
 * The webhook's --cache-ttl: short, so that a digest it resolved is soon past it and the next
 * review naming that image resolves it anew, from the registry (the cold path), while the
 * cache keeps a bounded set of images as in a real cluster.
 */
const CACHE_TTL = '10s';
/**
 * How long a pool of cold, absent or unreachable references takes to come round: longer
 * than CACHE_TTL and than the webhook's default negative TTL (the config's cache.negativeTtl),
 * so each reference is looked up anew every time it comes round.
 */
const CYCLE_SECONDS = 40;
/** Shares of ordinary reviews of each kind that names a pooled reference (bench/soak-traffic.mjs's pattern: 4, 3, 2 and 2 in 20). */
const COLD_SHARE = 4 / 20;
const FLAPPING_COLD_SHARE = 3 / 20;
const ABSENT_SHARE = 2 / 20;
const UNREACHABLE_SHARE = 2 / 20;
const SAMPLE_MS = 1_000;
/** The webhook's metrics are read every SCRAPE_EVERY samples (Prometheus scrapes every 15–60 s). */
const SCRAPE_EVERY = 5;
const SCRAPE_TIMEOUT_MS = 2_000;
/** A hard stop for a machine far slower than expected. */
const TIME_LIMIT_MS = SECONDS * 1000 + 10 * 60_000;
const ENTRY_POINTS = [
  'test/helpers/global-setup.ts', 'test/helpers/registry.ts', 'test/harness/registry-process.ts', 'test/harness/pki.ts', 'test/harness/watchdog.ts',
  'test/hostile/webhook-process.ts', 'test/hostile/raw-clients.ts', 'test/support/webhook.ts',
];

const clockStart = performance.now();
const log = (message) => console.error(`soak [${((performance.now() - clockStart) / 1000).toFixed(1)} s]: ${message}`);

/** How long the manifests let the process stop: the grace period less the preStop sleep. */
async function shutdownGraceMs() {
  const deployment = parse(await readFile(join(REPO, 'manifests/deployment.yaml'), 'utf8'));
  const pod = deployment.spec.template.spec;
  const preStop = pod.containers[0]?.lifecycle?.preStop?.sleep?.seconds ?? 0;
  return (pod.terminationGracePeriodSeconds - preStop) * 1000;
}

function machine() {
  return {
    cpus: os.cpus().length,
    model: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: (os.totalmem() / 2 ** 30).toFixed(1),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    loadBefore: os.loadavg()[0],
  };
}

/** `registry/repository:tag` images with their digest, `count` of them, tags `prefix-0…`. */
const tagged = (host, repository, digest, prefix, count) => Array.from({ length: count }, (_, i) => ({ ref: `${host}/${repository}:${prefix}-${i}`, digest, tag: `${prefix}-${i}` }));

/** How many references a pool of a kind sent at `share` of the ordinary rate holds: CYCLE_SECONDS' worth. */
const poolSize = (share) => Math.ceil(RATE * share * CYCLE_SECONDS);

/** Hands out `list`'s entries one at a time, from the first again after the last. */
function cycle(list) {
  let next = 0;
  return () => list[next++ % list.length];
}

/** The flapping registry: a TLS registry without auth whose process is stopped and started again on the same port. */
async function startFlapping(m, workDir, watchdog) {
  const pkiDir = join(workDir, 'pki');
  const certDir = join(workDir, 'certs.d');
  await Promise.all([mkdir(pkiDir), mkdir(certDir)]);
  const pki = await m.pki.createPki(pkiDir);
  await copyFile(pki.caFile, join(certDir, 'ca.crt'));
  const spec = {
    name: 'flapping',
    dir: join(workDir, 'flapping'),
    tls: { certFile: pki.serverCertFile, keyFile: pki.serverKeyFile, caFile: pki.caFile },
    auth: { kind: 'none' },
    onSpawn: (pid) => watchdog.watch(pid),
  };
  const running = await m.registryProcess.startRegistry(spec);
  const target = { name: 'flapping', host: running.host, scheme: 'https', caFile: pki.caFile, certDir, scratchDir: workDir };
  // `running` is replaced at each restart.
  return { spec: { ...spec, port: Number(running.host.split(':')[1]) }, running, target, caFile: pki.caFile };
}

/** Stops and starts the flapping registry until `stop` is aborted; `state()` says what it is now. */
function flap(startRegistry, flapping, stop, clock) {
  let state = 'up';
  const events = [];
  let restartFailures = 0;
  const set = (next) => {
    state = next;
    events.push({ t: clock(), state: next });
  };
  const done = (async () => {
    while (!stop.aborted) {
      await sleep(UP_MS, undefined, { signal: stop }).catch(() => undefined);
      if (stop.aborted) break;
      await flapping.running.stop();
      set('down');
      await sleep(DOWN_MS);
      set('starting');
      while (!stop.aborted) {
        try {
          flapping.running = await startRegistry(flapping.spec);
          break;
        } catch (error) {
          restartFailures += 1;
          log(`flapping registry: restart failed, again in ${RESTART_RETRY_MS} ms: ${error.message.split('\n')[0]}`);
          await sleep(RESTART_RETRY_MS);
        }
      }
      set('up');
    }
  })();
  return { state: () => state, events, restartFailures: () => restartFailures, done };
}

/** The webhook's own figures from GET /metrics on its metrics port, as Prometheus would scrape them: its heap and its cache. */
async function scrape(webhook) {
  try {
    const response = await request(`${webhook.metricsUrl}/metrics`, { signal: AbortSignal.timeout(SCRAPE_TIMEOUT_MS) });
    const text = await response.body.text();
    const value = (name) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
    return { heapUsedMiB: value('nodejs_heap_size_used_bytes') / 2 ** 20, cacheEntries: value('digest_pinner_cache_entries') };
  } catch {
    return undefined;
  }
}

/**
 * Samples the webhook every second until `stop` is aborted: memory, CPU, open files, the
 * machine's load, and every SCRAPE_EVERY seconds its metrics; a dead process ends the soak.
 */
async function sampler(webhook, stop, clock, onCrash) {
  const samples = [];
  for (let tick = 1; !stop.aborted; tick += 1) {
    await sleep(Math.max(0, tick * SAMPLE_MS - clock() * 1000), undefined, { signal: stop }).catch(() => undefined);
    if (stop.aborted) break;
    try {
      if (!webhook.alive()) throw new Error('exited');
      const [memory, cpu, fds] = await Promise.all([residentMiB(webhook.pid), cpuSeconds(webhook.pid), readdir(`/proc/${webhook.pid}/fd`)]);
      const metrics = tick % SCRAPE_EVERY === 0 ? await scrape(webhook) : undefined;
      samples.push({ t: clock(), rssMiB: memory.rss, peakMiB: memory.peak, cpuSeconds: cpu, fds: fds.length, load: os.loadavg()[0], metrics });
    } catch {
      onCrash(clock());
      break;
    }
  }
  return samples;
}

/** SIGTERM with the slow clients (and idle keep-alive connections) still open: how soon, and how, the process ends. */
async function terminate(webhook, graceMs, openSlow) {
  const started = performance.now();
  process.kill(webhook.pid, 'SIGTERM');
  while (webhook.alive() && performance.now() - started < graceMs) await sleep(50);
  const exitedWithinGrace = !webhook.alive();
  const ms = performance.now() - started;
  // Past the grace, as the kubelet would: SIGTERM again (the helper's stop), then SIGKILL.
  const stopped = await webhook.stop();
  return { graceMs, exitedWithinGrace, ms, exit: stopped.exit, log: stopped.log, openSlow };
}

async function main() {
  const m0 = machine();
  log(`${m0.cpus} CPUs (${m0.model}), load ${m0.loadBefore.toFixed(1)}; ${SECONDS} s at ${RATE} ordinary reviews/s`);
  log('compiling the test harness');
  const load = await compileTests(REPO, 'soak', ENTRY_POINTS);
  const [setupModule, registryHelpers, registryProcess, pki, watchdogModule, webhookProcess, rawClients, support] = await Promise.all(ENTRY_POINTS.map(load));
  const m = { registryProcess, pki };
  const workDir = await mkdtemp(join(os.tmpdir(), 'dp-soak-'));
  const watchdog = watchdogModule.armWatchdog(workDir);
  const cleanups = [async () => watchdog.disarm(), () => rm(workDir, { recursive: true, force: true })];
  const stop = new AbortController();
  try {
    log('starting registries');
    const { registries, teardown } = await startRegistries(setupModule.default);
    cleanups.push(teardown);
    const flapping = await startFlapping(m, workDir, watchdog);
    cleanups.push(() => flapping.running.stop());
    const { basic, token } = registries;
    log('pushing images and tags');
    const [ordinaryImage, flappingImage] = await Promise.all([
      registryHelpers.pushImage(basic, 'soak/ordinary', 'cached'),
      registryHelpers.pushImage(flapping.target, 'soak/flapping', 'cached'),
    ]);
    const cold = tagged(basic.host, 'soak/ordinary', ordinaryImage.digest, 'cold', poolSize(COLD_SHARE));
    const pool = tagged(basic.host, 'soak/ordinary', ordinaryImage.digest, 'pool', FAN_OUT_POOL);
    const flappingCold = tagged(flapping.target.host, 'soak/flapping', flappingImage.digest, 'cold', poolSize(FLAPPING_COLD_SHARE));
    await Promise.all([
      registryHelpers.addTags(basic, 'soak/ordinary', 'cached', [...cold, ...pool].map((image) => image.tag)),
      registryHelpers.addTags(flapping.target, 'soak/flapping', 'cached', flappingCold.map((image) => image.tag)),
    ]);
    const unreachableHost = `127.0.0.1:${await registryProcess.freePort()}`;
    const images = {
      warm: [
        { ref: `${basic.host}/soak/ordinary:cached`, digest: ordinaryImage.digest },
        { ref: `${token.host}/${token.images.single.repository}:${token.images.single.tag}`, digest: token.images.single.digest },
      ],
      flappingWarm: { ref: `${flapping.target.host}/soak/flapping:cached`, digest: flappingImage.digest },
      cold: cycle(cold),
      flappingCold: cycle(flappingCold),
      absent: cycle(tagged(basic.host, 'soak/ordinary', undefined, 'absent', poolSize(ABSENT_SHARE))),
      unreachable: cycle(tagged(unreachableHost, 'soak/unreachable', undefined, 'u', poolSize(UNREACHABLE_SHARE))),
    };

    log('starting the webhook');
    const webhook = await webhookProcess.startWebhookProcess(registries, { main: join(DIST, 'main.js'), node: NODE, args: ['--ca-file', flapping.caFile, '--cache-ttl', CACHE_TTL] });
    cleanups.push(() => webhook.stop());
    const { podReview, pinnedImages } = support;
    // The cached images are looked up once before the clock starts.
    for (const image of [...images.warm, images.flappingWarm]) {
      const review = await webhook.review(podReview([image.ref], { uid: 'warm-up', namespace: 'tenant', name: 'warm-up' }));
      if (!pinnedImages(review.answer ?? { response: {} }).includes(`${image.ref}@${image.digest}`)) throw new Error(`warm-up: ${image.ref} not pinned: ${review.body.slice(0, 300)}`);
    }

    log(`soaking for ${SECONDS} s`);
    const zero = performance.now();
    const clock = () => (performance.now() - zero) / 1000;
    const timer = setTimeout(() => stop.abort(), SECONDS * 1000);
    let crashedAt;
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    const flapper = flap(registryProcess.startRegistry, flapping, stop.signal, clock);
    cleanups.push(() => flapper.done);
    const slow = slowClients({ port: Number(new URL(webhook.url).port), stop: stop.signal, clock, openSlowClient: rawClients.openSlowClient });
    const ordinaryClient = webhook.connect(ORDINARY_CONNECTIONS);
    const fanOutClient = webhook.connect();
    const bodyClient = webhook.connect();
    const [samples, ordinary, fanOutRecords, bodyRecords] = await Promise.all([
      sampler(webhook, stop.signal, clock, (t) => {
        crashedAt = t;
        log(`the webhook exited at ${t.toFixed(1)} s`);
        stop.abort();
      }),
      ordinaryLoad({ client: ordinaryClient, rate: RATE, stop: stop.signal, images, clock, flapping: flapper.state, podReview, pinnedImages }),
      fanOut({ client: fanOutClient, stop: stop.signal, pool, absentRef: (tag) => `${basic.host}/soak/ordinary:${tag}`, clock, podReview, pinnedImages }),
      bodySender({ client: bodyClient, stop: stop.signal, bodies: hostileBodies(images.warm[0].ref, podReview), clock }),
    ]);
    clearTimeout(timer);
    loop.disable();
    const soakSeconds = clock();
    log(`load stopped at ${soakSeconds.toFixed(1)} s; SIGTERM with ${slow.open.size} slow clients open`);
    const openSlow = [...slow.open].map(({ kind, openedAt }) => ({ kind, ageSeconds: clock() - openedAt }));
    const shutdown = crashedAt === undefined ? await terminate(webhook, await shutdownGraceMs(), openSlow) : { crashed: true, ...(await webhook.stop()) };
    for (const { client } of slow.open) client.destroy();
    await Promise.all([slow.done, flapper.done, ordinaryClient.close(), fanOutClient.close(), bodyClient.close()]);

    const { text, met } = report({
      machine: { ...m0, loadAfter: os.loadavg()[0] },
      settings: { dist: relative(REPO, DIST), node: execFileSync(NODE, ['--version'], { encoding: 'utf8' }).trim(), seconds: SECONDS, rate: RATE, cacheTtl: CACHE_TTL, cycleSeconds: CYCLE_SECONDS, upMs: UP_MS, downMs: DOWN_MS, runtime: webhookProcess.productionRuntime(), memoryLimitBytes: webhookProcess.MEMORY_LIMIT_BYTES },
      soakSeconds,
      crashedAt,
      samples,
      ordinary,
      fanOut: fanOutRecords,
      bodies: bodyRecords,
      slow: { closed: slow.closed, openAtStop: openSlow, failedToOpen: slow.failedToOpen() },
      flapping: { events: flapper.events, restartFailures: flapper.restartFailures() },
      shutdown,
      clientLoop: { p99Ms: loop.percentile(99) / 1e6, maxMs: loop.max / 1e6 },
    });
    console.log(text);
    await writeFile(join(REPO, 'bench/soak-results.md'), text);
    log(`written to bench/soak-results.md; ${met ? 'every criterion met' : 'NOT every criterion met'}`);
    process.exitCode = met ? 0 : 1;
  } finally {
    stop.abort();
    for (const cleanup of cleanups.reverse()) {
      await cleanup().catch((error) => log(`cleanup: ${error}`));
    }
  }
}

const limit = setTimeout(() => {
  log(`over the ${TIME_LIMIT_MS / 1000} s limit, stopping`);
  process.exit(1);
}, TIME_LIMIT_MS);
limit.unref();

main().then(
  () => clearTimeout(limit),
  (error) => {
    console.error(error);
    process.exitCode = 1;
    clearTimeout(limit);
  },
);
