/**
 * What both benchmarks share: how the container image runs the webhook (its node flags
 * and environment, read from the Dockerfile and the chart's defaults), the machine's
 * description, child processes, and AdmissionReviews as kube-apiserver sends them.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { clearTimeout, setTimeout } from 'node:timers';
import { URL, fileURLToPath } from 'node:url';
import { request } from 'undici';

export const REPO = fileURLToPath(new URL('..', import.meta.url));

/**
 * How the container image runs the webhook, read from the Dockerfile so the figures are
 * production's: the node flags of its ENTRYPOINT and its `ENV` lines (MALLOC_ARENA_MAX, NODE_ENV)
 * go to the webhook processes, never a baseline, with the V8 heap the chart gives it at its
 * default memory limit. BENCH_NODE_OPTIONS (e.g. to compare flags) replaces all these flags; ''
 * means none.
 */
const DOCKERFILE = readFileSync(join(REPO, 'Dockerfile'), 'utf8');
const IMAGE_ENV = Object.fromEntries([...DOCKERFILE.matchAll(/^ENV ([A-Z_]+)=("?)([^"\n]*)\2$/gm)].map((m) => [m[1], m[3]]));
const ENTRYPOINT_FLAGS = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(DOCKERFILE)?.[1] ?? '[]').filter((arg) => arg.startsWith('--'));
/** charts/digest-pinner: resources.limits.memory by default, and the share of it NODE_OPTIONS gives the V8 heap. */
const CHART_MEMORY_LIMIT_MIB = 256;
const CHART_HEAP_SHARE = 5 / 8;
const CHART_HEAP_FLAG = `--max-old-space-size=${Math.floor(CHART_MEMORY_LIMIT_MIB * CHART_HEAP_SHARE)}`;
export const IMAGE_NODE_FLAGS = (process.env.BENCH_NODE_OPTIONS ?? [...ENTRYPOINT_FLAGS, CHART_HEAP_FLAG].join(' ')).split(/\s+/).filter((flag) => flag !== '');
/** The image's other variables, as the webhook processes get them. */
export const IMAGE_VARIABLES = Object.fromEntries(Object.entries(IMAGE_ENV).filter(([name]) => name !== 'NODE_OPTIONS'));

/** The image's variables as `NAME=value …`, for reports. */
export function imageVariables() {
  return Object.entries(IMAGE_VARIABLES).map(([name, value]) => `${name}=${value}`).join(' ') || 'no variables';
}

/** The machine, for reports: CPUs, model, memory, kernel, Node.js, and the 1-minute load average now. */
export function machine(pinning) {
  let model = os.cpus()[0]?.model ?? 'unknown';
  try {
    model = /^Model name:\s+(.+)$/m.exec(execFileSync('lscpu', { encoding: 'utf8' }))?.[1] ?? model;
  } catch {
    // lscpu missing: keep os.cpus()
  }
  return {
    cpus: os.cpus().length,
    model,
    memoryGiB: (os.totalmem() / 2 ** 30).toFixed(1),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    pinning,
    loadBefore: os.loadavg()[0].toFixed(2),
  };
}

/** The 1-minute load average now, as reports print it beside a figure. */
export function load() {
  return os.loadavg()[0].toFixed(1);
}

/** SIGTERM, then SIGKILL after 5 s; resolves once `child` has exited. */
export async function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/** A port on 127.0.0.1 that was free a moment ago. */
export async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** POSTs `body` and returns the JSON answer; throws on any status but 200. */
export async function post(agent, origin, path, body) {
  const res = await request(`${origin}${path}`, { method: 'POST', dispatcher: agent, headers: { 'content-type': 'application/json' }, body });
  const json = await res.body.json();
  if (res.statusCode !== 200) throw new Error(`${origin}${path} answered ${res.statusCode}: ${JSON.stringify(json)}`);
  return json;
}

let uid = 0;
/**
 * An AdmissionReview of a Pod CREATE as kube-apiserver sends it, one container per image.
 * `pullSecrets` are the Pod's imagePullSecrets (kube-apiserver's ServiceAccount admission has copied them in).
 */
export function podReview(images, { name = 'bench', namespace = 'bench', containerPrefix = 'c', pullSecrets = [] } = {}) {
  uid += 1;
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: `bench-${uid}`,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace,
      name,
      operation: 'CREATE',
      dryRun: false,
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
      object: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, namespace, labels: { app: 'bench' } },
        spec: {
          containers: images.map((image, i) => ({
            name: `${containerPrefix}${i}`,
            image,
            ports: [{ containerPort: 8080 + i }],
            resources: { requests: { cpu: '10m', memory: '16Mi' } },
          })),
          restartPolicy: 'Always',
          serviceAccountName: 'default',
          ...(pullSecrets.length === 0 ? {} : { imagePullSecrets: pullSecrets.map((secret) => ({ name: secret })) }),
        },
      },
      oldObject: null,
    },
  });
}
