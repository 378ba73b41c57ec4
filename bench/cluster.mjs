/**
 * `npm run bench:cluster`: the webhook in a cluster the size of a large one. Starts the
 * e2e control plane (test/e2e/cluster.ts, binaries from test/e2e/build-binaries.sh) and the
 * test suite's registries, creates NAMESPACES namespaces each with SERVICE_ACCOUNTS
 * ServiceAccounts and a pull secret, and runs the built webhook as the image runs it
 * (`node <image flags> dist/main.js serve`, MALLOC_ARENA_MAX) on the host, registered with
 * kube-apiserver by URL. Measures its RSS, its time from start to ready and its first
 * admission against warm ones (fresh processes, repeated), the informers' heap per object
 * (bench/informers.mjs), and pod creation through kube-apiserver at RATE pods/s with and
 * without the webhook, end to end and as kube-apiserver's own webhook histogram sees it.
 * Writes bench/cluster-results.md; stops everything it started.
 */
import { execFileSync } from 'node:child_process';
import console from 'node:console';
import { Buffer } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import { bundle } from '../scripts/bundle.mjs';
import { freePort, IMAGE_NODE_FLAGS, IMAGE_VARIABLES, imageVariables, load, machine, podReview, post, REPO, stopChild } from './common.mjs';
import { loadHarness, startRegistries } from './harness.mjs';
import { apiClient, eachLimited, histogramDelta, loadCluster, logger, ownHistogram, pointWebhookAt, READY_POLL_MS, runBenchmark, spawnTracked, startWebhook, webhookHistogram } from './kube.mjs';
import { mainThreadCpuMs, quantile, residentMiB } from './load.mjs';

const env = (name, fallback) => Number(process.env[name] ?? fallback);
/** The cluster: BENCH_NAMESPACES namespaces, each with BENCH_SERVICE_ACCOUNTS ServiceAccounts and one pull secret. */
const NAMESPACES = env('BENCH_NAMESPACES', 2000);
const SERVICE_ACCOUNTS = env('BENCH_SERVICE_ACCOUNTS', 10);
/** ServiceAccounts sa-0 … sa-(N-1) of each namespace list its pull secret in imagePullSecrets. */
const ACCOUNTS_WITH_SECRET = Math.ceil(SERVICE_ACCOUNTS / 2);
const PULL_SECRET = 'regcred';
/** API requests in flight while creating the cluster's objects. */
const CONCURRENCY = 32;
/**
 * Namespaces pods are created in, POD_NAMESPACES for each arm: opted in to digest-pinner
 * (digest-pinner.io/mode=warn), then with no webhook, then sent to the bare webhook.
 */
const POD_NAMESPACES = 10;
const ARMS = ['with', 'without', 'bare'];
const BARE_LABEL = 'bench.digest-pinner.io/bare-webhook';
/**
 * Pod creations per second, and the phases at that rate: without a webhook, with digest-pinner,
 * and with a bare node:https webhook that answers a fixed patch (bench/baseline.mjs): what any
 * webhook costs on this machine. In an order that spreads drift in the machine's load over all three.
 */
const RATE = env('BENCH_RATE', 50);
const PHASE_SECONDS = env('BENCH_PHASE_SECONDS', 20);
const PHASES = ['without', 'with', 'bare', 'bare', 'with', 'without'];
/** A phase with the webhook before those, not measured. */
const WARM_UP_SECONDS = 5;
/** Fresh webhook processes started against the full cluster, for ready time and the first admission. */
const STARTS = env('BENCH_STARTS', 3);
/** Admissions of images the process has not resolved yet, after the first, from a registry it has asked before. */
const WARM_REVIEWS = 10;
const TAGS = WARM_REVIEWS + 1;
/**
 * More registry processes serving the same storage, each a host the webhook has never asked:
 * the first admission's registry round trip includes a TLS handshake and learning the
 * registry's auth scheme, so it is compared with admissions to hosts equally new to the process.
 */
const MIRRORS = 5;
const AFTER_READY_MS = 1_000;
/** A pause before each review from a new registry: BENCH_CPU_PROF profiles then show each review apart. */
const BETWEEN_REVIEWS_MS = env('BENCH_BETWEEN_REVIEWS_MS', 0);
const WEBHOOK_NAME = 'warn.digest-pinner.io';
const BARE_WEBHOOK_NAME = 'bare.bench.digest-pinner.io';
const TIME_LIMIT_MS = env('BENCH_TIME_LIMIT_S', 2400) * 1000;
/**
 * BENCH_FIRST_ADMISSION_ONLY=1: only the fresh starts (ready time, first admission against warm
 * ones), printed and not written to bench/cluster-results.md; with BENCH_NAMESPACES, a smaller
 * cluster for a quicker look.
 */
const FIRST_ADMISSION_ONLY = process.env.BENCH_FIRST_ADMISSION_ONLY === '1';
const TARGETS = { rssMB: 200, readySeconds: 15, p50Ms: 2, p99Ms: 10, firstOverWarm: 1.25 };

const BENCH_BUNDLE = join(REPO, 'dist/bench-cluster');
let workDir;
const log = logger('bench:cluster');
const fmt = (value, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');
const MB = 1e6 / 2 ** 20;
const nsName = (i) => `bench-${String(i).padStart(4, '0')}`;

/**
 * MIRRORS more Distribution processes serving `registry`'s storage (TLS with its certificate,
 * the same user): each is a registry host the webhook has not talked to yet.
 */
async function startMirrors(harness, registry, registries) {
  const pkiDir = dirname(registries.caFile);
  const mirrorsDir = join(workDir, 'mirrors');
  const htpasswd = join(mirrorsDir, 'htpasswd');
  await mkdir(mirrorsDir);
  await harness.writeHtpasswd(htpasswd, registry.username, registry.password);
  const started = [];
  for (let k = 0; k < MIRRORS; k += 1) {
    const dir = join(mirrorsDir, `mirror-${k}`);
    await mkdir(dir);
    await symlink(join(dirname(registry.logFile), 'storage'), join(dir, 'storage'));
    started.push(await harness.startRegistry({
      name: `mirror-${k}`,
      dir,
      tls: { certFile: join(pkiDir, 'server.pem'), keyFile: join(pkiDir, 'server-key.pem'), caFile: registries.caFile },
      auth: { kind: 'htpasswd', realm: 'digest-pinner bench mirror', path: htpasswd },
    }));
  }
  return started;
}

/**
 * What the bare webhook answers every review with: a pod as digest-pinner stores it (one is
 * created for this), as a patch that replaces each container's image and adds the annotation,
 * base64 as `response.patch` carries it. No `test` operations: it holds for any pod of the phases.
 */
async function barePatch(api, images) {
  const [namespace] = armNamespaces('with');
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'bare-patch', namespace }, spec: { serviceAccountName: 'sa-0', containers: images.map((image, c) => ({ name: `c${c}`, image: `${image}:t0` })) } };
  const res = await api.pool.request({ method: 'POST', path: `/api/v1/namespaces/${namespace}/pods`, headers: { 'content-type': 'application/json' }, body: JSON.stringify(pod) });
  const stored = JSON.parse(await res.body.text());
  if (res.statusCode !== 201 || !stored.spec.containers.every((container) => container.image.includes('@sha256:'))) throw new Error(`the pod for the bare webhook's patch was not pinned: ${JSON.stringify(stored).slice(0, 300)}`);
  const operations = [
    ...stored.spec.containers.map((container, c) => ({ op: 'replace', path: `/spec/containers/${c}/image`, value: container.image })),
    { op: 'add', path: '/metadata/annotations', value: stored.metadata.annotations },
  ];
  return Buffer.from(JSON.stringify(operations)).toString('base64');
}

/** Which webhook a namespace's pods go to: see ARMS. */
function armLabel(i) {
  const arm = ARMS[Math.floor(i / POD_NAMESPACES)];
  if (arm === 'with') return { 'digest-pinner.io/mode': 'warn' };
  if (arm === 'bare') return { [BARE_LABEL]: 'true' };
  return {};
}

/** The namespaces of one arm. */
function armNamespaces(arm) {
  const first = ARMS.indexOf(arm) * POD_NAMESPACES;
  return Array.from({ length: POD_NAMESPACES }, (_, i) => nsName(first + i));
}

/**
 * The bare webhook (bench/baseline.mjs), answering every review with `patch`, registered for
 * the namespaces labelled BARE_LABEL as digest-pinner's warn entry is registered.
 */
async function startBareWebhook(cluster, certs, patch) {
  const child = spawnTracked([join(REPO, 'bench/baseline.mjs')], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, BENCH_CERT: certs.certFile, BENCH_KEY: certs.keyFile, BENCH_PATCH: patch },
  });
  const { port } = await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`the bare webhook exited with ${code}`)));
  });
  const configuration = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: 'bench-bare-webhook' },
    webhooks: [{
      name: BARE_WEBHOOK_NAME,
      clientConfig: { url: `https://127.0.0.1:${port}/mutate`, caBundle: Buffer.from(certs.ca).toString('base64') },
      rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], scope: 'Namespaced' }],
      namespaceSelector: { matchLabels: { [BARE_LABEL]: 'true' } },
      failurePolicy: 'Ignore',
      sideEffects: 'None',
      admissionReviewVersions: ['v1'],
      timeoutSeconds: 10,
      reinvocationPolicy: 'Never',
    }],
  };
  await cluster.kubectlOk(['apply', '-f', '-'], { stdin: JSON.stringify(configuration) });
  return child;
}

/** The cluster's objects: namespaces (the first ones of each arm labelled), ServiceAccounts and pull secrets. */
async function populate(api, registry, hosts) {
  const started = performance.now();
  const auth = Buffer.from(`${registry.username}:${registry.password}`).toString('base64');
  // Each secret also names registries it will never be asked for, as real ones do.
  const dockerConfig = (i) => JSON.stringify({
    auths: {
      ...Object.fromEntries(hosts.map((host) => [host, { auth }])),
      'ghcr.io': { auth: Buffer.from(`team-${i}:ghp_${'x'.repeat(36)}`).toString('base64') },
      'https://index.docker.io/v1/': { auth: Buffer.from(`team-${i}:dckr_pat_${'y'.repeat(27)}`).toString('base64') },
    },
  });
  const indices = Array.from({ length: NAMESPACES }, (_, i) => i);
  await eachLimited(indices, CONCURRENCY, (i) => api.create('/api/v1/namespaces', {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: nsName(i), labels: { team: `team-${i % 50}`, ...armLabel(i) } },
  }), 'namespaces', log);
  await eachLimited(indices, CONCURRENCY, (i) => api.create(`/api/v1/namespaces/${nsName(i)}/secrets`, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: PULL_SECRET, namespace: nsName(i), labels: { team: `team-${i % 50}` } },
    type: 'kubernetes.io/dockerconfigjson',
    data: { '.dockerconfigjson': Buffer.from(dockerConfig(i)).toString('base64') },
  }), 'pull secrets', log);
  const accounts = indices.flatMap((i) => Array.from({ length: SERVICE_ACCOUNTS }, (_, a) => [i, a]));
  await eachLimited(accounts, CONCURRENCY, ([i, a]) => api.create(`/api/v1/namespaces/${nsName(i)}/serviceaccounts`, {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name: `sa-${a}`, namespace: nsName(i), labels: { team: `team-${i % 50}`, app: `app-${a}` }, annotations: { 'example.com/owner': `team-${i % 50}@example.com` } },
    ...(a < ACCOUNTS_WITH_SECRET ? { imagePullSecrets: [{ name: PULL_SECRET }] } : {}),
  }), 'ServiceAccounts', log);
  // kube-controller-manager adds a `default` ServiceAccount to each namespace: wait for all of them.
  for (;;) {
    const defaults = await api.count('/api/v1/serviceaccounts', (item) => item.metadata.name === 'default' && item.metadata.namespace.startsWith('bench-'));
    if (defaults >= NAMESPACES) break;
    log(`waiting for kube-controller-manager's default ServiceAccounts: ${defaults}/${NAMESPACES}`);
    await sleep(3_000);
  }
  return { seconds: (performance.now() - started) / 1000 };
}

/** What the informers will hold: pull secrets, ServiceAccounts and Namespaces in the whole cluster. */
async function clusterObjects(api) {
  const pullSecretTypes = new Set(['kubernetes.io/dockerconfigjson', 'kubernetes.io/dockercfg']);
  const [secrets, serviceAccounts, namespaces] = await Promise.all([
    api.count('/api/v1/secrets', (item) => pullSecretTypes.has(item.type)),
    api.count('/api/v1/serviceaccounts', () => true),
    api.count('/api/v1/namespaces', () => true),
  ]);
  return { secrets, serviceAccounts, namespaces };
}

/**
 * One review straight to the webhook: wall time, and the CPU time of its JavaScript thread
 * meanwhile (hardly moved by other work on the machine). Throws unless every image was pinned.
 */
async function timedReview(webhook, body, images) {
  const cpuBefore = await mainThreadCpuMs(webhook.child.pid);
  const started = performance.now();
  const answer = await post(webhook.agent, webhook.origin, '/mutate/warn', body);
  const ms = performance.now() - started;
  const cpuMs = (await mainThreadCpuMs(webhook.child.pid)) - cpuBefore;
  const patch = Buffer.from(answer.response.patch ?? '', 'base64').toString();
  for (const image of images) {
    if (!patch.includes(`${image}@sha256:`)) throw new Error(`${image} was not pinned: ${JSON.stringify(answer.response)}`);
  }
  return { ms, cpuMs };
}

/**
 * A fresh webhook against the full cluster: time to ready, RSS then, and its first admission
 * (images it has not resolved, from a registry it has not asked: a TLS handshake, the auth
 * scheme, a HEAD per image) against warm ones: MIRRORS admissions from registries equally new
 * to it, WARM_REVIEWS of new tags from the registry it now knows, and cached ones.
 */
async function freshStart(options, images, mirrors, run) {
  const webhook = await startWebhook({ ...options, name: `webhook-${run}` });
  const readyLoad = load();
  const atReady = await residentMiB(webhook.child.pid);
  const review = (refs, name) => timedReview(webhook, podReview(refs, { name, namespace: nsName(0), pullSecrets: [PULL_SECRET] }), refs);
  const at = (host, tag) => images.map((repo) => `${host}/${repo}:${tag}`);
  // kube-apiserver's first review comes after a readiness probe has passed and the Service's
  // endpoints have changed; meanwhile the informers open their watches.
  await sleep(AFTER_READY_MS);
  const first = await review(at(options.registryHost, 't0'), 'first');
  const newHost = [];
  for (const [k, mirror] of mirrors.entries()) {
    await sleep(BETWEEN_REVIEWS_MS);
    newHost.push(await review(at(mirror.host, 't0'), `new-host-${k}`));
  }
  const warm = [];
  for (let t = 1; t < TAGS; t += 1) warm.push(await review(at(options.registryHost, `t${t}`), `warm-${t}`));
  const cached = [];
  for (let t = 0; t < TAGS; t += 1) cached.push(await review(at(options.registryHost, `t${t}`), `cached-${t}`));
  const ms = (list) => list.map((r) => r.ms);
  const cpu = (list) => list.map((r) => r.cpuMs);
  return {
    webhook, readyMs: webhook.readyMs, readyLoad, atReady, load: load(),
    firstMs: first.ms, newHostMs: ms(newHost), warmMs: ms(warm), cachedMs: ms(cached),
    firstCpuMs: first.cpuMs, newHostCpuMs: cpu(newHost), warmCpuMs: cpu(warm), cachedCpuMs: cpu(cached),
  };
}

/** Prometheus' histogram_quantile: linear within the bucket the quantile falls in. */
function histogramQuantile(histogram, q) {
  const bounds = [...histogram.buckets].map(([le, value]) => [le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le), value]).sort((a, b) => a[0] - b[0]);
  const rank = q * histogram.count;
  let lower = 0;
  let below = 0;
  for (const [upper, cumulative] of bounds) {
    if (cumulative >= rank) {
      if (!Number.isFinite(upper)) return lower;
      return lower + ((upper - lower) * (rank - below)) / Math.max(1, cumulative - below);
    }
    lower = upper;
    below = cumulative;
  }
  return Number.NaN;
}

/** Share of observations at or under `bound` seconds (a bucket boundary). */
function shareAtOrUnder(histogram, bound) {
  const value = [...histogram.buckets].find(([le]) => Number(le) === bound)?.[1];
  return value === undefined || histogram.count === 0 ? Number.NaN : value / histogram.count;
}

function histogramSummary(histogram, firstBound) {
  return {
    count: histogram.count,
    meanMs: (histogram.sum / histogram.count) * 1000,
    p50Ms: histogramQuantile(histogram, 0.5) * 1000,
    p99Ms: histogramQuantile(histogram, 0.99) * 1000,
    firstBound,
    shareUnderFirst: shareAtOrUnder(histogram, firstBound),
    bounds: [...histogram.buckets.keys()],
  };
}

let podSerial = 0;
/** Creates pods at RATE/s for PHASE_SECONDS, on schedule whatever the answers; latency from the scheduled time. */
async function podPhase(api, namespaces, images, seconds = PHASE_SECONDS) {
  const total = Math.round(RATE * seconds);
  const interval = 1000 / RATE;
  const pending = [];
  const create = async (i, scheduled) => {
    podSerial += 1;
    const namespace = namespaces[i % namespaces.length];
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `pod-${podSerial}`, namespace, labels: { app: 'bench' } },
      spec: {
        serviceAccountName: 'sa-0',
        containers: images.map((image, c) => ({ name: `c${c}`, image: `${image}:t0`, resources: { requests: { cpu: '10m', memory: '16Mi' } } })),
      },
    };
    const res = await api.pool.request({ method: 'POST', path: `/api/v1/namespaces/${namespace}/pods`, headers: { 'content-type': 'application/json' }, body: JSON.stringify(pod) });
    const text = await res.body.text();
    const ms = performance.now() - scheduled;
    if (res.statusCode !== 201) throw new Error(`pod creation answered ${res.statusCode}: ${text.slice(0, 300)}`);
    const stored = JSON.parse(text);
    return { ms, pinned: stored.spec.containers.every((container) => container.image.includes('@sha256:')) };
  };
  const start = performance.now();
  for (let i = 0; i < total; ) {
    const now = performance.now();
    while (i < total && start + i * interval <= now) {
      pending.push(create(i, start + i * interval));
      i += 1;
    }
    if (i < total) await sleep(Math.max(0, start + i * interval - performance.now()));
  }
  const results = await Promise.all(pending);
  const elapsed = (performance.now() - start) / 1000;
  const latencies = results.map((r) => r.ms).sort((a, b) => a - b);
  return {
    pods: total,
    achievedRate: total / elapsed,
    pinned: results.filter((r) => r.pinned).length,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
  };
}

async function loadPhases(api, webhook, images) {
  const withNs = armNamespaces('with');
  // Warm: one pod in each opted-in namespace, so the webhook has every digest the phases ask for,
  // then a phase at the rate, so kube-apiserver has its connections to both webhooks open.
  const warm = await podPhaseOnce(api, withNs, images);
  if (warm !== withNs.length) throw new Error(`warm-up: ${warm} of ${withNs.length} pods stored pinned`);
  await podPhase(api, withNs, images, WARM_UP_SECONDS);
  await podPhase(api, armNamespaces('bare'), images, WARM_UP_SECONDS);
  const phases = [];
  const histogram = (text, name) => webhookHistogram(text, 'apiserver_admission_webhook_admission_duration_seconds', { name, operation: 'CREATE', type: 'admit' });
  for (const phase of PHASES) {
    const metricsBefore = await api.get('/metrics');
    const ownBefore = await ownHistogram(webhook);
    const loadBefore = load();
    const result = await podPhase(api, armNamespaces(phase), images);
    const metricsAfter = await api.get('/metrics');
    const ownAfter = await ownHistogram(webhook);
    const name = phase === 'bare' ? BARE_WEBHOOK_NAME : WEBHOOK_NAME;
    const apiserver = histogramDelta(histogram(metricsAfter, name), histogram(metricsBefore, name));
    const own = histogramDelta(ownAfter, ownBefore);
    const connections = connectionStates(webhook.port);
    phases.push({ phase, ...result, load: `${loadBefore}–${load()}`, apiserver, own, lagMaxMs: ownAfter.lagMaxMs, connections });
    log(`${phase}: ${JSON.stringify({ ...result, webhookCalls: apiserver.count, connections })}`);
  }
  return phases;
}

/**
 * TCP connections to the webhook's port by state (`ss`): kube-apiserver reusing its
 * connections shows as a few ESTAB and no TIME-WAIT piling up; one connection per call would cost a TLS handshake each.
 */
function connectionStates(port) {
  try {
    const lines = execFileSync('ss', ['-Htan', `( dport = :${port} )`], { encoding: 'utf8' }).split('\n').filter((line) => line.trim() !== '');
    const states = {};
    for (const line of lines) {
      const state = line.split(/\s+/)[0];
      states[state] = (states[state] ?? 0) + 1;
    }
    return states;
  } catch {
    return { unknown: 'ss failed' };
  }
}

/** Creates one pod in each namespace and returns how many were stored pinned. */
async function podPhaseOnce(api, namespaces, images) {
  let pinned = 0;
  for (const namespace of namespaces) {
    podSerial += 1;
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: `warm-${podSerial}`, namespace }, spec: { serviceAccountName: 'sa-0', containers: images.map((image, c) => ({ name: `c${c}`, image: `${image}:t0` })) } };
    const res = await api.pool.request({ method: 'POST', path: `/api/v1/namespaces/${namespace}/pods`, headers: { 'content-type': 'application/json' }, body: JSON.stringify(pod) });
    const stored = JSON.parse(await res.body.text());
    if (stored.spec?.containers?.every((container) => container.image.includes('@sha256:'))) pinned += 1;
  }
  return pinned;
}

async function informerMemory(kubeconfig) {
  const child = spawnTracked(['--expose-gc', ...IMAGE_NODE_FLAGS, join(BENCH_BUNDLE, 'informers.js')], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, ...IMAGE_VARIABLES, BENCH_KUBECONFIG: kubeconfig },
  });
  const report = await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`the informer probe exited with ${code}`)));
  });
  await stopChild(child);
  const objects = report.secrets + report.serviceAccounts + report.namespaces;
  return { ...report, objects, bytesPerObject: ((report.settled.heapMiB - report.before.heapMiB) * 2 ** 20) / objects, load: load() };
}

function median(values) {
  return quantile([...values].sort((a, b) => a - b), 0.5);
}

/** The fresh starts, a row each: ready time, RSS, the first admission against warm ones (wall time, and CPU in brackets). */
function startsTable(starts) {
  const row = (s, i) => `| ${i + 1} | ${fmt(s.readyMs / 1000, 2)} | ${s.readyLoad} | ${fmt(s.atReady.rss * MB, 0)} | ${fmt(s.firstMs, 1)} (${fmt(s.firstCpuMs, 1)}) | ${fmt(median(s.newHostMs), 1)} (${fmt(median(s.newHostCpuMs), 1)}) | ${fmt(s.firstMs / median(s.newHostMs), 2)} (${fmt(s.firstCpuMs / median(s.newHostCpuMs), 2)}) | ${fmt(median(s.warmMs), 1)} (${fmt(median(s.warmCpuMs), 1)}) | ${fmt(median(s.cachedMs), 2)} (${fmt(median(s.cachedCpuMs), 2)}) | ${s.load} |`;
  return [
    '| start | ready (s) | load | RSS at ready (MB) | first | new registry, warm, median | first / warm | new tag, known registry, median | cached, median | load after |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...starts.map(row),
  ];
}

function report(m, r) {
  const starts = r.starts;
  const readyWorst = Math.max(...starts.map((s) => s.readyMs)) / 1000;
  const rssWorst = Math.max(r.afterLoad.peak, ...starts.map((s) => s.atReady.peak)) * MB;
  const firstOverWarm = starts.map((s) => s.firstCpuMs / median(s.newHostCpuMs));
  const firstOverWarmWall = starts.map((s) => s.firstMs / median(s.newHostMs));
  const arm = (name) => r.phases.filter((p) => p.phase === name);
  const sum = (histograms) => histograms.reduce((acc, h) => ({
    buckets: new Map([...h.buckets].map(([le, v]) => [le, v + (acc.buckets.get(le) ?? 0)])),
    sum: acc.sum + h.sum,
    count: acc.count + h.count,
  }), { buckets: new Map(), sum: 0, count: 0 });
  const merged = sum(arm('with').map((p) => p.apiserver));
  const firstBound = Math.min(...[...merged.buckets.keys()].map(Number).filter(Number.isFinite));
  const share = histogramSummary(merged, firstBound);
  const bare = histogramSummary(sum(arm('bare').map((p) => p.apiserver)), firstBound);
  const own = histogramSummary(sum(arm('with').map((p) => p.own)), firstBound);
  const endToEnd = (name, q) => median(arm(name).map((p) => p[q]));
  const verdict = (ok) => (ok ? 'met' : '**missed**');
  const shareText = (h) => `mean ${fmt(h.meanMs, 2)} ms, ${fmt(h.shareUnderFirst * 100, 1)}% ≤ ${firstBound * 1000} ms`;
  const expectedPinned = (p) => (p.phase === 'without' ? `${p.pinned} (none expected)` : `${p.pinned}/${p.pods}`);
  const mean = (h) => (h.count === 0 ? '–' : fmt((h.sum / h.count) * 1000, 2));
  const phaseRow = (p) => `| ${p.phase} | ${p.pods} | ${fmt(p.achievedRate, 1)} | ${fmt(p.p50, 1)} | ${fmt(p.p99, 1)} | ${expectedPinned(p)} | ${p.apiserver.count} | ${mean(p.apiserver)} | ${p.phase === 'with' ? `${mean(p.own)} / ${fmt(p.lagMaxMs, 0)}` : '–'} | ${p.load} |`;
  const inf = r.informers;
  const lines = [
    '# Cluster benchmark results',
    '',
    `Written by \`npm run bench:cluster\` on ${new Date().toISOString().slice(0, 10)}.`,
    '',
    '## Machine',
    '',
    `${m.cpus} CPUs (${m.model}), ${m.memoryGiB} GiB, ${m.kernel}, Node.js ${m.node}; Kubernetes ${r.kube.kubernetes}, etcd ${r.kube.etcd}. Load average (1 min) ${m.loadBefore} at the start, ${load()} at the end. Everything runs on this machine: etcd, kube-apiserver, kube-controller-manager, the registries, the webhook and the load.`,
    '',
    '## Cluster',
    '',
    `${NAMESPACES.toLocaleString('en')} namespaces, each with ${SERVICE_ACCOUNTS} ServiceAccounts (${ACCOUNTS_WITH_SECRET} of them list its pull secret), kube-controller-manager's \`default\` one, and one \`kubernetes.io/dockerconfigjson\` pull secret naming three registries; created in ${fmt(r.populate.seconds, 0)} s. What the informers hold: ${r.objects.secrets.toLocaleString('en')} pull secrets, ${r.objects.serviceAccounts.toLocaleString('en')} ServiceAccounts, ${r.objects.namespaces.toLocaleString('en')} Namespaces.`,
    '',
    `The webhook: the bundle \`npm run build\` makes, run as the image runs it (node ${IMAGE_NODE_FLAGS.join(' ')}, ${imageVariables()}), \`serve --kubeconfig\` with the manifests' ServiceAccount token (its RBAC), registered by URL in the manifests' MutatingWebhookConfiguration.`,
    '',
    '## Targets',
    '',
    '| target | result | |',
    '| --- | --- | --- |',
    `| RSS < ${TARGETS.rssMB} MB | peak ${fmt(rssWorst, 0)} MB (at ready and after the pod phases, worst of ${starts.length} starts) | ${verdict(rssWorst < TARGETS.rssMB)} |`,
    `| ready < ${TARGETS.readySeconds} s | worst ${fmt(readyWorst, 2)} s of ${starts.length} starts | ${verdict(readyWorst < TARGETS.readySeconds)} |`,
    `| first admission after ready as fast as a warm one: CPU at most ${TARGETS.firstOverWarm}× a warm admission's from a registry equally new to the process | CPU ${firstOverWarm.map((x) => fmt(x, 2)).join(', ')}× (wall time ${firstOverWarmWall.map((x) => fmt(x, 2)).join(', ')}×) | ${verdict(median(firstOverWarm) <= TARGETS.firstOverWarm)} (median) |`,
    `| webhook's share of a pod creation at ${RATE}/s: p50 < ${TARGETS.p50Ms} ms | kube-apiserver's histogram: ${shareText(share)}, so p50 ≤ ${fmt(2 * share.meanMs, 2)} ms (twice the mean); the bare webhook: ${shareText(bare)}; digest-pinner's handler: p50 ${fmt(own.p50Ms, 2)} ms | ${verdict(2 * share.meanMs < TARGETS.p50Ms)} |`,
    `| webhook's share: p99 < ${TARGETS.p99Ms} ms | kube-apiserver's histogram: p99 ${fmt(share.p99Ms, 1)} ms interpolated (the bare webhook: ${fmt(bare.p99Ms, 1)} ms); digest-pinner's handler: p99 ${fmt(own.p99Ms, 2)} ms | ${verdict(share.shareUnderFirst >= 0.99 || share.p99Ms < TARGETS.p99Ms)} |`,
    '',
    '## Start to ready, first admission',
    '',
    `Fresh processes against the full cluster. Ready: from the spawn to the first 200 from \`/readyz\` (polled every ${READY_POLL_MS} ms; every informer synced). Admissions sent straight to the webhook over the connection the readiness probe opened, each a Pod of ${r.images.length} containers in ${nsName(0)} with its pull secret, every image pinned: the first, a second after ready (kube-apiserver's first review waits for a readiness probe and the Service's endpoints) from a registry the process has not asked yet: TLS handshake, auth challenge, a HEAD per image); then ${MIRRORS} from ${MIRRORS} more registry hosts equally new to the process (Distribution processes serving the same storage), the warm comparison; then ${WARM_REVIEWS} of new tags from the registry it now knows; then cached ones.`,
    '',
    'Each admission as wall time (ms), and in brackets the CPU time of the webhook\'s JavaScript thread meanwhile (ms, from /proc/<pid>/schedstat: what the admission cost, hardly moved by the machine\'s load).',
    '',
    ...startsTable(starts),
    '',
    `The same webhook in the cluster before any benchmark object existed: ready in ${fmt(r.empty.readyMs / 1000, 2)} s (load ${r.empty.readyLoad}), RSS ${fmt(r.empty.atReady.rss * MB, 0)} MB.`,
    '',
    '## Informers',
    '',
    `bench/informers.mjs (bundled like the webhook, same node flags, --expose-gc): the pull-secret, ServiceAccount and Namespace informers \`serve\` runs, synced in ${fmt(inf.syncSeconds, 1)} s: ${inf.secrets.toLocaleString('en')} pull secrets, ${inf.serviceAccounts.toLocaleString('en')} ServiceAccounts, ${inf.namespaces.toLocaleString('en')} Namespaces. V8 heap after full collections ${fmt(inf.before.heapMiB * MB, 1)} MB before, ${fmt(inf.settled.heapMiB * MB, 1)} MB synced: **${fmt(inf.bytesPerObject, 0)} bytes per object**. RSS ${fmt(inf.settled.rssMiB * MB, 0)} MB, peak ${fmt(inf.synced.peakMiB * MB, 0)} MB while listing (load ${inf.load}).`,
    '',
    '## Pod creation through kube-apiserver',
    '',
    `${RATE} pods/s, ${PHASE_SECONDS} s per phase, phases ${PHASES.join(', ')}; before them ${WARM_UP_SECONDS} s at the rate to each webhook, not counted. Each pod has ${r.images.length} containers and runs as sa-0 (its pull secret), in ${POD_NAMESPACES} namespaces per arm: opted in to digest-pinner (with), no webhook (without), or sent to a bare node:https webhook that answers digest-pinner's patch for this Pod without reading it (bench/baseline.mjs, registered the same way: bare), the floor any webhook has on this machine. digest-pinner's cache is warm. End to end: from each pod's scheduled send to kube-apiserver's answer, over ${CONCURRENCY} keep-alive connections. Webhook calls and their mean: kube-apiserver's \`apiserver_admission_webhook_admission_duration_seconds\` for the webhook's name (\`${WEBHOOK_NAME}\`, \`${BARE_WEBHOOK_NAME}\`) over the phase; its buckets are ${share.bounds.join(', ')} s, so below ${firstBound * 1000} ms only the mean (\`_sum\` over \`_count\`) resolves it, and a median is at most twice a mean. digest-pinner's own \`digest_pinner_admission_duration_seconds\` (its handler, from the parsed review to the answer) beside it.`,
    '',
    '| phase | pods | pods/s | p50 (ms) | p99 (ms) | stored pinned | webhook calls | webhook mean, kube-apiserver (ms) | digest-pinner: handler mean / longest event-loop delay (ms) | load |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...r.phases.map(phaseRow),
    '',
    `End to end (medians of the phases), p50 / p99: without ${fmt(endToEnd('without', 'p50'), 1)} / ${fmt(endToEnd('without', 'p99'), 1)} ms, bare webhook ${fmt(endToEnd('bare', 'p50'), 1)} / ${fmt(endToEnd('bare', 'p99'), 1)} ms, digest-pinner ${fmt(endToEnd('with', 'p50'), 1)} / ${fmt(endToEnd('with', 'p99'), 1)} ms.`,
    `kube-apiserver's histogram: digest-pinner ${share.count} calls, ${shareText(share)}, interpolated p99 ${fmt(share.p99Ms, 1)} ms; the bare webhook ${bare.count} calls, ${shareText(bare)}, interpolated p99 ${fmt(bare.p99Ms, 1)} ms. digest-pinner's handler: mean ${fmt(own.meanMs, 2)} ms, p50 ${fmt(own.p50Ms, 2)} ms, p99 ${fmt(own.p99Ms, 2)} ms. TCP connections from kube-apiserver to digest-pinner after each phase: ${r.phases.map((p) => Object.entries(p.connections).map(([state, n]) => `${n} ${state}`).join(' ')).join('; ')}. The webhook's RSS after the phases: ${fmt(r.afterLoad.rss * MB, 0)} MB, peak ${fmt(r.afterLoad.peak * MB, 0)} MB.`,
    '',
  ];
  return lines.join('\n');
}

async function main() {
  const began = performance.now();
  const m = machine('not pinned: the control plane, the registries and the webhook share every CPU');
  log(`${m.cpus} CPUs, ${m.model}`);
  workDir = await mkdtemp(join(os.tmpdir(), 'dp-bench-cluster-'));
  // BENCH_KEEP=1 keeps the logs (webhook-*.log, cluster-logs/) for a look afterwards.
  const cleanups = process.env.BENCH_KEEP === undefined ? [() => rm(workDir, { recursive: true, force: true })] : [];
  try {
    // The webhook is dist/main.js as `npm run build` made it; the probe is bundled with the same options.
    await bundle({ informers: 'bench/informers.mjs' }, BENCH_BUNDLE);
    const [harness, { startCluster, issueCertificate, writeHtpasswd, startRegistry, kube }] = await Promise.all([loadHarness(REPO), loadCluster('cluster')]);

    log('starting registries');
    const { registries, teardown } = await startRegistries(harness.setup);
    cleanups.push(teardown);
    const registry = registries.basic;
    const repositories = ['bench/app', 'bench/sidecar'];
    const tags = Array.from({ length: TAGS }, (_, t) => `t${t}`);
    log(`pushing ${repositories.length * tags.length} images to ${registry.host}`);
    await eachLimited(repositories.flatMap((repo) => tags.map((tag) => [repo, tag])), 4, ([repo, tag]) => harness.pushImage(registry, repo, tag), 'images', log);
    const images = repositories.map((repo) => `${registry.host}/${repo}`);
    const mirrors = await startMirrors({ writeHtpasswd, startRegistry }, registry, registries);
    cleanups.push(...mirrors.map((mirror) => () => mirror.stop()));

    log(`starting Kubernetes ${kube.kubernetes}`);
    const cluster = await startCluster({
      binaries: kube,
      logDir: join(workDir, 'cluster-logs'),
      maxLifetimeSeconds: TIME_LIMIT_MS / 1000 + 60,
      // Its default client rate (20/s) would take minutes to add each namespace's default ServiceAccount.
      extraControllerManagerArgs: ['--kube-api-qps=500', '--kube-api-burst=1000'],
    });
    cleanups.push(() => cluster.stop());
    const api = apiClient(cluster, CONCURRENCY);
    cleanups.push(() => api.pool.close());
    const issued = await issueCertificate(cluster.pki.ca, { name: 'webhook', commonName: 'digest-pinner', usage: 'server', altNames: ['IP:127.0.0.1'] });
    const certs = { ...issued, ca: readFileSync(cluster.caFile) };
    await cluster.kubectlOk(['apply', '-k', join(REPO, 'manifests')]);
    const token = await cluster.createServiceAccountToken('digest-pinner', 'digest-pinner', { durationSeconds: 7200 });
    const kubeconfig = await cluster.writeTokenKubeconfig('digest-pinner', token);
    const port = await freePort();
    await pointWebhookAt(cluster, port);
    const webhookOptions = { port, certs, kubeconfig, caFile: registries.caFile, registryHost: registry.host, workDir };

    const results = { kube, images };
    if (!FIRST_ADMISSION_ONLY) {
      log('a webhook in the cluster before the benchmark objects exist');
      const empty = await startWebhook({ ...webhookOptions, name: 'webhook-empty' });
      results.empty = { readyMs: empty.readyMs, readyLoad: load(), atReady: await residentMiB(empty.child.pid) };
      await empty.agent.close();
      await stopChild(empty.child);
      log(`empty cluster: ${JSON.stringify(results.empty)}`);
    }

    log(`creating ${NAMESPACES} namespaces, ${NAMESPACES * SERVICE_ACCOUNTS} ServiceAccounts, ${NAMESPACES} pull secrets`);
    results.populate = await populate(api, registry, [registry.host, ...mirrors.map((mirror) => mirror.host)]);
    results.objects = await clusterObjects(api);
    log(`cluster populated in ${fmt(results.populate.seconds, 0)} s: ${JSON.stringify(results.objects)}`);

    if (!FIRST_ADMISSION_ONLY) {
      log('informers\' memory');
      results.informers = await informerMemory(kubeconfig);
      log(`informers: ${JSON.stringify(results.informers)}`);
    }

    results.starts = [];
    let webhook;
    for (let run = 0; run < STARTS; run += 1) {
      // The tag ledger is the cluster's: a process would find the digests an earlier one wrote there
      // and ask no registry. Each start begins with none, as a fresh cluster's first process does.
      await cluster.kubectlOk(['delete', 'ledgerentries.digest-pinner.io', '--all', '--all-namespaces', '--wait=true']);
      const start = await freshStart(webhookOptions, repositories, mirrors, run);
      log(`start ${run + 1}: ready in ${fmt(start.readyMs, 0)} ms, first ${fmt(start.firstMs, 1)} ms (CPU ${fmt(start.firstCpuMs, 1)}), `
        + `new hosts ${start.newHostMs.map((ms) => fmt(ms, 1)).join(' ')} ms (CPU ${start.newHostCpuMs.map((ms) => fmt(ms, 1)).join(' ')}), `
        + `new tags median ${fmt(median(start.warmMs), 1)} ms (CPU ${fmt(median(start.warmCpuMs), 1)}), cached CPU ${fmt(median(start.cachedCpuMs), 2)} ms, RSS ${fmt(start.atReady.rss, 0)} MiB`);
      results.starts.push(start);
      if (run < STARTS - 1) {
        await start.webhook.agent.close();
        await stopChild(start.webhook.child);
      } else webhook = start.webhook;
    }
    cleanups.push(() => webhook.agent.close(), () => stopChild(webhook.child));
    if (FIRST_ADMISSION_ONLY) {
      console.log([`${NAMESPACES.toLocaleString('en')} namespaces; load average (1 min) ${m.loadBefore} at the start.`, '', ...startsTable(results.starts)].join('\n'));
      return;
    }

    const bare = await startBareWebhook(cluster, certs, await barePatch(api, images));
    cleanups.push(() => stopChild(bare));
    log(`pod creation at ${RATE}/s: ${PHASES.join(', ')}`);
    results.phases = await loadPhases(api, webhook, images);
    results.afterLoad = await residentMiB(webhook.child.pid);

    const text = report(m, results);
    console.log(text);
    await writeFile(join(REPO, 'bench/cluster-results.md'), text);
    log(`done in ${fmt((performance.now() - began) / 1000, 0)} s; written to bench/cluster-results.md`);
  } finally {
    for (const cleanup of cleanups.reverse()) {
      await cleanup().catch((error) => log(`cleanup: ${error}`));
    }
  }
}

runBenchmark(main, { timeLimitMs: TIME_LIMIT_MS, workDir: () => workDir, log });
