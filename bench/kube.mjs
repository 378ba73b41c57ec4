/**
 * What the cluster benchmarks share: the e2e control plane (test/e2e/cluster.ts, binaries
 * from test/e2e/build-binaries.sh), kube-apiserver as the admin user, the built webhook run
 * on the host as the image runs it and registered with kube-apiserver by URL, and the
 * admission histograms both kube-apiserver and the webhook expose.
 */
import { spawn } from 'node:child_process';
import console from 'node:console';
import { Buffer } from 'node:buffer';
import { closeSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { clearTimeout, setTimeout } from 'node:timers';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, Pool, request } from 'undici';
import { freePort, IMAGE_NODE_FLAGS, IMAGE_VARIABLES, load, REPO } from './common.mjs';
import { compileTests } from './harness.mjs';

const WEBHOOK_CONFIGURATION = 'digest-pinner';
export const READY_POLL_MS = 10;
const READY_TIMEOUT_MS = 120_000;

/** Child processes started with spawnTracked, killed when a benchmark stops early. */
export const children = new Set();

/** `node args…`, tracked in `children`. */
export function spawnTracked(args, options) {
  const child = spawn(process.execPath, args, options);
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** A log line on stderr with the seconds since the benchmark began and the load average. */
export function logger(name) {
  const clockStart = performance.now();
  return (message) => console.error(`${name} [${((performance.now() - clockStart) / 1000).toFixed(1)} s, load ${load()}]: ${message}`);
}

/** build-binaries.sh's bin directory (built once, then cached outside the repo). */
export function buildBinaries() {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [join(REPO, 'test/e2e/build-binaries.sh')], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(stdout.trim().split('\n').at(-1)) : reject(new Error(`build-binaries.sh exited ${code}`))));
  });
}

/**
 * The e2e modules a cluster benchmark needs, compiled from test/ (bench/harness.mjs), and the
 * cached Kubernetes binaries: `{ startCluster, issueCertificate, writeHtpasswd, startRegistry, kube }`.
 */
export async function loadCluster(name) {
  const [binDir, loadE2e] = await Promise.all([
    buildBinaries(),
    compileTests(REPO, name, ['test/e2e/cluster.ts', 'test/e2e/binaries.ts', 'test/e2e/pki.ts', 'test/harness/htpasswd.ts', 'test/harness/registry-process.ts']),
  ]);
  const { startCluster } = await loadE2e('test/e2e/cluster.ts');
  const { readBinaries } = await loadE2e('test/e2e/binaries.ts');
  const { issueCertificate } = await loadE2e('test/e2e/pki.ts');
  const { writeHtpasswd } = await loadE2e('test/harness/htpasswd.ts');
  const { startRegistry } = await loadE2e('test/harness/registry-process.ts');
  return { startCluster, issueCertificate, writeHtpasswd, startRegistry, kube: await readBinaries(binDir) };
}

/** kube-apiserver as the admin user, over up to `connections` keep-alive connections. */
export function apiClient(cluster, connections) {
  const tls = { ca: readFileSync(cluster.caFile), cert: readFileSync(cluster.pki.admin.certFile), key: readFileSync(cluster.pki.admin.keyFile) };
  const pool = new Pool(cluster.server, { connections, connect: tls, keepAliveTimeout: 120_000 });
  const call = async (method, path, body, contentType = 'application/json') => {
    const res = await pool.request({ method, path, headers: { 'content-type': contentType }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.body.text();
    return { status: res.statusCode, text };
  };
  return {
    pool,
    call,
    async create(path, body) {
      const { status, text } = await call('POST', path, body);
      if (status !== 201 && status !== 409) throw new Error(`POST ${path} answered ${status}: ${text.slice(0, 300)}`);
      return status === 201 ? JSON.parse(text) : undefined;
    },
    async get(path) {
      const { status, text } = await call('GET', path);
      if (status !== 200) throw new Error(`GET ${path} answered ${status}: ${text.slice(0, 300)}`);
      return path === '/metrics' ? text : JSON.parse(text);
    },
    /** Items of a list, page by page (count only what `keep` keeps). */
    async count(path, keep) {
      let total = 0;
      let next = '';
      const join = path.includes('?') ? '&' : '?';
      do {
        const page = await this.get(`${path}${join}limit=500${next === '' ? '' : `&continue=${encodeURIComponent(next)}`}`);
        total += page.items.filter(keep).length;
        next = page.metadata?.continue ?? '';
      } while (next !== '');
      return total;
    },
  };
}

/** Runs `task` over `items` with at most `limit` in flight; logs progress with `log`. */
export async function eachLimited(items, limit, task, what, log) {
  let next = 0;
  let done = 0;
  const step = Math.max(1, Math.floor(items.length / 4));
  const worker = async () => {
    while (next < items.length) {
      const item = items[next];
      next += 1;
      await task(item);
      done += 1;
      if (done % step === 0) log(`${what}: ${done}/${items.length}`);
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
}

/** Points the webhook configuration's entries at the host process (the manifests name a Service). */
export async function pointWebhookAt(cluster, port) {
  const caBundle = Buffer.from(readFileSync(cluster.caFile)).toString('base64');
  const configuration = JSON.parse(await cluster.kubectlOk(['get', 'mutatingwebhookconfiguration', WEBHOOK_CONFIGURATION, '-o', 'json']));
  const patch = configuration.webhooks.map((entry, i) => ({
    op: 'replace',
    path: `/webhooks/${i}/clientConfig`,
    value: { url: `https://127.0.0.1:${port}${entry.clientConfig.service.path}`, caBundle },
  }));
  await cluster.kubectlOk(['patch', 'mutatingwebhookconfiguration', WEBHOOK_CONFIGURATION, '--type=json', '-p', JSON.stringify(patch)]);
}

/**
 * Starts the webhook as the image runs it (`serve` and `args`), its log in `workDir/NAME.log`,
 * and waits for /readyz. `readyMs` runs from the spawn to the first 200; the agent's
 * connection stays open for the reviews that follow.
 */
export async function startWebhook({ port, certs, kubeconfig, caFile, name, workDir, args: extraArgs = [] }) {
  const logFile = join(workDir, `${name}.log`);
  const metricsPort = await freePort();
  const out = openSync(logFile, 'w');
  // BENCH_CPU_PROF=dir: each webhook writes a V8 CPU profile there when it stops (sampled every BENCH_CPU_PROF_INTERVAL_US µs).
  const profile = process.env.BENCH_CPU_PROF === undefined
    ? []
    : ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF, '--cpu-prof-interval', process.env.BENCH_CPU_PROF_INTERVAL_US ?? '1000'];
  const args = [
    ...IMAGE_NODE_FLAGS, ...profile, join(REPO, 'dist/main.js'), 'serve', '--port', String(port), '--metrics-port', String(metricsPort), '--host', '127.0.0.1',
    '--tls-cert', certs.certFile, '--tls-key', certs.keyFile, '--kubeconfig', kubeconfig, '--ca-file', caFile, ...extraArgs,
  ];
  // Only --kubeconfig and --ca-file say where things are: none of the caller's own settings.
  const ignored = new Set(['KUBECONFIG', 'DOCKER_CONFIG', 'NODE_OPTIONS']);
  const childEnv = { ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !ignored.has(key))), ...IMAGE_VARIABLES };
  const spawned = performance.now();
  const child = spawnTracked(args, { stdio: ['ignore', out, out], env: childEnv, cwd: workDir });
  closeSync(out);
  const origin = `https://127.0.0.1:${port}`;
  const agent = new Agent({ connect: { ca: certs.ca }, connections: 1, keepAliveTimeout: 120_000 });
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the webhook exited with ${child.exitCode}:\n${readFileSync(logFile, 'utf8').trim().split('\n').slice(-10).join('\n')}`);
    if (performance.now() - spawned > READY_TIMEOUT_MS) throw new Error(`the webhook was not ready after ${READY_TIMEOUT_MS / 1000} s; see ${logFile}`);
    try {
      const res = await request(`${origin}/readyz`, { dispatcher: agent });
      await res.body.dump();
      if (res.statusCode === 200) break;
    } catch {
      // Not listening yet.
    }
    await sleep(READY_POLL_MS);
  }
  const readyMs = performance.now() - spawned;
  return { child, origin, metricsOrigin: `http://127.0.0.1:${metricsPort}`, agent, readyMs, logFile, port };
}

/** A histogram in a /metrics text, summed over the series whose labels include `labels`: buckets (cumulative), sum and count. */
export function webhookHistogram(text, metric, labels) {
  const buckets = new Map();
  let sum = 0;
  let count = 0;
  const matches = (labelText) => Object.entries(labels).every(([key, value]) => labelText.includes(`${key}="${value}"`));
  for (const line of text.split('\n')) {
    const match = /^(\w+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (match === null || !match[1].startsWith(metric) || !matches(match[2] ?? '')) continue;
    const value = Number(match[3]);
    if (match[1] === `${metric}_bucket`) {
      const le = /le="([^"]+)"/.exec(match[2])[1];
      buckets.set(le, (buckets.get(le) ?? 0) + value);
    } else if (match[1] === `${metric}_sum`) sum += value;
    else if (match[1] === `${metric}_count`) count += value;
  }
  return { buckets, sum, count };
}

export function histogramDelta(after, before) {
  const buckets = new Map([...after.buckets].map(([le, value]) => [le, value - (before.buckets.get(le) ?? 0)]));
  return { buckets, sum: after.sum - before.sum, count: after.count - before.count };
}

/** The webhook's own /metrics text (the metrics port). */
export async function webhookMetrics(webhook) {
  const res = await request(`${webhook.metricsOrigin}/metrics`);
  return res.body.text();
}

/**
 * The webhook's own admission histogram (digest_pinner_admission_duration_seconds), and its
 * event loop's longest delay since the previous scrape (prom-client resets it at each one).
 */
export async function ownHistogram(webhook) {
  const text = await webhookMetrics(webhook);
  const lagMax = Number(/^nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(text)?.[1] ?? Number.NaN);
  return { ...webhookHistogram(text, 'digest_pinner_admission_duration_seconds', {}), lagMaxMs: lagMax * 1000 };
}

/**
 * Runs a benchmark's `main` and exits non-zero when it throws; however it ends (an error, the time
 * limit, a signal's exit), the processes it started are killed and its work directory (`workDir()`,
 * kept with BENCH_KEEP) removed.
 */
export function runBenchmark(main, { timeLimitMs, workDir, log }) {
  const limit = setTimeout(() => {
    log(`over the ${timeLimitMs / 1000} s limit, stopping`);
    for (const child of children) child.kill('SIGKILL');
    process.exit(1);
  }, timeLimitMs);
  limit.unref();
  process.once('exit', () => {
    for (const child of children) child.kill('SIGKILL');
    const dir = workDir();
    if (dir !== undefined && process.env.BENCH_KEEP === undefined) rmSync(dir, { recursive: true, force: true });
  });
  main().then(
    () => clearTimeout(limit),
    (error) => {
      console.error(error);
      process.exitCode = 1;
      clearTimeout(limit);
    },
  );
}
