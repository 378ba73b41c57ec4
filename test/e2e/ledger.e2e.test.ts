/**
 * The tag ledger (docs/rollouts.md) against a real kube-apiserver and the real registries,
 * with two webhook processes on the host sharing it. Process A is the one kube-apiserver
 * calls (`--cache-ttl 1ms`: every admission asks the registry); process B is given
 * AdmissionReviews directly. B is started once the entries it must know are stored, so its
 * first list holds them (it is ready only once listed).
 *
 * - A tag pushed again between two admissions: one TagMoved Event on the entry, the counter
 *   on A's metrics port, both digests in the entry; B, asking the registry after the move,
 *   records no second Event.
 * - The tenant rule: a private image resolved with namespace A's pull secret is never
 *   answered from the ledger for namespace B (B asks the registry with B's own account, as
 *   the token service counts it), while a public image resolved anonymously is answered
 *   for B from the cluster-wide entry with no registry request.
 * - `imageset --from-ledger` prints the cluster-wide entries, and a tenant's only when asked.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startCluster, type Cluster } from './cluster.js';
import { pushImage, tokenStats } from '../helpers/registry.js';
import '../helpers/registry-types.js';
import { PODS_ONLY, podsOnlyServeArgs } from './rollouts.js';
import { applyManifests, eventually as poll, portOf, startHostWebhook } from './host-webhook.js';
import type { RunningServer } from '../../src/cli/serve.js';
import { runCli } from '../../src/cli/main.js';
import { testLog, type TestLog } from '../support/log.js';

const registries = inject('registries');
const { plain, token } = registries;
/** The cluster-wide entries: the webhook's namespace (--lease-namespace's default outside a cluster). */
const LEDGER_NS = 'digest-pinner';
const PUBLIC = 'ledger-public';
const TENANT_A = 'ledger-a';
const TENANT_B = 'ledger-b';
const MOVING = 'ledger/moving';

interface LedgerEntryItem {
  metadata: { name: string; namespace: string };
  spec: { image: string; digest: string; firstSeen: string; verifiedAt: string; history?: { digest: string; firstSeen: string; movedAt: string }[] };
}

interface StoredEvent {
  reason: string;
  type: string;
  action: string;
  note?: string;
  regarding: { apiVersion: string; kind: string; namespace?: string; name: string };
}

let cluster: Cluster;
let baseArgs: string[] = [];
let a: RunningServer | undefined;
let b: RunningServer | undefined;
const logs: TestLog[] = [];
const logText = (): string => logs.map((log) => log.text().slice(-2000)).join('\n');

const eventually = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> =>
  poll(what, probe, { timeoutMs, context: logText });

async function startWebhook(name: string, extra: readonly string[], port = 0): Promise<RunningServer> {
  const log = testLog(join(cluster.logDir, `ledger-webhook-${name}.log`));
  logs.push(log);
  return startHostWebhook({ cluster, args: [...baseArgs, ...extra], port, log, poll: { timeoutMs: 60_000, context: logText } });
}

async function entries(namespace: string): Promise<LedgerEntryItem[]> {
  return (JSON.parse(await cluster.kubectlOk(['get', 'ledgerentries', '-n', namespace, '-o', 'json'])) as { items: LedgerEntryItem[] }).items;
}

async function entryFor(namespace: string, image: string): Promise<LedgerEntryItem | undefined> {
  return (await entries(namespace)).find((entry) => entry.spec.image === image);
}

async function tagMovedEvents(): Promise<StoredEvent[]> {
  const list = JSON.parse(await cluster.kubectlOk(['get', 'events.events.k8s.io', '-n', LEDGER_NS, '-o', 'json'])) as { items: StoredEvent[] };
  return list.items.filter((event) => event.reason === 'TagMoved');
}

/** A sample's value on a webhook's metrics port; 0 when the series does not exist yet. */
async function metric(server: RunningServer, series: string): Promise<number> {
  const text = await (await fetch(`${server.metricsUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

function podYaml(namespace: string, name: string, image: string, pullSecret?: string): string {
  return stringify(podObject(namespace, name, image, pullSecret));
}

function podObject(namespace: string, name: string, image: string, pullSecret?: string): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace },
    spec: { containers: [{ name: 'app', image }], ...(pullSecret === undefined ? {} : { imagePullSecrets: [{ name: pullSecret }] }) },
  };
}

/** Creates a Pod through kube-apiserver (webhook A); the image it was pinned to. */
async function createPod(namespace: string, name: string, image: string, pullSecret?: string): Promise<string> {
  const out = await cluster.kubectlOk(['create', '-o', 'json', '-f', '-'], { stdin: podYaml(namespace, name, image, pullSecret) });
  return (JSON.parse(out) as { spec: { containers: { image: string }[] } }).spec.containers[0]?.image ?? '';
}

let reviews = 0;

/** Admits a Pod on `server` directly, as kube-apiserver would send it; the image it was pinned to (unchanged when not). */
async function admitOn(server: RunningServer, namespace: string, image: string, pullSecret?: string): Promise<string> {
  reviews += 1;
  const pod = podObject(namespace, `direct-${reviews}`, image, pullSecret);
  const review = {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: `00000000-0000-4000-8000-${String(reviews).padStart(12, '0')}`,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      requestResource: { group: '', version: 'v1', resource: 'pods' },
      name: `direct-${reviews}`,
      namespace,
      operation: 'CREATE',
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
      object: pod,
      oldObject: null,
      dryRun: false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
    },
  };
  const answer = await server.app.inject({ method: 'POST', url: '/mutate/warn', payload: review });
  expect(answer.statusCode).toBe(200);
  const patch = answer.json<{ response: { patch?: string } }>().response.patch;
  if (patch === undefined) return image;
  const operations = JSON.parse(Buffer.from(patch, 'base64').toString('utf8')) as { op: string; path: string; value?: unknown }[];
  const replaced = operations.find((operation) => operation.op === 'replace' && operation.path === '/spec/containers/0/image');
  return typeof replaced?.value === 'string' ? replaced.value : image;
}

async function pullSecret(namespace: string, name: string, username: string): Promise<void> {
  const auths = { [token.host]: { auth: Buffer.from(`${username}:${token.password ?? ''}`).toString('base64') } };
  await cluster.kubectlOk(['apply', '-f', '-'], {
    stdin: stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace }, type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': Buffer.from(JSON.stringify({ auths })).toString('base64') } }),
  });
}

/** Manifest requests for `repository:tag` in the registry's access log so far. */
async function manifestRequests(logFile: string, repository: string, tag: string): Promise<number> {
  const text = await readFile(logFile, 'utf8');
  return text.split('\n').filter((line) => line.includes(`/v2/${repository}/manifests/${tag} `)).length;
}

beforeAll(async () => {
  cluster = await startCluster();
  // RBAC, the ServiceAccount and the CRDs from the pods-only install; its webhook configuration once serving.
  const serveArgs = await podsOnlyServeArgs(cluster);
  await cluster.kubectlOk(['wait', '--for', 'condition=Established', '--timeout', '60s', 'crd/ledgerentries.digest-pinner.io', 'crd/pinrecords.digest-pinner.io']);
  baseArgs = [
    ...serveArgs,
    '--insecure-registry', plain.host,
    '--ca-file', registries.caFile,
    '--ledger-verify-interval', '1h',
    '--log-level', 'info',
  ];
  a = await startWebhook('a', ['--cache-ttl', '1ms']);
  await applyManifests(cluster, portOf(a), () => true, PODS_ONLY);
  for (const ns of [PUBLIC, TENANT_A, TENANT_B]) {
    await cluster.kubectlOk(['create', 'namespace', ns]);
    await cluster.kubectlOk(['label', 'namespace', ns, 'digest-pinner.io/mode=warn']);
    await eventually(`the default ServiceAccount of ${ns}`, async () => ((await cluster.kubectl(['get', 'serviceaccount', 'default', '-n', ns])).code === 0 ? true : undefined));
  }
  await pullSecret(TENANT_A, 'regcred', `${token.username ?? ''}-tenant-a`);
  await pullSecret(TENANT_B, 'regcred', `${token.username ?? ''}-tenant-b`);
}, 240_000);

afterAll(async () => {
  await b?.close();
  await a?.close();
  await cluster.stop();
});

describe('tags that move', () => {
  const image = `${plain.host}/${MOVING}:v1`;

  it('records one TagMoved Event and counts the move when a tag is pushed again between two admissions, with both digests in the entry', async () => {
    const first = await pushImage(plain, MOVING, 'v1');
    // kube-apiserver calls the webhook for the namespace once it has seen the label.
    const pinned = await eventually('the first Pod to be pinned', async () => {
      const name = `first-${Date.now().toString(36)}`;
      const got = await createPod(PUBLIC, name, image);
      return got.includes('@') ? got : undefined;
    });
    expect(pinned).toBe(`${image}@${first.digest}`);
    const created = await eventually('the entry', () => entryFor(LEDGER_NS, image));
    expect(created.spec.digest).toBe(first.digest);
    expect(created.spec.history ?? []).toEqual([]);

    // B lists the entry as it stands before the move.
    b = await startWebhook('b', ['--cache-ttl', '1ms']);

    const second = await pushImage(plain, MOVING, 'v1');
    expect(second.digest).not.toBe(first.digest);
    expect(await createPod(PUBLIC, 'second', image)).toBe(`${image}@${second.digest}`);
    const moved = await eventually('the entry to move', async () => {
      const entry = await entryFor(LEDGER_NS, image);
      return entry?.spec.digest === second.digest ? entry : undefined;
    });
    expect(moved.spec.history?.map((item) => item.digest)).toEqual([first.digest]);
    expect(moved.metadata.name).toBe(created.metadata.name);
    const [event, ...more] = await eventually('the TagMoved Event', async () => {
      const events = await tagMovedEvents();
      return events.length > 0 ? events : undefined;
    });
    expect(more).toEqual([]);
    expect(event).toMatchObject({ type: 'Warning', action: 'ResolveTag', regarding: { apiVersion: 'digest-pinner.io/v1alpha1', kind: 'LedgerEntry', namespace: LEDGER_NS, name: created.metadata.name } });
    expect(event?.note).toContain(first.digest);
    expect(event?.note).toContain(second.digest);
    if (a === undefined) throw new Error('webhook A is not running');
    expect(await metric(a, `digest_pinner_tag_moves_total{host="${plain.host}",expected="false"}`)).toBe(1);
    expect(await metric(a, 'digest_pinner_ledger_writes_total{operation="moved"}')).toBe(1);
  });

  it('records no second Event when a second process sees the same move', async () => {
    const server = b;
    if (server === undefined) throw new Error('webhook B is not running');
    const now = await entryFor(LEDGER_NS, image);
    // B asks the registry (its cache and the ledger answer nothing older than 1 ms) and gets the new digest.
    expect(await admitOn(server, PUBLIC, image)).toBe(`${image}@${now?.spec.digest ?? ''}`);
    // Closing drains B's writes and Events in flight: whatever B was going to record is stored by then.
    const moves = await metric(server, `digest_pinner_tag_moves_total{host="${plain.host}",expected="false"}`);
    await server.close();
    b = undefined;
    expect(moves).toBe(0);
    expect(await tagMovedEvents()).toHaveLength(1);
    expect((await entryFor(LEDGER_NS, image))?.spec.history).toHaveLength(1);
  });
});

describe('the tenant rule', () => {
  const privateImage = `${token.host}/${token.images.single.repository}:${token.images.single.tag}`;
  const publicImage = `${token.host}/${token.publicImage.repository}:${token.publicImage.tag}`;

  it('never answers namespace B from an entry learnt with namespace A\'s pull secret, and answers it from a cluster-wide entry', async () => {
    // A resolves the private image with tenant A's secret, the public one anonymously.
    expect(await createPod(TENANT_A, 'private', privateImage, 'regcred')).toBe(`${privateImage}@${token.images.single.digest}`);
    expect(await createPod(PUBLIC, 'public', publicImage)).toBe(`${publicImage}@${token.publicImage.digest}`);
    await eventually('the tenant entry in namespace A', () => entryFor(TENANT_A, privateImage));
    await eventually('the cluster-wide entry of the public image', () => entryFor(LEDGER_NS, publicImage));
    expect(await entryFor(LEDGER_NS, privateImage)).toBeUndefined();

    // B, whose first list holds both entries, answers from the ledger for a whole hour.
    const server = await startWebhook('b-tenants', ['--cache-ttl', '1h']);
    b = server;
    const tenantB = `${token.username ?? ''}-tenant-b`;
    const before = { requests: await manifestRequests(token.logFile, token.images.single.repository, token.images.single.tag), tokens: (await tokenStats(token)).byAccount[tenantB] ?? 0 };

    expect(await admitOn(server, TENANT_B, privateImage, 'regcred')).toBe(`${privateImage}@${token.images.single.digest}`);
    expect(await metric(server, 'digest_pinner_resolutions_total{source="ledger"}')).toBe(0);
    expect(await metric(server, 'digest_pinner_resolutions_total{source="registry"}')).toBe(1);
    // B's own request, with B's own account.
    expect((await tokenStats(token)).byAccount[tenantB] ?? 0).toBeGreaterThan(before.tokens);
    await eventually('B\'s manifest request in the registry\'s log', async () =>
      ((await manifestRequests(token.logFile, token.images.single.repository, token.images.single.tag)) > before.requests ? true : undefined));

    const publicBefore = await manifestRequests(token.logFile, token.publicImage.repository, token.publicImage.tag);
    const requestsBefore = await registryRequests(server);
    expect(await admitOn(server, TENANT_B, publicImage)).toBe(`${publicImage}@${token.publicImage.digest}`);
    expect(await metric(server, 'digest_pinner_resolutions_total{source="ledger"}')).toBe(1);
    expect(await registryRequests(server)).toBe(requestsBefore);
    expect(await manifestRequests(token.logFile, token.publicImage.repository, token.publicImage.tag)).toBe(publicBefore);
  });
});

describe('imageset --from-ledger', () => {
  const moving = `${plain.host}/${MOVING}:v1`;
  const privateImage = `${token.host}/${token.images.single.repository}:${token.images.single.tag}`;
  const publicImage = `${token.host}/${token.publicImage.repository}:${token.publicImage.tag}`;

  it('prints the cluster-wide ledger as an ImageSet, without tenant entries', async () => {
    const { code, stdout, stderr } = await cli(['imageset', '--from-ledger', '--name', 'frozen', '--kubeconfig', cluster.kubeconfigPath]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const images = (parse(stdout) as { spec: { images: { image: string; digest: string }[] } }).spec.images;
    const stored = await entryFor(LEDGER_NS, moving);
    expect(images).toEqual(expect.arrayContaining([{ image: moving, digest: stored?.spec.digest }, { image: publicImage, digest: token.publicImage.digest }]));
    expect(images.map((entry) => entry.image)).not.toContain(privateImage);
    expect(parse(stdout)).toMatchObject({ apiVersion: 'digest-pinner.io/v1alpha1', kind: 'ImageSet', metadata: { name: 'frozen' } });
  });

  it('adds a tenant\'s entries with --namespace, and warns that an ImageSet answers every namespace', async () => {
    const { code, stdout, stderr } = await cli(['imageset', '--from-ledger', '--name', 'frozen', '--namespace', TENANT_A, '--kubeconfig', cluster.kubeconfigPath]);
    expect(code).toBe(0);
    expect(stderr).toContain(`warning: the entries of namespace ${TENANT_A} were learnt with its pull secrets`);
    const images = (parse(stdout) as { spec: { images: { image: string; digest: string }[] } }).spec.images;
    expect(images).toEqual(expect.arrayContaining([{ image: privateImage, digest: token.images.single.digest }, { image: publicImage, digest: token.publicImage.digest }]));
  });
});

/** Runs the CLI in this process; its exit code and output. */
async function cli(argv: readonly string[]): Promise<{ code: number | undefined; stdout: string; stderr: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  err.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await runCli(argv, { stdout: out, stderr: err, stdin: new PassThrough(), env: {}, cwd: cluster.workDir, homeDir: cluster.workDir, version: 'e2e', logDestination: () => { throw new Error('no log'); } });
  return { code, stdout, stderr };
}

/** Every registry and token request a webhook counted. */
async function registryRequests(server: RunningServer): Promise<number> {
  const text = await (await fetch(`${server.metricsUrl}/metrics`)).text();
  return text.split('\n').filter((line) => line.startsWith('digest_pinner_registry_requests_total{')).reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
}
