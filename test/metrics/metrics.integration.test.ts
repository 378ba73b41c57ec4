/** /metrics on its own plain-HTTP port and the admission log line, after real admissions over HTTPS against a real registry. */
import { mkdtemp, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Agent, request } from 'undici';
import type { FastifyInstance } from 'fastify';
import { pushImage } from '../helpers/registry.js';
import '../helpers/registry-types.js';
import type { PushedImage } from '../helpers/registry-types.js';
import { buildApp } from '../../src/server/app.js';
import { buildMetricsApp } from '../../src/server/metrics-listener.js';
import { skipList } from '../../src/admission/index.js';
import { generateCertificates } from '../../src/certs/index.js';
import { RegistryClient } from '../../src/registry/index.js';
import { Resolver } from '../../src/resolve/index.js';
import { BREAKER_STATES, HostLabels, Metrics, OTHER_HOST } from '../../src/metrics/index.js';
import { webhookLogger } from '../../src/server/log.js';
import { testLog } from '../support/log.js';
import { parseExposition, type Sample } from '../support/exposition.js';
import type { BreakerState } from '../../src/registry/index.js';

const registries = inject('registries');
const plain = registries.plain;
/** Nothing listens on port 1: connections are refused at once. */
const UNREACHABLE_HOST = '127.0.0.1:1';
const UNREACHABLE = `${UNREACHABLE_HOST}/nothing/here:v1`;

/** The value of the one sample named `name` whose labels include `labels`; undefined when none. */
function valueOf(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

let uidCounter = 0;
function review(kind: string, images: readonly string[], operation = 'CREATE') {
  uidCounter += 1;
  const spec = { containers: images.map((image, i) => ({ name: `c${i}`, image })) };
  const object =
    kind === 'Pod'
      ? { apiVersion: 'v1', kind, metadata: { name: `p${uidCounter}`, namespace: 'team-m' }, spec }
      : { apiVersion: 'v1', kind, metadata: { name: `o${uidCounter}`, namespace: 'team-m' }, spec: {} };
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: `metrics-uid-${uidCounter}`,
      kind: { group: '', version: 'v1', kind },
      resource: { group: '', version: 'v1', resource: `${kind.toLowerCase()}s` },
      namespace: 'team-m',
      name: object.metadata.name,
      operation,
      object,
      oldObject: null,
    },
  };
}

interface MetricsWebhook {
  readonly app: FastifyInstance;
  readonly client: RegistryClient;
  readonly resolver: Resolver;
  readonly metrics: Metrics;
  readonly logLines: () => Record<string, unknown>[];
  post(path: string, body: unknown): Promise<unknown>;
  /** GET on the webhook's HTTPS port: its status. */
  getHttps(path: string): Promise<number>;
  scrape(): Promise<{ contentType: string; samples: Sample[] }>;
  close(): Promise<void>;
}

/** The real app over HTTPS and the metrics app over HTTP, with metrics and the log wired as `serve` wires them, logging to a file. */
async function startMetricsWebhook(): Promise<MetricsWebhook> {
  const certs = await generateCertificates({ hosts: ['127.0.0.1'], validDays: 1 });
  const metrics = new Metrics({ version: '9.8.7-test' });
  const client = new RegistryClient({
    env: {},
    caFiles: [registries.caFile],
    insecureRegistries: [plain.host],
    requestTimeoutMs: 5_000,
    userAgent: 'dp-metrics-test',
    onRequest: (event) => {
      metrics.registryRequest(event);
    },
  });
  const resolver = new Resolver({ source: client, cacheTtlMs: 60_000, cacheMax: 1000, fetchTimeoutMs: 10_000 });
  metrics.trackCache(() => resolver.size);
  metrics.trackBreakers(() => client.breakerStates());
  const logDir = await mkdtemp(join(tmpdir(), 'dp-metrics-log-'));
  const log = testLog(join(logDir, 'serve.log'));
  const app = buildApp(
    {
      mode: 'warn',
      deadlineMs: 8_000,
      resolver,
      credentials: () => Promise.resolve([undefined]),
      skip: skipList([]),
      dropTag: false,
      ready: () => true,
      onAdmission: (result, kind, operation, seconds) => {
        metrics.admission(result, kind, operation, seconds);
      },
      inFlight: metrics.admissionsInFlight,
    },
    { https: { cert: certs.cert, key: certs.key }, logger: webhookLogger('info', log.destination) },
  );
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  const metricsApp = buildMetricsApp({ metrics, ready: () => true });
  const metricsUrl = await metricsApp.listen({ port: 0, host: '127.0.0.1' });
  const agent = new Agent({ connect: { ca: certs.caCert } });
  return {
    app,
    client,
    resolver,
    metrics,
    logLines: () => log.lines(),
    post: async (path, body) => {
      const res = await request(`${url}${path}`, { method: 'POST', dispatcher: agent, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      if (res.statusCode !== 200) throw new Error(`POST ${path} answered ${res.statusCode}`);
      return res.body.json();
    },
    getHttps: async (path) => {
      const res = await request(`${url}${path}`, { dispatcher: agent });
      await res.body.dump();
      return res.statusCode;
    },
    scrape: async () => {
      const res = await request(`${metricsUrl}/metrics`);
      const contentType = String(res.headers['content-type']);
      return { contentType, samples: parseExposition(await res.body.text()) };
    },
    close: async () => {
      await app.close();
      await metricsApp.close();
      await agent.close();
      await client.close();
      await rm(logDir, { recursive: true, force: true });
    },
  };
}

describe('GET /metrics after real admissions', () => {
  let webhook: MetricsWebhook;
  let image: PushedImage;
  let samples: Sample[];
  let contentType: string;
  beforeAll(async () => {
    image = await pushImage(plain, 'metrics/app', 'v1');
    webhook = await startMetricsWebhook();
    const tagged = `${plain.host}/metrics/app:v1`;
    const pinned = `${plain.host}/metrics/app@${image.digest}`;
    const missing = `${plain.host}/metrics/app:no-such-tag`;
    // Sequential, so the second admission finds the first one's digest in the cache.
    await webhook.post('/mutate', review('Pod', [tagged, pinned])); // registry + pinned → pinned
    await webhook.post('/mutate', review('Pod', [tagged, missing])); // cache + failed → warned
    await webhook.post('/mutate/strict', review('Pod', [missing])); // failed → denied
    await webhook.post('/mutate', review('Pod', [pinned])); // pinned only → unchanged
    await webhook.post('/mutate', review('Service', [])); // no pod spec → ignored, kind other
    await webhook.post('/mutate', review('Pod', [tagged], 'DELETE')); // → ignored
    await webhook.post('/mutate', review('Pod', [UNREACHABLE])); // connection refused → warned
    ({ samples, contentType } = await webhook.scrape());
  });
  afterAll(async () => {
    await webhook.close();
  });

  it('is Prometheus text format 0.0.4', () => {
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
  });

  it('is served on the metrics port only: the HTTPS port answers 404 to /metrics', async () => {
    expect(await webhook.getHttps('/metrics')).toBe(404);
  });

  it('names the version in build_info, and has no admission in flight once all are answered', () => {
    expect(valueOf(samples, 'digest_pinner_build_info', { version: '9.8.7-test' })).toBe(1);
    expect(valueOf(samples, 'digest_pinner_admissions_in_flight')).toBe(0);
  });

  it('counts admissions by kind, operation and outcome, bounding unknown kinds to other', () => {
    const admissions = (labels: Record<string, string>) => valueOf(samples, 'digest_pinner_admissions_total', labels);
    expect(admissions({ kind: 'Pod', operation: 'CREATE', outcome: 'pinned' })).toBe(1);
    expect(admissions({ kind: 'Pod', operation: 'CREATE', outcome: 'warned' })).toBe(2);
    expect(admissions({ kind: 'Pod', operation: 'CREATE', outcome: 'denied' })).toBe(1);
    expect(admissions({ kind: 'Pod', operation: 'CREATE', outcome: 'unchanged' })).toBe(1);
    expect(admissions({ kind: 'Pod', operation: 'DELETE', outcome: 'ignored' })).toBe(1);
    expect(admissions({ kind: 'other', operation: 'CREATE', outcome: 'ignored' })).toBe(1);
    expect(samples.some((s) => s.name === 'digest_pinner_admissions_total' && s.labels['kind'] === 'Service')).toBe(false);
  });

  it('observes every admission in the latency histogram, with sub-millisecond buckets', () => {
    expect(valueOf(samples, 'digest_pinner_admission_duration_seconds_count')).toBe(7);
    expect(valueOf(samples, 'digest_pinner_admission_duration_seconds_bucket', { le: '0.0005' })).toBeDefined();
    expect(valueOf(samples, 'digest_pinner_admission_duration_seconds_bucket', { le: '+Inf' })).toBe(7);
  });

  it('counts resolutions by source, and each failure once, by code and registry host', () => {
    const resolutions = (source: string) => valueOf(samples, 'digest_pinner_resolutions_total', { source });
    expect(resolutions('registry')).toBe(1);
    expect(resolutions('cache')).toBe(1);
    expect(resolutions('pinned')).toBe(2);
    expect(samples.filter((s) => s.name === 'digest_pinner_resolutions_total').map((s) => s.labels['source']).sort()).toEqual(['cache', 'pinned', 'registry']);
    expect(valueOf(samples, 'digest_pinner_resolution_failures_total', { code: 'DP_ERR_MANIFEST_UNKNOWN', host: plain.host })).toBe(2);
    expect(valueOf(samples, 'digest_pinner_resolution_failures_total', { code: 'DP_ERR_REGISTRY_UNAVAILABLE', host: UNREACHABLE_HOST })).toBe(1);
  });

  it('counts the registry requests the client made, by host, method and status, with their latency', () => {
    const requests = samples.filter((s) => s.name === 'digest_pinner_registry_requests_total');
    expect(new Set(requests.map((s) => s.labels['host']))).toEqual(new Set([plain.host, UNREACHABLE_HOST]));
    // app:v1 is asked once, then cached; the 404s of app:no-such-tag and the refused connections are counted too.
    expect(valueOf(samples, 'digest_pinner_registry_requests_total', { host: plain.host, method: 'HEAD', status: '200' })).toBe(1);
    expect(valueOf(samples, 'digest_pinner_registry_requests_total', { host: plain.host, method: 'HEAD', status: '404' })).toBeGreaterThanOrEqual(1);
    expect(valueOf(samples, 'digest_pinner_registry_requests_total', { host: UNREACHABLE_HOST, status: 'error' })).toBeGreaterThanOrEqual(1);
    const total = requests.reduce((sum, s) => sum + s.value, 0);
    const durations = samples.filter((s) => s.name === 'digest_pinner_registry_request_duration_seconds_count');
    expect(durations.reduce((sum, s) => sum + s.value, 0)).toBe(total);
  });

  it('reports the circuit breaker of each registry that failed, one series per state', () => {
    const state = webhook.client.breakerStates().get(UNREACHABLE_HOST);
    expect(state).toBeDefined();
    const series = BREAKER_STATES.map((s) => valueOf(samples, 'digest_pinner_circuit_breaker_state', { host: UNREACHABLE_HOST, state: s }));
    expect(series).toEqual(BREAKER_STATES.map((s) => (s === state ? 1 : 0)));
  });

  it('reports the cache size, and no ratio (rate() over the counters gives it)', () => {
    expect(webhook.resolver.size).toBe(1);
    expect(valueOf(samples, 'digest_pinner_cache_entries')).toBe(1);
    expect(samples.some((s) => s.name === 'digest_pinner_cache_hit_ratio')).toBe(false);
  });

  it('includes the process metrics of its own registry', () => {
    expect(valueOf(samples, 'process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('logs one JSON line per admission with uid, kind, namespace, name and outcome, a string level and an ISO time', () => {
    const admissions = webhook.logLines().filter((line) => line['msg'] === 'admission');
    expect(admissions).toHaveLength(7);
    expect(admissions[0]).toMatchObject({ level: 'info', service: 'digest-pinner', uid: 'metrics-uid-1', kind: 'Pod', operation: 'CREATE', namespace: 'team-m', name: 'p1', outcome: 'pinned' });
    const time = String(admissions[0]?.['time']);
    expect(time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(new Date(time).toISOString()).toBe(time);
    expect(admissions[2]).toMatchObject({ uid: 'metrics-uid-3', mode: 'strict', outcome: 'denied' });
  });

  it('names each failure with its code and the reason an operator reads', () => {
    const denied = webhook.logLines().find((line) => line['uid'] === 'metrics-uid-3');
    const image = `${plain.host}/metrics/app:no-such-tag`;
    expect(denied?.['failures']).toEqual([
      { where: 'containers/c0', image, code: 'DP_ERR_MANIFEST_UNKNOWN', reason: 'registry answered 404 (no such tag or repository)' },
    ]);
  });
});

describe('admissions in flight', () => {
  it('counts an admission while its registry has not answered, and not once it is answered', async () => {
    const webhook = await startMetricsWebhook();
    // Accepts connections and never answers: the TLS handshake waits.
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const { port } = silent.address() as AddressInfo;
    try {
      const connected = once(silent, 'connection');
      const answered = webhook.post('/mutate?timeout=30s', review('Pod', [`127.0.0.1:${port}/hang/app:v1`]));
      // The registry request starts after the admission is counted.
      await connected;
      const during = valueOf((await webhook.scrape()).samples, 'digest_pinner_admissions_in_flight');
      silent.close();
      for (const socket of sockets) socket.destroy();
      await answered;
      const after = valueOf((await webhook.scrape()).samples, 'digest_pinner_admissions_in_flight');
      expect([during, after]).toEqual([1, 0]);
    } finally {
      silent.close();
      await webhook.close();
    }
  });
});

describe('logs stay JSON', () => {
  it('a Pod of more than 10 images raises no MaxListenersExceededWarning on stderr', async () => {
    const webhook = await startMetricsWebhook();
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => {
      warnings.push(warning);
    };
    process.on('warning', onWarning);
    try {
      const images = Array.from({ length: 12 }, (_, i) => `${UNREACHABLE_HOST}/many/image-${i}:v1`);
      await webhook.post('/mutate', review('Pod', images));
      // Node emits the warning on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
      await webhook.close();
    }
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
  });
});

describe('Metrics (without the app)', () => {
  const scrape = async (metrics: Metrics) => parseExposition(await metrics.render());
  const event = (host: string, status: number | 'error' = 200) => ({ host, method: 'HEAD', status, seconds: 0.01 });

  it('with an allow-list: allowed hosts by name, hosts that answered (token realms) within the budget, refused ones other', async () => {
    const metrics = new Metrics({ allowList: ['registry.example.com', '127.0.0.1:5000'], maxHosts: 2, defaultMetrics: false });
    metrics.registryRequest(event('Registry.Example.com', 'error'));
    metrics.registryRequest(event('127.0.0.1:5000', 401));
    metrics.registryRequest(event('auth.example.com'));
    // Refused by the allow-list before any request went out: never a label.
    metrics.registryRequest(event('evil-1.example.net', 'error'));
    metrics.registryRequest(event('evil-2.example.net', 'error'));
    metrics.registryRequest(event('auth-2.example.com'));
    metrics.registryRequest(event('auth-3.example.com'));
    const samples = await scrape(metrics);
    const hosts = new Set(samples.filter((s) => s.name === 'digest_pinner_registry_requests_total').map((s) => s.labels['host']));
    expect(hosts).toEqual(new Set(['registry.example.com', '127.0.0.1:5000', 'auth.example.com', 'auth-2.example.com', OTHER_HOST]));
    expect(valueOf(samples, 'digest_pinner_registry_requests_total', { host: 'registry.example.com', status: 'error' })).toBe(1);
    expect(valueOf(samples, 'digest_pinner_registry_requests_total', { host: OTHER_HOST, method: 'HEAD', status: 'error' })).toBe(2);
    expect(valueOf(samples, 'digest_pinner_registry_requests_total', { host: OTHER_HOST, method: 'HEAD', status: '200' })).toBe(1);
    expect(valueOf(samples, 'digest_pinner_registry_requests_total', { host: '127.0.0.1:5000', status: '401' })).toBe(1);
    expect(valueOf(samples, 'digest_pinner_registry_request_duration_seconds_count', { host: OTHER_HOST, method: 'HEAD' })).toBe(3);
  });

  it('without an allow-list, names the first maxHosts hosts and no more, however many images arrive', async () => {
    const metrics = new Metrics({ maxHosts: 3, defaultMetrics: false });
    for (let i = 0; i < 1000; i += 1) metrics.registryRequest(event(`host-${i}.example.com`));
    metrics.registryRequest(event('host-1.example.com', 'error'));
    const samples = (await scrape(metrics)).filter((s) => s.name === 'digest_pinner_registry_requests_total');
    expect(samples.map((s) => `${s.labels['host'] ?? ''} ${s.labels['status'] ?? ''} ${s.value}`).sort()).toEqual([
      'host-0.example.com 200 1',
      'host-1.example.com 200 1',
      'host-1.example.com error 1',
      'host-2.example.com 200 1',
      'other 200 997',
    ]);
  });

  it('bounds methods and statuses', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    metrics.registryRequest({ host: 'r.example', method: 'BREW', status: 999, seconds: 0.001 });
    const samples = await scrape(metrics);
    expect(valueOf(samples, 'digest_pinner_registry_requests_total', { host: 'r.example', method: 'other', status: 'error' })).toBe(1);
  });

  it('reports each breaker state, and the worst state among hosts labelled other', async () => {
    const metrics = new Metrics({ allowList: ['a.example', 'b.example'], defaultMetrics: false });
    const states = new Map<string, BreakerState>([
      ['a.example', 'closed'],
      ['b.example', 'open'],
      ['c.example', 'half-open'],
      ['d.example', 'closed'],
    ]);
    metrics.trackBreakers(() => states);
    let samples = await scrape(metrics);
    const current = (host: string) => samples.filter((s) => s.name === 'digest_pinner_circuit_breaker_state' && s.labels['host'] === host && s.value === 1).map((s) => s.labels['state']);
    const seriesOf = (host: string) => samples.filter((s) => s.name === 'digest_pinner_circuit_breaker_state' && s.labels['host'] === host).length;
    expect([current('a.example'), current('b.example'), current(OTHER_HOST)]).toEqual([['closed'], ['open'], ['half-open']]);
    expect(seriesOf('b.example')).toBe(BREAKER_STATES.length);
    states.set('b.example', 'half-open');
    states.delete('c.example');
    samples = await scrape(metrics);
    expect([current('b.example'), current(OTHER_HOST)]).toEqual([['half-open'], ['closed']]);
  });

  it('reads the cache size at each scrape', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    let size = 3;
    metrics.trackCache(() => size);
    expect(valueOf(await scrape(metrics), 'digest_pinner_cache_entries')).toBe(3);
    size = 100_000;
    expect(valueOf(await scrape(metrics), 'digest_pinner_cache_entries')).toBe(100_000);
  });

  it('reads the caches of the cluster and the ImageSet informer at each scrape; without a cluster, no series', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    expect((await scrape(metrics)).filter((s) => s.name.startsWith('digest_pinner_informer') || s.name.startsWith('digest_pinner_imageset'))).toEqual([]);
    let informers = [{ informer: 'pull-secrets', synced: true }, { informer: 'imagesets', synced: false }];
    let imageSets: 'starting' | 'synced' | 'absent' = 'starting';
    metrics.trackInformers(() => informers);
    metrics.trackImageSets(() => imageSets);
    let samples = await scrape(metrics);
    expect(valueOf(samples, 'digest_pinner_informer_synced', { informer: 'pull-secrets' })).toBe(1);
    expect(valueOf(samples, 'digest_pinner_informer_synced', { informer: 'imagesets' })).toBe(0);
    expect(valueOf(samples, 'digest_pinner_imageset_informer_state', { state: 'starting' })).toBe(1);
    informers = [{ informer: 'pull-secrets', synced: true }, { informer: 'imagesets', synced: true }];
    imageSets = 'absent';
    samples = await scrape(metrics);
    expect(valueOf(samples, 'digest_pinner_informer_synced', { informer: 'imagesets' })).toBe(1);
    expect(['starting', 'synced', 'absent'].map((state) => valueOf(samples, 'digest_pinner_imageset_informer_state', { state }))).toEqual([0, 0, 1]);
  });

  it('counts Events by outcome', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    metrics.eventRecorded('created');
    metrics.eventRecorded('created');
    metrics.eventRecorded('deduplicated');
    metrics.eventRecorded('surprising');
    const samples = await scrape(metrics);
    expect(valueOf(samples, 'digest_pinner_events_total', { outcome: 'created' })).toBe(2);
    expect(valueOf(samples, 'digest_pinner_events_total', { outcome: 'deduplicated' })).toBe(1);
    expect(valueOf(samples, 'digest_pinner_events_total', { outcome: 'other' })).toBe(1);
  });

  it('keeps separate Metrics apart (no global registry)', async () => {
    const one = new Metrics({ defaultMetrics: false });
    const two = new Metrics({ defaultMetrics: false });
    one.eventRecorded('failed');
    expect(valueOf(await scrape(two), 'digest_pinner_events_total', { outcome: 'failed' })).toBeUndefined();
  });
});

describe('HostLabels', () => {
  it('treats a trailing dot and case as the same host', () => {
    const labels = new HostLabels({ allowList: ['Registry.example.com:5000'] });
    expect(labels.label('registry.example.com.:5000', false)).toBe('registry.example.com:5000');
    expect(labels.label('registry.example.com', false)).toBe(OTHER_HOST);
  });

  it('existing() never hands out a label', () => {
    const labels = new HostLabels({ maxHosts: 5 });
    expect(labels.existing('a.example')).toBe(OTHER_HOST);
    expect(labels.label('a.example', true)).toBe('a.example');
    expect(labels.existing('A.example')).toBe('a.example');
  });
});
