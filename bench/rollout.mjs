/**
 * `npm run bench:rollout`: what PinRecords (docs/rollouts.md) cost. Starts the e2e control
 * plane (kube-controller-manager without the workload controllers, so the benchmark creates
 * each Pod as its controller would, with its ownerReferences; the garbage collector runs) and
 * the test suite's TLS registry with htpasswd auth, and runs the built webhook as the image runs it on the
 * host, registered by URL. Measures, Pod by Pod through kube-apiserver:
 *
 * - a revision's first Pod (registry request, the revision's Pods listed, the record created)
 *   against Pods of revisions with `--no-pin-records`, their image cached or not;
 * - later Pods of a revision whose record is confirmed, and the API requests they make;
 * - a CronJob running every minute: Jobs created and deleted past its history limit as its
 *   controller does, records created and garbage-collected;
 * - the tag ledger: writes by two replicas against distinct tags × time / verification
 *   interval, and a fresh replica answered from it;
 * - RECORDS PinRecords in the cluster: the webhook's RSS against one with records off, and
 *   the record store's heap (bench/records.mjs).
 *
 * Writes bench/rollout-results.md; stops everything it started.
 */
import { Buffer } from 'node:buffer';
import console from 'node:console';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import { bundle } from '../scripts/bundle.mjs';
import { freePort, IMAGE_NODE_FLAGS, IMAGE_VARIABLES, imageVariables, load, machine, podReview, post, REPO, stopChild } from './common.mjs';
import { loadHarness, startRegistries } from './harness.mjs';
import { apiClient, eachLimited, histogramDelta, loadCluster, logger, ownHistogram, pointWebhookAt, runBenchmark, spawnTracked, startWebhook, webhookHistogram, webhookMetrics } from './kube.mjs';
import { mainThreadCpuMs, quantile, residentMiB } from './load.mjs';

const env = (name, fallback) => Number(process.env[name] ?? fallback);
/** Revisions (ReplicaSets) whose first Pod is measured, in each arm. */
const REVISIONS = env('BENCH_REVISIONS', 20);
/** Later Pods of each revision, once its record is confirmed. */
const LATER_PODS = env('BENCH_LATER_PODS', 3);
/** Runs of the CronJob: one an hour at one a minute. */
const CRON_RUNS = env('BENCH_CRON_RUNS', 60);
/** The CronJob's successfulJobsHistoryLimit (Kubernetes' default). */
const HISTORY_LIMIT = 3;
/**
 * The ledger: LEDGER_TAGS distinct tags admitted for LEDGER_SECONDS, each alternately by two
 * replicas, with a cache TTL short enough that many pass, and the verification interval
 * equal to it (its default); the bound is tags × seconds / interval (plus one create per tag).
 */
const LEDGER_TAGS = env('BENCH_LEDGER_TAGS', 10);
const LEDGER_SECONDS = env('BENCH_LEDGER_SECONDS', 60);
const LEDGER_CACHE_TTL_S = 5;
const LEDGER_VERIFY_S = LEDGER_CACHE_TTL_S;
const LEDGER_REVIEWS_PER_SECOND = 10;
/** PinRecords in the cluster for the memory figures, spread over RECORD_NAMESPACES namespaces. */
const RECORDS = env('BENCH_RECORDS', 50_000);
const RECORD_NAMESPACES = 50;
/** API requests in flight while creating the records. */
const CONCURRENCY = 32;
/** The workload controllers stay off: the benchmark creates Pods as they would, one at a time. */
const CONTROLLERS_OFF = ['-replicaset', '-deployment', '-job', '-cronjob', '-statefulset', '-daemonset', '-replicationcontroller'];
const NAMESPACE = 'rollout';
const PULL_SECRET = 'regcred';
const CRON_NAMESPACE = 'cron';
const WEBHOOK_NAME = 'warn.digest-pinner.io';
const PINRECORDS = '/apis/digest-pinner.io/v1alpha1';
/** How long the wait for records to be confirmed or collected may take before the run says so. */
const SETTLE_TIMEOUT_MS = 300_000;
const SETTLE_POLL_MS = 1_000;
/** After ready, before the settled RSS: the informers' first watch events. */
const SETTLE_RSS_MS = 5_000;
const TIME_LIMIT_MS = env('BENCH_TIME_LIMIT_S', 3600) * 1000;

const BENCH_BUNDLE = join(REPO, 'dist/bench-rollout');
const log = logger('bench:rollout');
const fmt = (value, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');
const MB = 1e6 / 2 ** 20;
let workDir;

/** Counters of a /metrics text summed by one label, over the series whose labels include `match`. */
function countersBy(text, metric, label, match = {}) {
  const counts = {};
  for (const line of text.split('\n')) {
    const found = /^(\w+)\{([^}]*)\} (\S+)$/.exec(line);
    if (found === null || found[1] !== metric) continue;
    const labels = Object.fromEntries([...found[2].matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (!Object.entries(match).every(([key, value]) => labels[key] === value)) continue;
    const key = labels[label] ?? '';
    counts[key] = (counts[key] ?? 0) + Number(found[3]);
  }
  return counts;
}

function withoutVerbs(counts, verbs) {
  return Object.fromEntries(Object.entries(counts).filter(([verb]) => !verbs.includes(verb)));
}

function countsDelta(after, before) {
  return Object.fromEntries(Object.entries(after).map(([key, value]) => [key, value - (before[key] ?? 0)]).filter(([, value]) => value !== 0));
}

/**
 * What kube-apiserver and the webhook count, to take differences over a phase: requests on
 * PinRecords and Pods by verb, the webhook's histogram in kube-apiserver, its record
 * operations and where its digests came from.
 */
async function snapshot(api, webhook) {
  const [text, own] = await Promise.all([api.get('/metrics'), webhookMetrics(webhook)]);
  return {
    // LIST and WATCH on PinRecords are the benchmark's own polls and the informers' watches.
    records: withoutVerbs(countersBy(text, 'apiserver_request_total', 'verb', { resource: 'pinrecords' }), ['LIST', 'WATCH']),
    ledger: withoutVerbs(countersBy(text, 'apiserver_request_total', 'verb', { resource: 'ledgerentries' }), ['LIST', 'WATCH']),
    pods: countersBy(text, 'apiserver_request_total', 'verb', { resource: 'pods', subresource: '' }),
    revisions: countersBy(text, 'apiserver_request_total', 'verb', { resource: 'controllerrevisions' }),
    histogram: webhookHistogram(text, 'apiserver_admission_webhook_admission_duration_seconds', { name: WEBHOOK_NAME, operation: 'CREATE', type: 'admit' }),
    operations: countersBy(own, 'digest_pinner_record_operations_total', 'operation'),
    sources: countersBy(own, 'digest_pinner_resolutions_total', 'source'),
  };
}

function snapshotDelta(after, before) {
  return {
    records: countsDelta(after.records, before.records),
    ledger: countsDelta(after.ledger, before.ledger),
    pods: countsDelta(after.pods, before.pods),
    revisions: countsDelta(after.revisions, before.revisions),
    histogram: histogramDelta(after.histogram, before.histogram),
    operations: countsDelta(after.operations, before.operations),
    sources: countsDelta(after.sources, before.sources),
  };
}

function sumCounts(a, b) {
  const sum = { ...a };
  for (const [key, value] of Object.entries(b)) sum[key] = (sum[key] ?? 0) + value;
  return sum;
}

const WRITES = ['POST', 'PUT', 'PATCH', 'DELETE'];
const writes = (counts) => WRITES.reduce((sum, verb) => sum + (counts[verb] ?? 0), 0);

function ownerReference(owner, controller) {
  return { apiVersion: owner.apiVersion, kind: owner.kind, name: owner.metadata.name, uid: owner.metadata.uid, controller, blockOwnerDeletion: true };
}

function container(image) {
  return { name: 'app', image, resources: { requests: { cpu: '10m', memory: '16Mi' } } };
}

/** A ReplicaSet as a Deployment would make it (its controller is off: nothing creates its Pods). */
function replicaSet(name, image) {
  const labels = { app: name, 'pod-template-hash': `h${name.replace(/\W/g, '')}`.slice(0, 63) };
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name, namespace: NAMESPACE, labels },
    spec: { replicas: 1 + LATER_PODS, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [container(image)] } } },
  };
}

let podSerial = 0;
/** A Pod of `owner` as its controller creates it: the template's labels, a controller reference. */
function podOf(owner, image) {
  podSerial += 1;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `${owner.metadata.name}-${podSerial}`, namespace: owner.metadata.namespace, labels: owner.spec.template.metadata.labels, ownerReferences: [ownerReference(owner, true)] },
    spec: { containers: [container(image)], imagePullSecrets: [{ name: PULL_SECRET }], restartPolicy: owner.kind === 'Job' ? 'Never' : 'Always' },
  };
}

/**
 * Creates `pod` through kube-apiserver: wall time, the webhook's handler time for it (its own
 * histogram's sum) and the CPU time of its JavaScript thread meanwhile. Throws unless it was
 * stored pinned.
 */
async function timedPod(api, webhook, pod) {
  const ownBefore = await ownHistogram(webhook);
  const cpuBefore = await mainThreadCpuMs(webhook.child.pid);
  const started = performance.now();
  const { status, text } = await api.call('POST', `/api/v1/namespaces/${pod.metadata.namespace}/pods`, pod);
  const ms = performance.now() - started;
  const cpuMs = (await mainThreadCpuMs(webhook.child.pid)) - cpuBefore;
  const ownAfter = await ownHistogram(webhook);
  if (status !== 201) throw new Error(`pod creation answered ${status}: ${text.slice(0, 300)}`);
  const stored = JSON.parse(text);
  if (!stored.spec.containers.every((c) => c.image.includes('@sha256:'))) throw new Error(`pod ${pod.metadata.name} was stored unpinned: ${stored.spec.containers[0].image}`);
  const own = histogramDelta(ownAfter, ownBefore);
  if (own.count !== 1) throw new Error(`the webhook counted ${own.count} admissions for one pod`);
  return { ms, handlerMs: own.sum * 1000, cpuMs, digest: stored.spec.containers[0].image.split('@')[1] };
}

/** Pods created one after another, and what kube-apiserver and the webhook counted meanwhile. */
async function podArm(name, api, webhook, pods) {
  const loadBefore = load();
  const before = await snapshot(api, webhook);
  const samples = [];
  for (const pod of pods) samples.push(await timedPod(api, webhook, pod));
  const delta = snapshotDelta(await snapshot(api, webhook), before);
  log(`${name}: ${pods.length} pods, ${JSON.stringify({ records: delta.records, pods: delta.pods, operations: delta.operations, sources: delta.sources })}`);
  return { name, samples, ...delta, load: `${loadBefore}–${load()}` };
}

/** Polls `done` every second until it is true or SETTLE_TIMEOUT_MS passed; the seconds it took, or NaN. */
async function waitFor(what, done) {
  const started = performance.now();
  while (performance.now() - started < SETTLE_TIMEOUT_MS) {
    if (await done()) return (performance.now() - started) / 1000;
    await sleep(SETTLE_POLL_MS);
  }
  log(`${what}: not after ${SETTLE_TIMEOUT_MS / 1000} s`);
  return Number.NaN;
}

async function listRecords(api, namespace) {
  return (await api.get(`${PINRECORDS}/namespaces/${namespace}/pinrecords`)).items;
}

/** One namespace opted in to digest-pinner with the registry's pull secret, its `default` ServiceAccount made by kube-controller-manager. */
async function optedIn(api, name, registry) {
  await api.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'digest-pinner.io/mode': 'warn' } } });
  const auth = Buffer.from(`${registry.username}:${registry.password}`).toString('base64');
  await api.create(`/api/v1/namespaces/${name}/secrets`, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: PULL_SECRET, namespace: name },
    type: 'kubernetes.io/dockerconfigjson',
    data: { '.dockerconfigjson': Buffer.from(JSON.stringify({ auths: { [registry.host]: { auth } } })).toString('base64') },
  });
  await waitFor(`ServiceAccount default in ${name}`, async () => (await api.call('GET', `/api/v1/namespaces/${name}/serviceaccounts/default`)).status === 200);
}

/**
 * First Pods and later Pods with records on; then first Pods of revisions with records (and the ledger) off,
 * their image cached and not. `webhook` has records on; `startOff` starts one with them off.
 */
async function admissionArms(api, webhook, startOff, image, freshImages) {
  const arms = {};
  const createAll = async (objects) => {
    const created = [];
    for (const object of objects) created.push(await api.create(`/apis/apps/v1/namespaces/${NAMESPACE}/replicasets`, object));
    return created;
  };
  // kube-apiserver's connection to the webhook, the webhook's to the registry: open before measuring.
  const [warm] = await createAll([replicaSet('warm-on', `${image}:t0`)]);
  await timedPod(api, webhook, podOf(warm, `${image}:t0`));

  const sets = await createAll(Array.from({ length: REVISIONS }, (_, i) => replicaSet(`first-${i}`, `${image}:t0`)));
  arms.first = await podArm('first Pod of a revision, records on', api, webhook, sets.map((set) => podOf(set, `${image}:t0`)));
  const confirmBefore = await snapshot(api, webhook);
  const confirmSeconds = await waitFor('records confirmed', async () => {
    const records = (await listRecords(api, NAMESPACE)).filter((record) => record.metadata.name.startsWith('replicaset.first-'));
    return records.length === REVISIONS && records.every((record) => record.spec.pins.every((pin) => pin.confirmedAt !== undefined));
  });
  arms.confirm = { seconds: confirmSeconds, ...snapshotDelta(await snapshot(api, webhook), confirmBefore) };
  log(`confirmation: ${JSON.stringify({ seconds: confirmSeconds, records: arms.confirm.records, pods: arms.confirm.pods, operations: arms.confirm.operations })}`);
  const later = sets.flatMap((set) => Array.from({ length: LATER_PODS }, () => podOf(set, `${image}:t0`)));
  arms.later = await podArm('later Pod, record confirmed', api, webhook, later);
  const firstDigest = new Map(sets.map((set, i) => [set.metadata.name, arms.first.samples[i].digest]));
  arms.laterAgree = later.every((pod, i) => arms.later.samples[i].digest === firstDigest.get(pod.metadata.ownerReferences[0].name));

  await webhook.agent.close();
  await stopChild(webhook.child);
  const off = await startOff();
  const [warmOff] = await createAll([replicaSet('warm-off', `${image}:t0`)]);
  await timedPod(api, off, podOf(warmOff, `${image}:t0`));
  const cachedSets = await createAll(Array.from({ length: REVISIONS }, (_, i) => replicaSet(`off-cached-${i}`, `${image}:t0`)));
  arms.offCached = await podArm('records and ledger off, image cached', api, off, cachedSets.map((set) => podOf(set, `${image}:t0`)));
  const freshSets = await createAll(freshImages.map((fresh, i) => replicaSet(`off-fresh-${i}`, fresh)));
  arms.offFresh = await podArm('records and ledger off, image not cached', api, off, freshSets.map((set, i) => podOf(set, freshImages[i])));
  await off.agent.close();
  await stopChild(off.child);
  return arms;
}

/** Ledger writes kube-apiserver and the webhooks counted, and where the webhooks' digests came from, over `send`. */
async function ledgerWindow(api, webhooks, send) {
  const own = async () => {
    const texts = await Promise.all(webhooks.map((webhook) => webhookMetrics(webhook)));
    const sum = (metric, label) => texts.reduce((acc, text) => sumCounts(acc, countersBy(text, metric, label)), {});
    return { writes: sum('digest_pinner_ledger_writes_total', 'operation'), sources: sum('digest_pinner_resolutions_total', 'source') };
  };
  const requests = async () => withoutVerbs(countersBy(await api.get('/metrics'), 'apiserver_request_total', 'verb', { resource: 'ledgerentries' }), ['LIST', 'WATCH']);
  const [requestsBefore, ownBefore] = [await requests(), await own()];
  const loadBefore = load();
  const started = performance.now();
  const admissions = await send();
  const seconds = (performance.now() - started) / 1000;
  const ownAfter = await own();
  return {
    admissions, seconds, load: `${loadBefore}–${load()}`,
    requests: countsDelta(await requests(), requestsBefore),
    writes: countsDelta(ownAfter.writes, ownBefore.writes),
    sources: countsDelta(ownAfter.sources, ownBefore.sources),
  };
}

/**
 * Two replicas (cache TTL LEDGER_CACHE_TTL_S, verification interval LEDGER_VERIFY_S) admit
 * bare Pods of LEDGER_TAGS tags in turn for LEDGER_SECONDS, sent straight to them, each tag to
 * one replica in one round and to the other in the next (so the ledger has something to answer); then a third,
 * fresh (empty cache, a TTL of an hour), admits each tag once: answered from the ledger.
 */
async function ledgerArm(api, start, images) {
  const flags = ['--cache-ttl', `${LEDGER_CACHE_TTL_S}s`, '--ledger-verify-interval', `${LEDGER_VERIFY_S}s`];
  const replicas = [await start('webhook-ledger-a', flags, await freePort()), await start('webhook-ledger-b', flags, await freePort())];
  const review = (webhook, image, i) => post(webhook.agent, webhook.origin, '/mutate/warn', podReview([image], { name: `ledger-${i}`, namespace: NAMESPACE, pullSecrets: [PULL_SECRET] }));
  const steady = await ledgerWindow(api, replicas, async () => {
    const total = LEDGER_SECONDS * LEDGER_REVIEWS_PER_SECOND;
    const started = performance.now();
    for (let i = 0; i < total; i += 1) {
      // A round of every tag to one replica, the next to the other: each tag alternates replicas
      // (with i % 2, an even number of tags would give each replica its own half and none to share).
      await review(replicas[Math.floor(i / images.length) % replicas.length], images[i % images.length], i);
      const next = started + ((i + 1) * 1000) / LEDGER_REVIEWS_PER_SECOND;
      await sleep(Math.max(0, next - performance.now()));
    }
    return total;
  });
  log(`ledger, two replicas: ${JSON.stringify(steady)}`);
  const fresh = await start('webhook-ledger-c', ['--cache-ttl', '1h'], await freePort());
  const answered = await ledgerWindow(api, [fresh], async () => {
    for (const [i, image] of images.entries()) await review(fresh, image, i);
    return images.length;
  });
  log(`ledger, a fresh replica: ${JSON.stringify(answered)}`);
  for (const webhook of [...replicas, fresh]) {
    await webhook.agent.close();
    await stopChild(webhook.child);
  }
  return { steady, answered };
}

/**
 * A CronJob every minute for CRON_RUNS runs, as its controller would run it, without the
 * minutes between: each run a Job owned by the CronJob and its Pod, then the Jobs past the
 * history limit deleted (background propagation); then the garbage collector's work awaited.
 */
async function cronChurn(api, webhook, image, registry) {
  await optedIn(api, CRON_NAMESPACE, registry);
  const cronJob = await api.create(`/apis/batch/v1/namespaces/${CRON_NAMESPACE}/cronjobs`, {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name: 'nightly', namespace: CRON_NAMESPACE },
    spec: { schedule: '* * * * *', successfulJobsHistoryLimit: HISTORY_LIMIT, jobTemplate: { spec: { template: { spec: { containers: [container(`${image}:t0`)], restartPolicy: 'Never' } } } } },
  });
  const before = await snapshot(api, webhook);
  const loadBefore = load();
  const started = performance.now();
  const jobs = [];
  let lastDigest;
  for (let run = 0; run < CRON_RUNS; run += 1) {
    const job = await api.create(`/apis/batch/v1/namespaces/${CRON_NAMESPACE}/jobs`, {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: `nightly-${run}`, namespace: CRON_NAMESPACE, ownerReferences: [ownerReference(cronJob, true)] },
      spec: { template: { spec: { containers: [container(`${image}:t0`)], restartPolicy: 'Never' } } },
    });
    jobs.push(job);
    ({ digest: lastDigest } = await timedPod(api, webhook, podOf(job, `${image}:t0`)));
    if (jobs.length > HISTORY_LIMIT) {
      const old = jobs.shift();
      const { status } = await api.call('DELETE', `/apis/batch/v1/namespaces/${CRON_NAMESPACE}/jobs/${old.metadata.name}`, { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Background' });
      if (status !== 200 && status !== 202) throw new Error(`deleting job ${old.metadata.name} answered ${status}`);
    }
  }
  const runSeconds = (performance.now() - started) / 1000;
  const collectSeconds = await waitFor('records collected', async () => (await listRecords(api, CRON_NAMESPACE)).length <= HISTORY_LIMIT);
  const remaining = (await listRecords(api, CRON_NAMESPACE)).length;
  const delta = snapshotDelta(await snapshot(api, webhook), before);
  log(`cron: ${JSON.stringify({ runSeconds, collectSeconds, remaining, records: delta.records, operations: delta.operations })}`);
  return { runSeconds, collectSeconds, remaining, lastDigest, ...delta, load: `${loadBefore}–${load()}` };
}

/**
 * RECORDS PinRecords as the webhook writes them (two pins, confirmed), each owned by a
 * ConfigMap of its namespace so the garbage collector keeps them.
 */
async function createRecords(api) {
  const started = performance.now();
  const namespaces = Array.from({ length: RECORD_NAMESPACES }, (_, n) => `records-${String(n).padStart(2, '0')}`);
  const owners = new Map();
  for (const namespace of namespaces) {
    await api.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
    owners.set(namespace, await api.create(`/api/v1/namespaces/${namespace}/configmaps`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'owner', namespace } }));
  }
  const at = new Date(Math.floor(Date.now() / 1000) * 1000).toISOString().replace('.000Z', 'Z');
  const digest = (i, k) => `sha256:${(i * 2 + k).toString(16).padStart(64, '0')}`;
  const indices = Array.from({ length: RECORDS }, (_, i) => i);
  await eachLimited(indices, CONCURRENCY, (i) => {
    const namespace = namespaces[i % RECORD_NAMESPACES];
    const owner = owners.get(namespace);
    const name = `web-${i}-5d8f7c9b4`;
    const pin = (field, image, k) => ({ field, image, digest: digest(i, k), source: 'registry', pinnedAt: at, confirmedAt: at });
    return api.create(`${PINRECORDS}/namespaces/${namespace}/pinrecords`, {
      apiVersion: 'digest-pinner.io/v1alpha1',
      kind: 'PinRecord',
      metadata: { name: `replicaset.${name}`, namespace, labels: { 'app.kubernetes.io/managed-by': 'digest-pinner' }, ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata.uid, blockOwnerDeletion: false }] },
      spec: {
        revision: { kind: 'ReplicaSet', name, uid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}` },
        pins: [pin('containers/app', `registry.example.com/team-${i % RECORD_NAMESPACES}/web-${i % 500}:1.4.${i % 10}`, 0), pin('containers/proxy', 'registry.example.com/platform/envoy:v1.31', 1)],
      },
    });
  }, 'PinRecords', log);
  return { seconds: (performance.now() - started) / 1000 };
}

/** A fresh webhook in the cluster as it stands: ready time, RSS at ready and settled, peak. */
async function freshWebhook(start, name) {
  const webhook = await start(name);
  const atReady = await residentMiB(webhook.child.pid);
  await sleep(SETTLE_RSS_MS);
  const settled = await residentMiB(webhook.child.pid);
  log(`${name}: ready in ${fmt(webhook.readyMs / 1000, 1)} s, RSS ${fmt(atReady.rss * MB, 0)} → ${fmt(settled.rss * MB, 0)} MB, peak ${fmt(settled.peak * MB, 0)} MB`);
  return { webhook, readyMs: webhook.readyMs, atReady, settled, load: load() };
}

/** bench/records.mjs: the record store's heap, held records and index estimate. */
async function recordProbe(kubeconfig) {
  const child = spawnTracked(['--expose-gc', ...IMAGE_NODE_FLAGS, join(BENCH_BUNDLE, 'records.js')], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, ...IMAGE_VARIABLES, BENCH_KUBECONFIG: kubeconfig },
  });
  const report = await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`the record probe exited with ${code}`)));
  });
  await stopChild(child);
  return { ...report, load: load() };
}

/** The memory figures with RECORDS records in the cluster; a later Pod of a first-arm revision admitted by the fresh webhook. */
async function memoryArm(api, start, kubeconfig, image) {
  const populate = await createRecords(api);
  const total = await api.count(`${PINRECORDS}/pinrecords`, () => true);
  log(`${total} PinRecords in the cluster, created in ${fmt(populate.seconds, 0)} s`);
  const on = await freshWebhook((name) => start(name, []), 'webhook-records');
  const [set] = (await api.get(`/apis/apps/v1/namespaces/${NAMESPACE}/replicasets?labelSelector=app%3Dfirst-0`)).items;
  const laterPod = await podArm(`later Pod, ${RECORDS} records held`, api, on.webhook, [podOf({ ...set, apiVersion: 'apps/v1', kind: 'ReplicaSet' }, `${image}:t0`)]);
  // The CronJob's last Job: its namespace sorts before the records', so the informer's list
  // put its record into the index first, and the index drops it first when the bound is reached.
  const job = { ...(await api.get(`/apis/batch/v1/namespaces/${CRON_NAMESPACE}/jobs/nightly-${CRON_RUNS - 1}`)), apiVersion: 'batch/v1', kind: 'Job' };
  const listedFirst = await podArm('two later Pods of the revision listed first', api, on.webhook, [podOf(job, `${image}:t0`), podOf(job, `${image}:t0`)]);
  await on.webhook.agent.close();
  await stopChild(on.webhook.child);
  const off = await freshWebhook((name) => start(name, ['--no-pin-records']), 'webhook-no-records');
  await off.webhook.agent.close();
  await stopChild(off.webhook.child);
  const probe = await recordProbe(kubeconfig);
  log(`record store: ${JSON.stringify(probe)}`);
  return { total, populate, on, off, probe, laterPod, listedFirst };
}

function median(values) {
  return quantile([...values].sort((a, b) => a - b), 0.5);
}

function report(m, r) {
  const arm = (a) => ({
    ms: median(a.samples.map((s) => s.ms)),
    handler: median(a.samples.map((s) => s.handlerMs)),
    cpu: median(a.samples.map((s) => s.cpuMs)),
    handlerP90: quantile(a.samples.map((s) => s.handlerMs).sort((x, y) => x - y), 0.9),
    apiserverMean: (a.histogram.sum / a.histogram.count) * 1000,
  });
  const counts = (c) => (Object.keys(c).length === 0 ? 'none' : Object.entries(c).map(([key, value]) => `${key} ${value}`).join(', '));
  const rows = [['first', 'a revision\'s first Pod, records on'], ['later', 'a later Pod, record confirmed'], ['offCached', 'records and ledger off, image cached'], ['offFresh', 'records and ledger off, image not cached']];
  const row = ([key, label]) => {
    const a = r.arms[key];
    const f = arm(a);
    return `| ${label} | ${a.samples.length} | ${fmt(f.handler, 2)} (p90 ${fmt(f.handlerP90, 2)}) | ${fmt(f.cpu, 2)} | ${fmt(f.apiserverMean, 2)} | ${fmt(f.ms, 1)} | ${counts(a.records)} | ${counts(a.ledger)} | ${counts(a.pods)} | ${counts(a.sources)} | ${a.load} |`;
  };
  const first = arm(r.arms.first);
  const later = arm(r.arms.later);
  const cached = arm(r.arms.offCached);
  const fresh = arm(r.arms.offFresh);
  const c = r.cron;
  const perHour = (n) => fmt((n * 60) / CRON_RUNS, 0);
  const mem = r.memory;
  const p = mem.probe;
  const heapBytes = (p.settled.heapMiB - p.before.heapMiB) * 2 ** 20;
  const l = r.ledger;
  const ledgerWrites = writes(l.steady.requests);
  const ledgerBound = (LEDGER_TAGS * l.steady.seconds) / LEDGER_VERIFY_S + LEDGER_TAGS;
  const lines = [
    '# Rollout benchmark results',
    '',
    `Written by \`npm run bench:rollout\` on ${new Date().toISOString().slice(0, 10)}.`,
    '',
    '## Machine',
    '',
    `${m.cpus} CPUs (${m.model}), ${m.memoryGiB} GiB, ${m.kernel}, Node.js ${m.node}; Kubernetes ${r.kube.kubernetes}, etcd ${r.kube.etcd}. Load average (1 min) ${m.loadBefore} at the start, ${load()} at the end; each figure below has the load beside it. Everything runs on this machine: etcd, kube-apiserver, kube-controller-manager (garbage collector on, workload controllers off), the registry, the webhook and the benchmark.`,
    '',
    `The webhook: the bundle \`npm run build\` makes, run as the image runs it (node ${IMAGE_NODE_FLAGS.join(' ')}, ${imageVariables()}), \`serve --kubeconfig\` with the manifests' ServiceAccount token (its RBAC), registered by URL in the manifests' MutatingWebhookConfiguration (warn entry). Pods of one container, its image's tag left in the Pod as a pods-only install leaves it, from the suite's TLS registry with htpasswd auth (the Pod's pull secret).`,
    '',
    '## First and later Pods of a revision',
    '',
    `Pods created one at a time through kube-apiserver, each owned by a ReplicaSet as its controller would create it (ownerReferences, the template's labels). First: the first Pod of each of ${REVISIONS} ReplicaSets, the image in the webhook's cache (a first Pod asks the registry anyway). Later: ${LATER_PODS} more Pods of each once the records were confirmed. Then the webhook restarted with \`--no-pin-records --no-tag-ledger\` (each Pod pinned on its own, as before PinRecords): first Pods of ${REVISIONS} ReplicaSets with the image cached, and of ${REVISIONS} with an image not yet resolved (a registry request, as a first Pod's). Medians per Pod: the webhook's handler time (its \`digest_pinner_admission_duration_seconds\`, from the parsed review to the answer), the CPU time of its JavaScript thread meanwhile (/proc/<pid>/schedstat), kube-apiserver's \`apiserver_admission_webhook_admission_duration_seconds\` (mean over the arm: \`_sum\` / \`_count\`), and the Pod creation end to end. Requests kube-apiserver counted (\`apiserver_request_total\`) on PinRecords (but LIST and WATCH: the benchmark's polls, the informers' watches) and Pods over the arm (the Pod POSTs are the benchmark's own), and where the webhook's digests came from (\`digest_pinner_resolutions_total\`).`,
    '',
    '| Pods | n | handler (ms) | CPU (ms) | kube-apiserver\'s webhook mean (ms) | end to end (ms) | PinRecord requests | LedgerEntry requests | Pod requests | digests from | load |',
    '| --- | ---: | ---: | ---: | ---: | ---: | --- | --- | --- | --- | --- |',
    ...rows.map(row),
    '',
    `- **A revision's first Pod pays** ${fmt(first.handler - cached.handler, 2)} ms of handler time (CPU ${fmt(first.cpu - cached.cpu, 2)} ms) over a Pod with records and ledger off whose image is cached, and ${fmt(first.handler - fresh.handler, 2)} ms (CPU ${fmt(first.cpu - fresh.cpu, 2)} ms) over one with them off that asks the registry: the registry round trip, then the list of the revision's Pods and the record's create. kube-apiserver's webhook mean: ${fmt(first.apiserverMean, 2)} ms against ${fmt(cached.apiserverMean, 2)} and ${fmt(fresh.apiserverMean, 2)} ms.`,
    `- **Later Pods**: handler ${fmt(later.handler, 2)} ms, CPU ${fmt(later.cpu, 2)} ms, against ${fmt(cached.handler, 2)} ms and ${fmt(cached.cpu, 2)} ms with records and ledger off and the image cached (${fmt(later.handler - cached.handler, 2)} ms, CPU ${fmt(later.cpu - cached.cpu, 2)} ms apart). PinRecord writes over the ${r.arms.later.samples.length} later Pods: **${writes(r.arms.later.records)}**; LedgerEntry writes: ${writes(r.arms.later.ledger)}; Pod lists: ${r.arms.later.pods.LIST ?? 0}. Every later Pod carried its revision's first digest: ${r.arms.laterAgree ? 'yes' : '**no**'}.`,
    `- What ${REVISIONS} new revisions cost the API with records on: over their first Pods and the wait until every record was confirmed (the writer looks at the revision's Pods 5 s after its create), PinRecord requests ${counts(sumCounts(r.arms.first.records, r.arms.confirm.records))}, Pod requests ${counts(sumCounts(r.arms.first.pods, r.arms.confirm.pods))} (the POSTs are the benchmark's own), ControllerRevision requests ${counts(sumCounts(r.arms.first.revisions, r.arms.confirm.revisions))}; confirmed ${fmt(r.arms.confirm.seconds, 0)} s after the last first Pod.`,
    '',
    '## A CronJob every minute',
    '',
    `A CronJob (\`successfulJobsHistoryLimit: ${HISTORY_LIMIT}\`) run ${CRON_RUNS} times, as its controller runs it but without the minute between runs: each run a Job owned by the CronJob and its Pod, then the Jobs past the history limit deleted with background propagation, as the CronJob controller deletes them. ${CRON_RUNS} runs in ${fmt(c.runSeconds, 0)} s (load ${c.load}); the garbage collector had removed the records of deleted Jobs ${fmt(c.collectSeconds, 0)} s after the last run; ${c.remaining} records left (the history limit's Jobs').`,
    '',
    `| per hour (${CRON_RUNS} runs scaled to 60) | |`,
    '| --- | ---: |',
    `| records created (the webhook's \`created\`) | ${perHour(c.operations.created ?? 0)} |`,
    `| records deleted (kube-apiserver's DELETE on PinRecords: the garbage collector) | ${perHour(c.records.DELETE ?? 0)} |`,
    `| PinRecord writes by the webhook (POST, PATCH, PUT) | ${perHour((c.records.POST ?? 0) + (c.records.PATCH ?? 0) + (c.records.PUT ?? 0))} |`,
    `| records at any time | ${c.remaining} |`,
    '',
    `Runs here come faster than the writer's confirmation check (5 s after the create): most Jobs were deleted before it, so their records were never confirmed, which costs nothing. At one run a minute each record is also confirmed, one PATCH: as the first-Pod arm above shows.`,
    '',
    `## ${RECORDS.toLocaleString('en')} PinRecords`,
    '',
    `${mem.total.toLocaleString('en')} PinRecords in the cluster (${RECORDS.toLocaleString('en')} as the webhook writes them — two confirmed pins, owned by a ConfigMap so the garbage collector keeps them — over ${RECORD_NAMESPACES} namespaces, created with ${CONCURRENCY} requests in flight in ${fmt(mem.populate.seconds, 0)} s, and the benchmark's own). A fresh webhook with records on and one with \`--no-pin-records\`, in the same cluster:`,
    '',
    '| webhook | ready (s) | RSS at ready (MB) | RSS 5 s later (MB) | peak RSS (MB) | load |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...[['records on', mem.on], ['records off', mem.off]].map(([label, w]) => `| ${label} | ${fmt(w.readyMs / 1000, 2)} | ${fmt(w.atReady.rss * MB, 0)} | ${fmt(w.settled.rss * MB, 0)} | ${fmt(w.settled.peak * MB, 0)} | ${w.load} |`),
    '',
    `The record store alone (bench/records.mjs: the PinRecord informer and the index admissions read, bundled like the webhook, same node flags, --expose-gc): synced in ${fmt(p.syncSeconds, 1)} s; **${p.records.toLocaleString('en')} records held** in the index of ${mem.total.toLocaleString('en')}; V8 heap after full collections ${fmt(p.before.heapMiB * MB, 1)} MB before, ${fmt(p.settled.heapMiB * MB, 1)} MB synced: **${fmt(heapBytes / mem.total, 0)} bytes per record in the cluster** (the informer's store keeps every record's name, namespace, uid and resourceVersion; the index the parsed pins of those it holds: ${fmt(heapBytes / p.records, 0)} bytes per record held); the index's own estimate ${fmt(p.indexBytes / 1e6, 1)} MB of its ${fmt(p.indexBound / 1e6, 1)} MB bound; RSS ${fmt(p.settled.rssMiB * MB, 0)} MB, peak ${fmt(p.synced.peakMiB * MB, 0)} MB while listing (load ${p.load}).`,
    '',
    `A later Pod of a revision from the first arm (listed last), admitted by the fresh webhook holding them: handler ${fmt(mem.laterPod.samples[0].handlerMs, 2)} ms, digest from ${counts(mem.laterPod.sources)}, PinRecord requests ${counts(mem.laterPod.records)}. Two later Pods of the CronJob's last Job, whose record the informer listed first (the first the index drops when it reaches its bound): handler ${mem.listedFirst.samples.map((sample) => fmt(sample.handlerMs, 2)).join(' and ')} ms, digests from ${counts(mem.listedFirst.sources)}, record operations ${counts(mem.listedFirst.operations)}, PinRecord requests ${counts(mem.listedFirst.records)}, Pod requests ${counts(mem.listedFirst.pods)}; both carried the record's digest: ${mem.listedFirst.samples.every((sample) => sample.digest === r.cron.lastDigest) ? 'yes' : '**no**'}.`,
    '',
    '## Ledger',
    '',
    `Two replicas (\`--cache-ttl ${LEDGER_CACHE_TTL_S}s --ledger-verify-interval ${LEDGER_VERIFY_S}s\`: the interval is the TTL by default; many of them in a short run) admitted bare Pods of ${LEDGER_TAGS} distinct tags in turn, ${LEDGER_REVIEWS_PER_SECOND} a second for ${fmt(l.steady.seconds, 0)} s, sent straight to them, a round of every tag to one replica and the next to the other, so each tag alternates between them (${l.steady.admissions} admissions, load ${l.steady.load}); the tags resolved with the namespace's pull secret, so their entries are the tenant's. The bound: distinct tags × seconds / interval, plus one create per tag.`,
    '',
    '| | over the run | per hour at this interval |',
    '| --- | ---: | ---: |',
    `| ledger writes (kube-apiserver's POST, PUT, PATCH, DELETE on LedgerEntries) | ${ledgerWrites} | ${fmt((ledgerWrites * 3600) / l.steady.seconds, 0)} |`,
    `| bound: ${LEDGER_TAGS} tags × seconds / ${LEDGER_VERIFY_S} s (+ ${LEDGER_TAGS} creates) | ${fmt(ledgerBound, 0)} | ${fmt((LEDGER_TAGS * 3600) / LEDGER_VERIFY_S, 0)} |`,
    '',
    `The webhooks' own count: ${counts(l.steady.writes)}; digests from ${counts(l.steady.sources)}. Then a third replica, fresh (empty cache, \`--cache-ttl 1h\`), admitted each tag once: digests from ${counts(l.answered.sources)}, ledger writes ${counts(l.answered.requests)} (its own count: ${counts(l.answered.writes)}).`,
    '',
  ];
  return lines.join('\n');
}

async function main() {
  const began = performance.now();
  const m = machine('not pinned: the control plane, the registry and the webhook share every CPU');
  log(`${m.cpus} CPUs, ${m.model}`);
  workDir = await mkdtemp(join(os.tmpdir(), 'dp-bench-rollout-'));
  // BENCH_KEEP=1 keeps the logs (webhook-*.log, cluster-logs/) for a look afterwards.
  const cleanups = process.env.BENCH_KEEP === undefined ? [() => rm(workDir, { recursive: true, force: true })] : [];
  try {
    await bundle({ records: 'bench/records.mjs' }, BENCH_BUNDLE);
    const [harness, { startCluster, issueCertificate, kube }] = await Promise.all([loadHarness(REPO), loadCluster('rollout')]);

    log('starting the registry');
    const { registries, teardown } = await startRegistries(harness.setup);
    cleanups.push(teardown);
    const registry = registries.basic;
    const image = `${registry.host}/bench/app`;
    const freshTags = Array.from({ length: REVISIONS }, (_, i) => `u${i}`);
    log(`pushing ${1 + freshTags.length} images to ${registry.host}`);
    await eachLimited(['t0', ...freshTags], 4, (tag) => harness.pushImage(registry, 'bench/app', tag), 'images', log);

    log(`starting Kubernetes ${kube.kubernetes}`);
    const cluster = await startCluster({
      binaries: kube,
      logDir: join(workDir, 'cluster-logs'),
      maxLifetimeSeconds: TIME_LIMIT_MS / 1000 + 60,
      // Appended to '*': the workload controllers off, the garbage collector and ServiceAccounts on.
      extraControllerManagerArgs: ['--controllers', CONTROLLERS_OFF.join(','), '--kube-api-qps=500', '--kube-api-burst=1000'],
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
    const start = (name, args, on = port) => startWebhook({ port: on, certs, kubeconfig, caFile: registries.caFile, name, workDir, args });
    await optedIn(api, NAMESPACE, registry);

    const results = { kube };
    log('first and later Pods');
    const webhook = await start('webhook-on', []);
    results.arms = await admissionArms(api, webhook, () => start('webhook-off', ['--no-pin-records', '--no-tag-ledger']), image, freshTags.map((tag) => `${image}:${tag}`));

    log(`the ledger: ${LEDGER_TAGS} tags, ${LEDGER_SECONDS} s`);
    results.ledger = await ledgerArm(api, start, freshTags.slice(0, LEDGER_TAGS).map((tag) => `${image}:${tag}`));

    log(`a CronJob every minute, ${CRON_RUNS} runs`);
    const cronWebhook = await start('webhook-cron', []);
    results.cron = await cronChurn(api, cronWebhook, image, registry);
    await cronWebhook.agent.close();
    await stopChild(cronWebhook.child);

    log(`${RECORDS} PinRecords`);
    results.memory = await memoryArm(api, start, kubeconfig, image);

    const text = report(m, results);
    console.log(text);
    await writeFile(join(REPO, 'bench/rollout-results.md'), text);
    log(`done in ${fmt((performance.now() - began) / 1000, 0)} s; written to bench/rollout-results.md`);
  } finally {
    for (const cleanup of cleanups.reverse()) {
      await cleanup().catch((error) => log(`cleanup: ${error}`));
    }
  }
}

runBenchmark(main, { timeLimitMs: TIME_LIMIT_MS, workDir: () => workDir, log });
