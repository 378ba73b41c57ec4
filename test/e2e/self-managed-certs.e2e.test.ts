/**
 * Self-managed certificates against a real kube-apiserver: manifests/self-managed applied as
 * shipped (its empty Secret and RBAC included), two webhook processes (the bundle, as the
 * image runs it) behind a round-robin TCP balancer on 127.0.0.1 standing in for the Service,
 * the webhook configuration pointed at the balancer by URL, with no caBundle: the webhooks
 * make their CA, publish it and rotate it. CA validity of a few minutes, so CA rotations
 * happen while Pods are created without pause in a strict and a warn namespace.
 *
 * What must hold: every Pod is created and stored pinned, kube-apiserver's rejection and
 * fail-open counters for the two webhook entries do not move, and every TLS handshake with
 * a replica verifies against the caBundle the webhook configuration holds at that moment.
 */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect as netConnect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { AdmissionregistrationV1Api, CoreV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { parseAllDocuments, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startCluster, type Cluster } from './cluster.js';
import { eventually, MANIFESTS, type ManifestDoc } from './host-webhook.js';
import { ProcessGroup } from './processes.js';
import { pushImage } from '../helpers/registry.js';
import { freePort } from '../harness/registry-process.js';
import '../helpers/registry-types.js';
import type { PushedImage } from '../helpers/registry-types.js';
import { splitPem } from '../../src/pem.js';
import { lostRace } from '../../src/kube/self-managed.js';
import { readWebhookCaBundles, setWebhookCaBundle } from '../../src/kube/webhook-ca-bundle.js';

const run = promisify(execFile);
const REPO = new URL('../../', import.meta.url).pathname;
const registries = inject('registries');
const { plain } = registries;

const NAMESPACE = 'digest-pinner';
const SECRET = 'digest-pinner-tls';
const WEBHOOK = 'digest-pinner';
const STRICT = 'certs-strict';
const WARN = 'certs-warn';
const WEBHOOK_NAMES = ['warn.digest-pinner.io', 'strict.digest-pinner.io'];
const REPLICAS = ['replica-a', 'replica-b'] as const;
/** CA rotations to see complete (old CA gone from the caBundle) while Pods are created. */
const ROTATIONS = 2;
/** Short timings (timingProblems accepts them): a CA lives 4 minutes and is replaced after 90 s. */
const TIMING_FLAGS = [
  '--tls-ca-validity', '4m', '--tls-ca-renew-before', '150s',
  '--tls-cert-validity', '2m', '--tls-cert-renew-before', '1m',
  '--tls-propagation-delay', '5s', '--tls-replica-timeout', '30s',
];

let cluster: Cluster;
let group: ProcessGroup | undefined;
let balancer: Server | undefined;
let bundleDir: string | undefined;
let image: PushedImage;
let adminConfig: KubeConfig;
let core: CoreV1Api;
/** The RoleBinding of the certificate Secret, as applied. */
let certificatesBinding = '';
let admission: AdmissionregistrationV1Api;
const ports = new Map<string, number>();

/** Round robin over the replicas, connection by connection, as a Service's kube-proxy does. */
function startBalancer(port: number, backends: readonly number[]): Promise<Server> {
  let next = 0;
  const server = createServer((client: Socket) => {
    const backend = backends[next++ % backends.length] ?? 0;
    const upstream = netConnect(backend, '127.0.0.1');
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => { resolve(server); }));
}

/** The caBundle of every webhook entry, decoded; undefined unless they all hold the same one. */
async function webhookBundle(): Promise<string | undefined> {
  const configuration = await admission.readMutatingWebhookConfiguration({ name: WEBHOOK });
  const bundles = (configuration.webhooks ?? []).map((w) => w.clientConfig.caBundle ?? '');
  return bundles.every((b) => b !== '' && b === bundles[0]) ? Buffer.from(bundles[0] ?? '', 'base64').toString() : undefined;
}

interface SecretState {
  readonly bundle: string[];
  readonly cert: string;
  readonly replicas: Record<string, { cert: string }>;
}

async function secretState(): Promise<SecretState> {
  const secret = await core.readNamespacedSecret({ namespace: NAMESPACE, name: SECRET });
  const text = (key: string): string => Buffer.from(secret.data?.[key] ?? '', 'base64').toString();
  const replicas = JSON.parse(secret.metadata?.annotations?.['digest-pinner.io/serving-replicas'] ?? '{}') as Record<string, { cert: string }>;
  return { bundle: splitPem(text('ca.crt')), cert: text('tls.crt'), replicas };
}

const fingerprint = (pem: string): string => new X509Certificate(pem).fingerprint256;

/** The certificate failures each replica counted. */
async function certificateFailures(): Promise<number[]> {
  return Promise.all([...ports.values()].map(async (port) => metricValue(await replicaMetrics(port), 'digest_pinner_certificate_failures_total')));
}

/** The certificate a replica serves now. */
function servedCertificate(port: number): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const certificate = socket.getPeerX509Certificate();
      socket.end();
      if (certificate === undefined) reject(new Error('no certificate'));
      else resolve(certificate);
    });
    socket.on('error', reject);
  });
}

/** The body of an HTTPS GET. */
function httpsGet(url: string, tls: { ca: string | Buffer; cert?: Buffer; key?: Buffer }): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, tls, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => { resolve(body); });
    });
    req.on('error', reject);
    req.end();
  });
}

/** kube-apiserver's /metrics, as the admin. */
function apiserverMetrics(): Promise<string> {
  return httpsGet(`${cluster.server}/metrics`, { ca: readFileSync(cluster.pki.ca.certFile), cert: readFileSync(cluster.pki.admin.certFile), key: readFileSync(cluster.pki.admin.keyFile) });
}

/** The sum of `metric` over the series labelled with one of our webhook names. */
function webhookCounter(text: string, metric: string): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}{`)) continue;
    if (!WEBHOOK_NAMES.some((name) => line.includes(`name="${name}"`))) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/** A replica's /metrics over HTTPS, trusting the caBundle the webhook configuration holds. */
async function replicaMetrics(port: number): Promise<string> {
  return httpsGet(`https://127.0.0.1:${port}/metrics`, { ca: (await webhookBundle()) ?? '' });
}

function metricValue(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

beforeAll(async () => {
  image = await pushImage(plain, 'e2e/certs', 'v1');
  bundleDir = await mkdtemp(join(tmpdir(), 'dp-certs-e2e-'));
  await copyFile(join(REPO, 'package.json'), join(bundleDir, 'package.json'));
  await run(process.execPath, [join(REPO, 'scripts/bundle.mjs'), join(bundleDir, 'dist')], { cwd: REPO });
  cluster = await startCluster();
  adminConfig = new KubeConfig();
  adminConfig.loadFromFile(cluster.kubeconfigPath);
  core = adminConfig.makeApiClient(CoreV1Api);
  admission = adminConfig.makeApiClient(AdmissionregistrationV1Api);

  const balancerPort = await freePort();
  // manifests/self-managed as shipped, but the entries call the balancer by URL, and no caBundle.
  const docs = parseAllDocuments(await cluster.kubectlOk(['kustomize', join(MANIFESTS, 'self-managed')])).map((doc) => doc.toJS() as ManifestDoc);
  for (const doc of docs) {
    for (const entry of doc.webhooks ?? []) {
      const path = (entry.clientConfig['service'] as { path: string }).path;
      entry.clientConfig = { url: `https://127.0.0.1:${balancerPort}${path}` };
    }
  }
  await cluster.kubectlOk(['apply', '-f', '-'], { stdin: docs.map((d) => stringify(d)).join('---\n') });
  certificatesBinding = stringify(docs.find((d) => d.kind === 'RoleBinding' && (d as { metadata?: { name?: string } }).metadata?.name === 'digest-pinner-certificates'));
  const token = await cluster.createServiceAccountToken(NAMESPACE, 'digest-pinner', { durationSeconds: 3600 });
  const kubeconfig = await cluster.writeTokenKubeconfig('digest-pinner', token);

  group = new ProcessGroup({ workDir: bundleDir, logDir: cluster.logDir, maxLifetimeSeconds: 1800 });
  for (const replica of REPLICAS) {
    const port = await freePort();
    ports.set(replica, port);
    group.start(replica, process.execPath, [
      join(bundleDir, 'dist/main.js'), 'serve', '--host', '127.0.0.1', '--port', String(port), '--kubeconfig', kubeconfig,
      '--tls-secret', `${NAMESPACE}/${SECRET}`, '--patch-webhook', WEBHOOK, '--tls-san', '127.0.0.1', ...TIMING_FLAGS,
      '--insecure-registry', plain.host, '--ca-file', registries.caFile,
    ], { ...process.env, HOSTNAME: replica, KUBECONFIG: '' });
  }
  balancer = await startBalancer(balancerPort, [...ports.values()]);

  for (const [ns, mode] of [[STRICT, 'strict'], [WARN, 'warn']] as const) {
    await cluster.kubectlOk(['create', 'namespace', ns]);
    await cluster.kubectlOk(['label', 'namespace', ns, `digest-pinner.io/mode=${mode}`]);
    await eventually(`the default ServiceAccount of ${ns}`, async () => ((await cluster.kubectl(['get', 'serviceaccount', 'default', '-n', ns])).code === 0 ? true : undefined));
  }
  // Both replicas serve the Secret's certificate, recorded, and the webhooks hold its CA.
  await eventually('both replicas serving, recorded, and the caBundle published', async () => {
    const state = await secretState();
    const bundle = await webhookBundle();
    if (state.cert === '' || bundle === undefined) return undefined;
    const recorded = Object.entries(state.replicas).filter(([id, record]) => REPLICAS.some((r) => id.startsWith(`${r}_`)) && record.cert !== '');
    return recorded.length === REPLICAS.length ? true : undefined;
  }, { timeoutMs: 120_000, context: () => `see ${cluster.logDir}/replica-*.log` });
}, 300_000);

afterAll(async () => {
  await new Promise((resolve) => balancer?.close(resolve));
  await group?.stopAll();
  await cluster.stop();
  if (bundleDir !== undefined) await rm(bundleDir, { recursive: true, force: true });
});

describe('self-managed certificates, two replicas', () => {
  it(`pins every Pod in a strict and a warn namespace through ${ROTATIONS} CA rotations, with no webhook call failing`, async () => {
    const before = await apiserverMetrics();
    const rejectionsBefore = webhookCounter(before, 'apiserver_admission_webhook_rejection_count');
    const failOpenBefore = webhookCounter(before, 'apiserver_admission_webhook_fail_open_count');
    const requestsBefore = webhookCounter(before, 'apiserver_admission_webhook_request_total');

    let stop = false;
    const created = new Map<string, number>([[STRICT, 0], [WARN, 0]]);
    const failures: string[] = [];
    const unpinned: string[] = [];
    const pinned = `${plain.host}/${image.repository}:${image.tag}@${image.digest}`;
    const createPods = async (namespace: string): Promise<void> => {
      for (let i = 0; !stop; i += 1) {
        const body: V1Pod = { metadata: { name: `p-${i}`, namespace }, spec: { containers: [{ name: 'app', image: `${plain.host}/${image.repository}:${image.tag}` }] } };
        try {
          const pod = await core.createNamespacedPod({ namespace, body });
          if (pod.spec?.containers[0]?.image !== pinned) unpinned.push(`${namespace}/p-${i}: ${pod.spec?.containers[0]?.image ?? ''}`);
          created.set(namespace, (created.get(namespace) ?? 0) + 1);
        } catch (error) {
          failures.push(`${namespace}/p-${i}: ${error instanceof Error ? error.message.slice(0, 300) : String(error)}`);
        }
        await sleep(100);
      }
    };
    const creators = [createPods(STRICT), createPods(WARN)];

    // Watch the Secret and the configuration; sample what each replica serves against the caBundle.
    const startCa = fingerprint((await secretState()).bundle[0] ?? '');
    /** CAs that replaced the one before, having been in the caBundle beside it first. */
    const rotations: string[] = [];
    /** A CA replaced without both in the caBundle first: what the design rules out. */
    const swaps: string[] = [];
    let pending: string | undefined;
    let last = [startCa];
    let samples = 0;
    const mismatches: string[] = [];
    const deadline = Date.now() + 9 * 60_000;
    while (rotations.length < ROTATIONS && Date.now() < deadline) {
      const state = await secretState();
      const cas = state.bundle.map(fingerprint);
      if (cas.length > 1) pending = cas.at(-1);
      else if (cas[0] === pending && pending !== undefined) {
        rotations.push(pending);
        pending = undefined;
      } else if (last.length === 1 && cas[0] !== last[0]) swaps.push(`${last[0] ?? ''} -> ${cas[0] ?? ''}`);
      last = cas;
      for (const [replica, port] of ports) {
        const bundleBefore = await webhookBundle();
        const served = await servedCertificate(port);
        const bundleAfter = await webhookBundle();
        if (bundleBefore === undefined || bundleBefore !== bundleAfter) continue;
        samples += 1;
        const trusted = splitPem(bundleBefore).some((pem) => served.verify(new X509Certificate(pem).publicKey));
        if (!trusted) mismatches.push(`${replica} served ${served.fingerprint256} from ${served.issuer}, not in the caBundle`);
      }
      await sleep(500);
    }
    stop = true;
    await Promise.all(creators);

    const after = await apiserverMetrics();
    const requests = webhookCounter(after, 'apiserver_admission_webhook_request_total') - requestsBefore;
    const totalCreated = (created.get(STRICT) ?? 0) + (created.get(WARN) ?? 0);
    const perReplica = await Promise.all([...ports.entries()].map(async ([replica, port]) => {
      const servedBefore = await servedCertificate(port);
      const text = await replicaMetrics(port);
      const servedAfter = await servedCertificate(port);
      // The expiry metric is that of the certificate served (it could be swapped between the reads).
      const expiry = metricValue(text, 'digest_pinner_serving_certificate_expiry_timestamp_seconds');
      expect([servedBefore, servedAfter].map((served) => Date.parse(served.validTo) / 1000), replica).toContain(expiry);
      const admitted = text.split('\n').filter((l) => l.startsWith('digest_pinner_admissions_total{')).reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
      const steps = Object.fromEntries(['create-ca', 'issue-cert', 'publish-bundle', 'mark-published', 'drop-cas', 'heartbeat'].map((step) =>
        [step, metricValue(text, `digest_pinner_certificate_steps_total{step="${step}"}`)]));
      return { replica, admitted, steps, failures: metricValue(text, 'digest_pinner_certificate_failures_total') };
    }));
    process.stderr.write(`[self-managed certs] ${JSON.stringify({
      created: Object.fromEntries(created), webhookRequests: requests, rotations: rotations.length, startCa, samples,
      rejections: [rejectionsBefore, webhookCounter(after, 'apiserver_admission_webhook_rejection_count')],
      failOpen: [failOpenBefore, webhookCounter(after, 'apiserver_admission_webhook_fail_open_count')], perReplica,
    })}\n`);

    expect(swaps).toEqual([]);
    expect(rotations, `CA rotations completed (see ${cluster.logDir})`).toHaveLength(ROTATIONS);
    expect(new Set([startCa, ...rotations]).size).toBe(ROTATIONS + 1);
    expect(failures).toEqual([]);
    expect(unpinned).toEqual([]);
    expect(mismatches).toEqual([]);
    expect(samples).toBeGreaterThan(0);
    expect(webhookCounter(after, 'apiserver_admission_webhook_rejection_count')).toBe(rejectionsBefore);
    expect(webhookCounter(after, 'apiserver_admission_webhook_fail_open_count')).toBe(failOpenBefore);
    // Every Pod went through the webhook (a Pod may be sent twice: reinvocationPolicy IfNeeded).
    expect(requests).toBeGreaterThanOrEqual(totalCreated);
    for (const { replica, admitted } of perReplica) expect(admitted, `${replica} admitted Pods`).toBeGreaterThan(0);

    // What is stored, not only what the create calls answered.
    for (const namespace of [STRICT, WARN]) {
      const pods = await core.listNamespacedPod({ namespace });
      expect(pods.items).toHaveLength(created.get(namespace) ?? -1);
      expect(pods.items.filter((pod) => pod.spec?.containers[0]?.image !== pinned).map((pod) => pod.metadata?.name)).toEqual([]);
    }
  }, 15 * 60_000);

  it('keeps serving the certificate it holds while it may not write the Secret, counting and logging each failed check', async () => {
    const before = await certificateFailures();
    const served = await Promise.all([...ports.values()].map(async (port) => (await servedCertificate(port)).fingerprint256));
    await cluster.kubectlOk(['delete', 'rolebinding', 'digest-pinner-certificates', '-n', NAMESPACE]);
    // A heartbeat falls due every third of the replica timeout (10 s): its write is refused.
    await eventually('every replica to count a failed check', async () => {
      const now = await certificateFailures();
      return now.every((count, index) => count > (before[index] ?? 0)) ? true : undefined;
    }, { timeoutMs: 60_000 });
    const pinned = `${plain.host}/${image.repository}:${image.tag}@${image.digest}`;
    for (const namespace of [STRICT, WARN]) {
      const pod = await core.createNamespacedPod({ namespace, body: { metadata: { name: 'while-refused', namespace }, spec: { containers: [{ name: 'app', image: `${plain.host}/${image.repository}:${image.tag}` }] } } });
      expect(pod.spec?.containers[0]?.image).toBe(pinned);
    }
    expect(await Promise.all([...ports.values()].map(async (port) => (await servedCertificate(port)).fingerprint256))).toEqual(served);
    // Each replica's log is buffered by pino's destination in that process: wait for it to be written.
    for (const replica of REPLICAS) {
      await eventually(`${replica} to log the failed round`, async () =>
        ((await readFile(join(cluster.logDir, `${replica}.log`), 'utf8')).includes('certificate round failed; serving the certificate held') ? true : undefined));
    }
    await cluster.kubectlOk(['apply', '-f', '-'], { stdin: certificatesBinding });
    const restoredAt = Date.now();
    await eventually('both replicas to record themselves again', async () => {
      const secret = await core.readNamespacedSecret({ namespace: NAMESPACE, name: SECRET });
      const records = JSON.parse(secret.metadata?.annotations?.['digest-pinner.io/serving-replicas'] ?? '{}') as Record<string, { seen: string }>;
      const fresh = Object.entries(records).filter(([id, record]) => REPLICAS.some((r) => id.startsWith(`${r}_`)) && Date.parse(record.seen) >= restoredAt - 1_000);
      return fresh.length === REPLICAS.length ? true : undefined;
    }, { timeoutMs: 90_000 });
  }, 5 * 60_000);

  it('leaves the caBundle alone when patched from a read older than the configuration, and takes that for a lost race', async () => {
    const stale = await readWebhookCaBundles(adminConfig, WEBHOOK, AbortSignal.timeout(30_000));
    await cluster.kubectlOk(['label', 'mutatingwebhookconfiguration', WEBHOOK, 'e2e-touched=yes', '--overwrite']);
    const marker = 'not a caBundle';
    const error: unknown = await setWebhookCaBundle(adminConfig, stale, marker, AbortSignal.timeout(30_000)).then(() => undefined, (failure: unknown) => failure);
    expect(lostRace(error)).toBe(true);
    expect(await webhookBundle()).not.toBe(marker);
  });
});
