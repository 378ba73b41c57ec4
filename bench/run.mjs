/**
 * `npm run bench`: the webhook's performance on this machine, against a bare
 * node:https server measured in the same session. Starts the test suite's real
 * registries, runs the built webhook (`dist/main.js serve`, the bundle the image ships) and the baseline as
 * child processes on CPU 0 while the load runs on CPU 1, prints a table and
 * writes it to bench/results.md. Stops everything it started; about 100 s.
 */
import { execFileSync, spawn } from 'node:child_process';
import console from 'node:console';
import { Buffer } from 'node:buffer';
import { closeSync, openSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { clearTimeout, setTimeout } from 'node:timers';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';
import { Agent, request } from 'undici';
import { bundle } from '../scripts/bundle.mjs';
import { loadHarness, startRegistries } from './harness.mjs';
import { freePort, IMAGE_NODE_FLAGS, IMAGE_VARIABLES, imageVariables, machine, podReview, post, REPO, stopChild } from './common.mjs';
import { constantRate, cpuSeconds, residentMiB } from './load.mjs';

const BENCH_BUNDLE = join(REPO, 'dist/bench');
/**
 * Closed-loop rounds, alternating so drift in the machine's load hits both alike: the
 * baseline, and the webhook sent a pod spec it has not seen in every review (its cache
 * path: every image from the resolver's cache, the patch built anew).
 */
const ROUND_SECONDS = 5;
const ROUNDS = ['baseline', 'webhook', 'webhook', 'baseline', 'baseline', 'webhook', 'webhook', 'baseline'];
const WARMUP_SECONDS = 1;
const CONNECTIONS = 10;
const RATE = 1000;
const RATE_SECONDS = 5;
const RATE_CONNECTIONS = 16;
const COLD_IMAGES = 10;
const HERD = 100;
const FILL_ENTRIES = 100_000;
/** A hard stop well past the usual ~2 minutes, for a machine far slower than expected. */
const TIME_LIMIT_MS = 300_000;
const BENCH_ACCOUNT = 'bench';

/**
 * `ratio`: the least the cache path's reviews per CPU-second may be, over the bare server's (a guard, not a goal).
 * A cold Pod: one round of HEADs, and one token request per repository (tokens are per repository scope).
 */
const TARGETS = { ratio: 0.33, p99Ms: 2, coldHeads: COLD_IMAGES, coldTokens: COLD_IMAGES, herdHeads: 1, peakRssMB: 150 };

const children = new Set();
/** Removed on any exit, the time limit's included (the registries' own dir has the harness's watchdog). */
let workDir;
const clockStart = performance.now();
const log = (message) => console.error(`bench [${((performance.now() - clockStart) / 1000).toFixed(1)} s]: ${message}`);

/** Pins this process (all threads, and so the registries it starts) to core 1; servers get core 0. */
function pinCores() {
  if (os.availableParallelism() < 2) return { prefix: [], note: 'not pinned (one CPU)' };
  try {
    execFileSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });
    return { prefix: ['taskset', '-c', '0'], note: 'servers pinned to CPU 0 (`taskset -c 0`); load generator, registries and token service on CPU 1' };
  } catch {
    return { prefix: [], note: 'not pinned (taskset unavailable): servers share both CPUs with the load generator' };
  }
}

function spawnPinned(pin, args, options) {
  const [command, ...rest] = [...pin.prefix, process.execPath, ...args];
  const child = spawn(command, rest, options);
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** The webhook as production runs it: `digest-pinner serve`, JSON logs to a file. */
async function startWebhook(pin, { workDir, certs, registries }) {
  const port = await freePort();
  const metricsPort = await freePort();
  const dockerDir = join(workDir, 'docker');
  await mkdir(dockerDir);
  const { token } = registries;
  const auth = Buffer.from(`${token.username}-${BENCH_ACCOUNT}:${token.password}`).toString('base64');
  await writeFile(join(dockerDir, 'config.json'), JSON.stringify({ auths: { [token.host]: { auth } } }));
  const out = openSync(join(workDir, 'webhook.log'), 'w');
  // BENCH_CPU_PROF=dir: the webhook writes a V8 CPU profile there when it stops.
  const profile = process.env.BENCH_CPU_PROF === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF];
  const args = [
    ...IMAGE_NODE_FLAGS, ...profile, join(REPO, 'dist/main.js'), 'serve', '--port', String(port), '--metrics-port', String(metricsPort), '--host', '127.0.0.1',
    '--tls-cert', certs.certFile, '--tls-key', certs.keyFile, '--ca-file', registries.caFile,
    '--insecure-registry', registries.plain.host, '--docker-config', dockerDir,
  ];
  const env = { ...process.env, ...IMAGE_VARIABLES };
  delete env.DOCKER_CONFIG;
  const child = spawnPinned(pin, args, { stdio: ['ignore', out, out], env, cwd: workDir });
  closeSync(out);
  const origin = `https://127.0.0.1:${port}`;
  const agent = new Agent({ connect: { ca: certs.ca }, connections: 256 });
  for (let started = Date.now(); ; await sleep(100)) {
    if (child.exitCode !== null) {
      const output = readFileSync(join(workDir, 'webhook.log'), 'utf8').trim().split('\n').slice(-10).join('\n');
      throw new Error(`the webhook exited with ${child.exitCode}:\n${output}`);
    }
    try {
      const res = await request(`${origin}/readyz`, { dispatcher: agent });
      await res.body.dump();
      if (res.statusCode === 200) break;
    } catch (error) {
      if (Date.now() - started > 15_000) throw error;
    }
  }
  return { child, origin, metricsOrigin: `http://127.0.0.1:${metricsPort}`, agent };
}

/** The bare baseline (bench/baseline.mjs), without the image's flags. */
async function startBaseline(pin, { certs, patch }) {
  const env = { ...process.env, BENCH_CERT: certs.certFile, BENCH_KEY: certs.keyFile, BENCH_PATCH: patch };
  const child = spawnPinned(pin, [join(REPO, 'bench/baseline.mjs')], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env });
  const { port } = await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`the baseline server exited with ${code}`)));
  });
  return { child, origin: `https://127.0.0.1:${port}` };
}

/** One saturating closed-loop run with autocannon, and the server's CPU time meanwhile; `body` a string, or a function giving each request's. */
async function closedLoop(server, body, ca, seconds) {
  const request = typeof body === 'function' ? { requests: [{ setupRequest: (req) => ({ ...req, body: body() }) }] } : { body };
  const options = { url: `${server.origin}/mutate`, method: 'POST', headers: { 'content-type': 'application/json' }, ...request, connections: CONNECTIONS, pipelining: 1, tlsOptions: { ca } };
  const cpuBefore = await cpuSeconds(server.child.pid);
  const started = performance.now();
  const result = await autocannon({ ...options, duration: seconds });
  const wall = (performance.now() - started) / 1000;
  const cpu = (await cpuSeconds(server.child.pid)) - cpuBefore;
  const failed = result.non2xx + result.errors + result.timeouts;
  if (failed > 0) throw new Error(`${failed} of ${result.requests.total} requests to ${server.origin} failed`);
  return { requests: result.requests.total, wall, cpu, p50: result.latency.p50, p99: result.latency.p99 };
}

/** Warm-up, then ROUNDS; per kind of round: reviews/s and per CPU-second over its rounds, mean p50, worst p99. */
async function throughput(servers, body, webhookBody, ca) {
  const kinds = {
    baseline: { server: servers.baseline, body },
    webhook: { server: servers.webhook, body: webhookBody },
  };
  for (const kind of Object.values(kinds)) await closedLoop(kind.server, kind.body, ca, WARMUP_SECONDS);
  const runs = { baseline: [], webhook: [] };
  for (const name of ROUNDS) runs[name].push(await closedLoop(kinds[name].server, kinds[name].body, ca, ROUND_SECONDS));
  const summary = (rounds) => {
    const sum = (key) => rounds.reduce((total, round) => total + round[key], 0);
    return {
      perSecond: sum('requests') / sum('wall'),
      perCpuSecond: sum('requests') / sum('cpu'),
      cpuShare: sum('cpu') / sum('wall'),
      p50: sum('p50') / rounds.length,
      p99: Math.max(...rounds.map((round) => round.p99)),
      rounds: rounds.map((round) => Math.round(round.requests / round.wall)),
    };
  };
  return { baseline: summary(runs.baseline), webhook: summary(runs.webhook) };
}

/**
 * Requests the webhook has sent to `host` with `method`, as its /metrics counts them: each is
 * counted when its answer arrives, so an answered admission's requests are all in.
 */
async function requestsTo(webhook, host, method) {
  const response = await request(`${webhook.metricsOrigin}/metrics`);
  let count = 0;
  for (const [, labels, value] of (await response.body.text()).matchAll(/^digest_pinner_registry_requests_total\{([^}]*)\} (\d+)$/gm)) {
    if (labels.includes(`host="${host}"`) && labels.includes(`method="${method}"`)) count += Number(value);
  }
  return count;
}

/** 10 uncached images behind token auth in one Pod, the webhook never having talked to that registry. */
async function coldPod(harness, registries, webhook) {
  const { token } = registries;
  const repos = Array.from({ length: COLD_IMAGES }, (_, i) => `bench/cold-${i}`);
  const account = `${token.username}-${BENCH_ACCOUNT}`;
  const [headsBefore, tokensBefore, getsBefore] = await Promise.all([
    requestsTo(webhook, token.host, 'HEAD'),
    harness.tokenRequestCount(token, account),
    requestsTo(webhook, token.host, 'GET'),
  ]);
  const started = performance.now();
  const answer = await post(webhook.agent, webhook.origin, '/mutate', podReview(repos.map((repo) => `${token.host}/${repo}:v1`), 'cold'));
  const ms = performance.now() - started;
  const ops = JSON.parse(Buffer.from(answer.response.patch ?? '', 'base64').toString('utf8'));
  const pinned = ops.filter((op) => op.op === 'replace' && op.path.endsWith('/image')).length;
  if (pinned !== COLD_IMAGES) throw new Error(`the cold Pod got ${pinned} of ${COLD_IMAGES} images pinned: ${JSON.stringify(answer.response.warnings)}`);
  const [headsAfter, tokensAfter, getsAfter] = await Promise.all([
    requestsTo(webhook, token.host, 'HEAD'),
    harness.tokenRequestCount(token, account),
    requestsTo(webhook, token.host, 'GET'),
  ]);
  return { ms, heads: headsAfter - headsBefore, tokens: tokensAfter - tokensBefore, gets: getsAfter - getsBefore };
}

/** 100 admissions of one uncached image at once. */
async function herd(harness, registries, webhook) {
  const { token } = registries;
  const account = `${token.username}-${BENCH_ACCOUNT}`;
  const [headsBefore, tokensBefore] = await Promise.all([requestsTo(webhook, token.host, 'HEAD'), harness.tokenRequestCount(token, account)]);
  const started = performance.now();
  const answers = await Promise.all(Array.from({ length: HERD }, (_, i) => post(webhook.agent, webhook.origin, '/mutate', podReview([`${token.host}/bench/herd:v1`], { name: `herd-${i}` }))));
  const ms = performance.now() - started;
  const unpinned = answers.filter((a) => a.response.patch === undefined).length;
  if (unpinned > 0) throw new Error(`${unpinned} of ${HERD} herd admissions were not pinned`);
  const [headsAfter, tokensAfter] = await Promise.all([requestsTo(webhook, token.host, 'HEAD'), harness.tokenRequestCount(token, account)]);
  return { ms, heads: headsAfter - headsBefore, tokens: tokensAfter - tokensBefore };
}

/** A fresh webhook process on CPU 0 whose cache memory.mjs fills with FILL_ENTRIES digests; its memory before and after. */
async function cacheMemory(pin, certs) {
  const env = { ...process.env, ...IMAGE_VARIABLES, BENCH_CERT: certs.certFile, BENCH_KEY: certs.keyFile, BENCH_ENTRIES: String(FILL_ENTRIES) };
  const child = spawnPinned(pin, ['--expose-gc', ...IMAGE_NODE_FLAGS, join(BENCH_BUNDLE, 'memory.js')], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], env });
  try {
    const next = () =>
      new Promise((resolve, reject) => {
        child.once('message', resolve);
        child.once('exit', (code) => reject(new Error(`bench/memory.mjs exited with ${code}`)));
      });
    const { port } = await next();
    const filling = next();
    child.send('fill');
    const report = await filling;
    // The filled webhook still answers from its cache over HTTPS.
    const agent = new Agent({ connect: { ca: certs.ca } });
    const answer = await post(agent, `https://127.0.0.1:${port}`, '/mutate', podReview([report.sample], { name: 'memory' }));
    await agent.close();
    if (answer.response.patch === undefined) throw new Error('the filled webhook did not pin an image it had cached');
    return report;
  } finally {
    await stopChild(child);
  }
}

const fmt = (value, digits = 2) => (Number.isFinite(value) ? value.toFixed(digits) : String(value));
const verdict = (ok) => (ok ? 'met' : '**not met**');

function report(m, r) {
  const ratio = r.throughput.webhook.perSecond / r.throughput.baseline.perSecond;
  const cpuRatio = r.throughput.webhook.perCpuSecond / r.throughput.baseline.perCpuSecond;
  // VmHWM only grows: the last reading is the process's peak.
  const peakMB = (r.memory.settled.peakMiB * 2 ** 20) / 1e6;
  const p99Verdict =
    r.rateBaseline.p99 >= TARGETS.p99Ms
      ? `**not measurable here**: the bare server's p99 was ${fmt(r.rateBaseline.p99, 1)} ms (${r.rateWebhook.p99 < TARGETS.p99Ms ? 'met' : 'not met'} as measured)`
      : verdict(r.rateWebhook.p99 < TARGETS.p99Ms);
  const lines = [
    '# Benchmark results',
    '',
    `Machine: ${m.cpus} CPUs (${m.model}), ${m.memoryGiB} GiB, ${m.kernel}, Node.js ${m.node}; ${m.pinning}. ${new Date().toISOString().slice(0, 10)}.`,
    `Load average (1 min) ${m.loadBefore} at the start, ${fmt(os.loadavg()[0])} at the end: other work on the machine shows up here.`,
    '',
    `## Warm cache: a 5-container Pod over HTTPS, ${CONNECTIONS} keep-alive connections (autocannon)`,
    '',
    `${ROUNDS.length} rounds of ${ROUND_SECONDS} s, ${ROUNDS.map((n) => n[0].toUpperCase()).join(' ')} (B baseline, W webhook sent a new pod spec each review: the same 5 cached images under new container names), after ${WARMUP_SECONDS} s of warm-up each. The webhook runs with the container image's node flags (${IMAGE_NODE_FLAGS.join(' ') || 'none'}) and environment (${imageVariables()}); the baseline with neither.`,
    '',
    '| server | reviews/s | per round | p50 ms | p99 ms | server CPU | reviews per CPU-second |',
    '| --- | ---: | --- | ---: | ---: | ---: | ---: |',
    ...[
      ['bare node:https (parse, fixed patch)', r.throughput.baseline],
      ['digest-pinner serve, a new pod spec each review (cache path)', r.throughput.webhook],
    ].map(
      ([name, x]) => `| ${name} | ${fmt(x.perSecond, 0)} | ${x.rounds.join(', ')} | ${fmt(x.p50, 1)} | ${x.p99} | ${fmt(x.cpuShare * 100, 0)}% | ${fmt(x.perCpuSecond, 0)} |`,
    ),
    `| **webhook / baseline** | ${fmt(ratio)} | | | | | **${fmt(cpuRatio)}** |`,
    '',
    'Each review makes the webhook do all of an admission but the registry round trip: walk the pod spec, look up credentials and the cache for each image, build the patch and its annotation, count metrics and write a log line.',
    '',
    'autocannon latencies have 1 ms resolution (p50: mean over rounds; p99: worst round). "server CPU" is the server process\'s CPU time over its rounds (100% = one core). Where it is well under 100%, the load generator (one core, shared with the registries and anything else running) set the pace, not the server, and reviews/s understates what the server can do; reviews per CPU-second does not depend on the load generator and, for a server alone on one core, is the throughput it reaches when saturated. The guard below is judged on that ratio.',
    '',
    `## Steady ${RATE} reviews/s for ${RATE_SECONDS} s (open loop, ${RATE_CONNECTIONS} connections, warm cache)`,
    '',
    '| server | sent | achieved/s | p50 ms | p99 ms | p99.9 ms | max ms |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...[['bare node:https', r.rateBaseline], ['digest-pinner serve', r.rateWebhook]].map(
      ([name, x]) => `| ${name} | ${x.sent} | ${fmt(x.achievedRate, 0)} | ${fmt(x.p50, 3)} | ${fmt(x.p99, 3)} | ${fmt(x.p999, 3)} | ${fmt(x.max, 1)} |`,
    ),
    '',
    `Latency from handing the request to the client pool to the end of the answer. The client's largest lag behind its schedule was ${fmt(r.rateBaseline.maxSendLagMs, 1)} ms (baseline run) and ${fmt(r.rateWebhook.maxSendLagMs, 1)} ms (webhook run): more than a millisecond or two means the load generator's CPU was busy elsewhere, and the bare server's p99 shows how much of the tail is the machine rather than the webhook.`,
    '',
    '## Cold admissions',
    '',
    '| case | wall time | manifest HEADs | token requests | other GETs |',
    '| --- | ---: | ---: | ---: | ---: |',
    `| Pod of ${COLD_IMAGES} distinct uncached images, one token-auth registry, first contact | ${fmt(r.cold.ms, 1)} ms | ${r.cold.heads} | ${r.cold.tokens} | ${r.cold.gets} |`,
    `| ${HERD} concurrent admissions of one uncached image (same registry) | ${fmt(r.herd.ms, 1)} ms | ${r.herd.heads} | ${r.herd.tokens} | |`,
    '',
    'HEADs and GETs counted in the registry\'s access log, token requests by the token service (both as deltas around the case). "Other GETs" include the `GET /v2/` that learns the auth scheme.',
    '',
    `## Memory with ${FILL_ENTRIES.toLocaleString('en')} cached entries`,
    '',
    `A fresh webhook process (bench/memory.mjs, bundled like the image's dist/main.js: \`serve\`'s app, metrics and resolver, with the modules \`serve\` loads in a cluster, @kubernetes/client-node included; node flags ${IMAGE_NODE_FLAGS.join(' ') || '(none)'} and ${imageVariables()}, as the container image sets them), its cache filled with ${r.memory.entries} entries through \`Resolver.resolve\` from an in-process digest source in ${fmt(r.memory.fillSeconds, 1)} s, then still answering reviews from it over HTTPS.`,
    '',
    '| | RSS MiB | peak RSS (VmHWM) MiB | JS heap used MiB |',
    '| --- | ---: | ---: | ---: |',
    `| listening, cache empty | ${fmt(r.memory.started.rssMiB, 1)} | ${fmt(r.memory.started.peakMiB, 1)} | ${fmt(r.memory.started.heapMiB, 1)} |`,
    `| right after the fill | ${fmt(r.memory.filled.rssMiB, 1)} | ${fmt(r.memory.filled.peakMiB, 1)} | ${fmt(r.memory.filled.heapMiB, 1)} |`,
    `| fetch timers lapsed, after a full GC | ${fmt(r.memory.settled.rssMiB, 1)} | ${fmt(r.memory.settled.peakMiB, 1)} | ${fmt(r.memory.settled.heapMiB, 1)} |`,
    '',
    `Live JS heap per cached entry: ${fmt(((r.memory.settled.heapMiB - r.memory.started.heapMiB) * 2 ** 20) / r.memory.entries, 0)} bytes (after full collections, against the empty process after full collections). The empty process's RSS is mostly the modules it loads; the peak is V8 growing its heap to absorb the fill's garbage, which it gives back to the system only slowly.`,
    '',
    `The production webhook of the runs above (\`digest-pinner serve\`, a handful of cached entries) peaked at ${fmt(r.webhookPeakMiB, 1)} MiB RSS under the closed-loop load.`,
    '',
    '## Targets',
    '',
    '| target | result | |',
    '| --- | --- | --- |',
    `| cache path ≥ ${TARGETS.ratio} of bare node:https (per CPU-second) | ${fmt(cpuRatio)} (reviews/s: ${fmt(ratio)}) | ${verdict(cpuRatio >= TARGETS.ratio)} |`,
    `| p99 < ${TARGETS.p99Ms} ms at ${RATE} reviews/s | ${fmt(r.rateWebhook.p99, 3)} ms | ${p99Verdict} |`,
    `| cold Pod of ${COLD_IMAGES}: one round of HEADs (${COLD_IMAGES}) | ${r.cold.heads} HEADs | ${verdict(r.cold.heads === TARGETS.coldHeads)} |`,
    `| cold Pod of ${COLD_IMAGES}: one token request per repository (${TARGETS.coldTokens}) | ${r.cold.tokens} | ${verdict(r.cold.tokens === TARGETS.coldTokens)} |`,
    `| ${HERD} concurrent cold admissions of one image: one HEAD | ${r.herd.heads} | ${verdict(r.herd.heads === TARGETS.herdHeads)} |`,
    `| peak RSS < ${TARGETS.peakRssMB} MB with ${FILL_ENTRIES.toLocaleString('en')} entries | ${fmt(peakMB, 1)} MB | ${verdict(peakMB < TARGETS.peakRssMB && r.memory.entries === FILL_ENTRIES)} |`,
    '',
  ];
  return lines.join('\n');
}

async function main() {
  const began = performance.now();
  const pin = pinCores();
  const m = machine(pin.note);
  log(`${m.cpus} CPUs, ${m.model}; ${pin.note}`);
  // The memory probe, bundled as `npm run build` bundles the webhook: the same modules, tree-shaken alike.
  await bundle({ main: 'src/main.ts', memory: 'bench/memory.mjs', certs: 'src/certs/index.ts' }, BENCH_BUNDLE);
  const { generateCertificates } = await import(join(BENCH_BUNDLE, 'certs.js'));
  const harness = await loadHarness(REPO);
  workDir = await mkdtemp(join(os.tmpdir(), 'dp-bench-'));
  const cleanups = [() => rm(workDir, { recursive: true, force: true })];
  try {
    log('starting registries');
    const { registries, teardown } = await startRegistries(harness.setup);
    cleanups.push(teardown);
    log('pushing images');
    const warmImages = Array.from({ length: 5 }, (_, i) => `bench/warm-${i}`);
    await Promise.all([
      ...warmImages.map((repo) => harness.pushImage(registries.plain, repo, 'v1')),
      ...Array.from({ length: COLD_IMAGES }, (_, i) => harness.pushImage(registries.token, `bench/cold-${i}`, 'v1')),
      harness.pushImage(registries.token, 'bench/herd', 'v1'),
    ]);

    const pair = await generateCertificates({ hosts: ['127.0.0.1', 'localhost'], validDays: 1 });
    const certs = { certFile: join(workDir, 'tls.crt'), keyFile: join(workDir, 'tls.key'), ca: pair.caCert };
    await Promise.all([writeFile(certs.certFile, pair.cert), writeFile(certs.keyFile, pair.key)]);

    log('starting the webhook');
    const webhook = await startWebhook(pin, { workDir, certs, registries });
    cleanups.push(() => webhook.agent.close(), () => stopChild(webhook.child));
    const warmBody = podReview(warmImages.map((repo) => `${registries.plain.host}/${repo}:v1`), { name: 'warm' });
    const first = await post(webhook.agent, webhook.origin, '/mutate', warmBody);
    if (first.response.patch === undefined) throw new Error(`the warm Pod was not pinned: ${JSON.stringify(first.response)}`);
    const baseline = await startBaseline(pin, { certs, patch: first.response.patch });
    cleanups.push(() => stopChild(baseline.child));
    const check = await post(webhook.agent, baseline.origin, '/mutate', warmBody);
    if (check.response.patch !== first.response.patch) throw new Error('the baseline does not answer with the webhook\'s patch');

    log(`throughput: ${ROUNDS.join(', ')}, ${ROUND_SECONDS} s each`);
    const results = {};
    // The warm images under container names no review has used before: a new pod spec each time.
    let distinct = 0;
    const distinctBody = () => {
      distinct += 1;
      return podReview(warmImages.map((repo) => `${registries.plain.host}/${repo}:v1`), { name: `warm-${distinct}`, containerPrefix: `d${distinct}-` });
    };
    results.throughput = await throughput({ baseline, webhook }, warmBody, distinctBody, certs.ca);
    log(`throughput: ${JSON.stringify(results.throughput)}`);
    log(`steady ${RATE}/s for ${RATE_SECONDS} s: baseline, then webhook`);
    const rateOptions = { path: '/mutate', body: warmBody, ca: certs.ca, rate: RATE, seconds: RATE_SECONDS, connections: RATE_CONNECTIONS };
    results.rateBaseline = await constantRate({ origin: baseline.origin, ...rateOptions });
    results.rateWebhook = await constantRate({ origin: webhook.origin, ...rateOptions });
    log(`steady rate: baseline ${JSON.stringify(results.rateBaseline)}, webhook ${JSON.stringify(results.rateWebhook)}`);
    await stopChild(baseline.child);

    log('cold admissions');
    results.cold = await coldPod(harness, registries, webhook);
    results.herd = await herd(harness, registries, webhook);
    log(`cold: ${JSON.stringify(results.cold)}, herd: ${JSON.stringify(results.herd)}`);
    results.webhookPeakMiB = (await residentMiB(webhook.child.pid)).peak;
    await stopChild(webhook.child);
    log(`memory: filling a fresh webhook's cache with ${FILL_ENTRIES} entries`);
    results.memory = await cacheMemory(pin, certs);
    log(`memory: ${JSON.stringify(results.memory)}`);

    const text = report(m, results);
    console.log(text);
    await writeFile(join(REPO, 'bench/results.md'), text);
    log(`done in ${fmt((performance.now() - began) / 1000, 0)} s; written to bench/results.md`);
  } finally {
    for (const cleanup of cleanups.reverse()) {
      await cleanup().catch((error) => log(`cleanup: ${error}`));
    }
  }
}

const limit = setTimeout(() => {
  log(`over the ${TIME_LIMIT_MS / 1000} s limit, stopping`);
  for (const child of children) child.kill('SIGKILL');
  process.exit(1);
}, TIME_LIMIT_MS);
limit.unref();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
  if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true });
});

main().then(
  () => clearTimeout(limit),
  (error) => {
    console.error(error);
    process.exitCode = 1;
    clearTimeout(limit);
  },
);
