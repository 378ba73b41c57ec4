/**
 * One skip list: the webhook (serve --skip-policy, as the chart runs it) reads the list the
 * strict ValidatingAdmissionPolicy holds (its variable skipList), and the two answer every
 * row of test/admission/skip-table.ts alike, on a real kube-apiserver.
 *
 * manifests/ is applied as shipped (RBAC included: the webhook runs on the host with the
 * ServiceAccount's token, so the ClusterRole granting the one policy by name is what lets it
 * list and watch). Every registry of the table is --imageset-authoritative, so an image
 * the webhook does not skip fails at once, without a network request. Per row:
 *
 *   webhook   a Pod in a warn namespace: skipped means admitted unchanged, without a
 *             warning; not skipped means the webhook's "not in any ImageSet" warning
 *   policy    a Pod in a namespace only the strict policy applies to (the policy as
 *             rendered, bound with the rendered paramRef): admitted, or denied by it
 *   strict    a Pod in a strict namespace, where both apply: admitted, or denied by the
 *             webhook; never denied by the policy after the webhook skipped the image
 *
 * A change of the list reaches the webhook and kube-apiserver's policy through their own
 * watches: each row's list starts with a sentinel pattern of its own, and both are asked
 * about the sentinel's image until they skip it.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from './cluster.js';
import { issueCertificate } from './pki.js';
import { applyManifests, eventually as poll, MANIFESTS, portOf, startHostWebhook } from './host-webhook.js';
import type { RunningServer } from '../../src/cli/serve.js';
import { MAX_SKIP_PATTERNS, SKIP_LIST_VARIABLE } from '../../src/admission/index.js';
import { SKIP_TABLE, type SkipCase } from '../admission/skip-table.js';
import { testLog, type TestLog } from '../support/log.js';
import { readOne } from '../manifests/load.js';

const WARN = 'skip-warn';
const STRICT = 'skip-strict';
const POLICY_ONLY = 'skip-policy';
const POLICY_ONLY_LABEL = 'digest-pinner.io/e2e-skip-table';
const POLICY = 'digest-pinner-strict';
const POLICY_PATH = `/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/${POLICY}`;
/** Every registry the table's images name, and the sentinels'. */
const REGISTRIES = ['docker.io', 'ghcr.io', 'quay.io', 'localhost:5000', 'localhost:5001', 'Upper.example.com', 'registry.example.com', 'sentinel.invalid'];
const NOT_IN_IMAGESET = 'not in any ImageSet, and ImageSets are authoritative for';
const POLICY_DENIAL = 'digest-pinner: images not pinned to a digest (namespace mode strict): ';

let cluster: Cluster;
let webhook: RunningServer | undefined;
let log: TestLog;
let api: Agent | undefined;
let step = 0;

const eventually = <T>(what: string, probe: () => Promise<T | undefined>): Promise<T> =>
  poll(what, probe, { timeoutMs: 60_000, context: () => log.text().slice(-3000) });

interface ApiAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
  /** The text of each Warning header (RFC 7234: `299 - "text"`). */
  readonly warnings: string[];
}

/** One request to kube-apiserver as the admin (the client certificate of cluster.ts). */
async function call(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<ApiAnswer> {
  const response = await request(`${cluster.server}${path}`, {
    method,
    dispatcher: api ?? new Agent(),
    // PATCH: a JSON patch, which names no resourceVersion (kube-controller-manager writes the policy's status meanwhile).
    headers: { 'content-type': method === 'PATCH' ? 'application/json-patch+json' : 'application/json', accept: 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const header = response.headers['warning'];
  const warnings = (header === undefined ? [] : Array.isArray(header) ? header : [header])
    .map((value) => /^\d{3} \S+ "(.*)"$/s.exec(value)?.[1]?.replaceAll('\\"', '"') ?? value);
  return { status: response.statusCode, body: (await response.body.json()) as Record<string, unknown>, warnings };
}

/** Creates a Pod with one container in a server-side dry run: every admission step runs, nothing is stored. */
function createPod(namespace: string, image: string): Promise<ApiAnswer> {
  return call('POST', `/api/v1/namespaces/${namespace}/pods?dryRun=All`, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { generateName: 'p-', namespace },
    spec: { containers: [{ name: 'app', image }] },
  });
}

const imageOf = (answer: ApiAnswer): unknown => ((answer.body['spec'] as { containers?: { image?: unknown }[] } | undefined)?.containers ?? [])[0]?.image;
const messageOf = (answer: ApiAnswer): string => (typeof answer.body['message'] === 'string' ? answer.body['message'] : '');
/** `text` as a JSON string with every character outside printable ASCII escaped, so a message shows U+0085 or U+FEFF. */
const visible = (text: string): string =>
  JSON.stringify(text).replace(/[^\x20-\x7e]/gu, (character) => `\\u${(character.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`);
const show = (answer: ApiAnswer): string => `HTTP ${answer.status} ${messageOf(answer)} warnings ${JSON.stringify(answer.warnings)}`;

/** The webhook's answer for `image`, read from a warn namespace: skipped (admitted unchanged, no warning), or not (its warning). */
async function webhookSkips(image: string): Promise<boolean> {
  const answer = await createPod(WARN, image);
  if (answer.status !== 201) throw new Error(`warn namespace: ${show(answer)}`);
  if (answer.warnings.length === 0 && imageOf(answer) === image) return true;
  if (answer.warnings.length === 1 && answer.warnings[0]?.includes(`image "${image}" not pinned`) === true && answer.warnings[0].includes(NOT_IN_IMAGESET)) return false;
  throw new Error(`warn namespace: neither skipped nor refused by ImageSets: ${show(answer)}`);
}

/** The strict policy's answer for `image`: admitted, or denied naming it. */
async function policySkips(image: string): Promise<boolean> {
  const answer = await createPod(POLICY_ONLY, image);
  if (answer.status === 201) return true;
  if (answer.status === 403 && messageOf(answer).includes(`${POLICY_DENIAL}${image}`)) return false;
  throw new Error(`policy-only namespace: ${show(answer)}`);
}

type StrictOutcome = 'admitted' | 'denied by the webhook' | 'denied by the policy';

/** Both, in a strict namespace. */
async function strictOutcome(image: string): Promise<StrictOutcome> {
  const answer = await createPod(STRICT, image);
  if (answer.status === 201 && imageOf(answer) === image) return 'admitted';
  const message = messageOf(answer);
  if (message.includes('admission webhook "strict.digest-pinner.io" denied the request') && message.includes(NOT_IN_IMAGESET)) return 'denied by the webhook';
  if (message.includes(POLICY_DENIAL)) return 'denied by the policy';
  throw new Error(`strict namespace: ${show(answer)}`);
}

interface Policy {
  metadata: { resourceVersion?: string };
  spec: { variables: { name: string; expression: string }[] };
}

/** Writes `patterns` as the policy's list, a raw string literal as the chart renders it; resolves to the policy's resourceVersion. */
async function putSkipList(patterns: string): Promise<string> {
  const read = await call('GET', POLICY_PATH);
  if (read.status !== 200) throw new Error(`policy not read: ${show(read)}`);
  const index = (read.body as unknown as Policy).spec.variables.findIndex((variable) => variable.name === SKIP_LIST_VARIABLE);
  if (index === -1) throw new Error(`policy has no variable ${SKIP_LIST_VARIABLE}`);
  const answer = await call('PATCH', POLICY_PATH, [{ op: 'replace', path: `/spec/variables/${index}/expression`, value: `r'''${patterns}'''` }]);
  if (answer.status !== 200) throw new Error(`policy not written: ${show(answer)}`);
  return String((answer.body['metadata'] as { resourceVersion?: unknown } | undefined)?.resourceVersion);
}

/** The sentinel line of the list useSkipList wrote last. */
let lastSentinel: string | undefined;

/** Waits until the webhook and the policy both skip `sentinel`'s image, and no longer skip `gone`'s. */
async function bothRead(sentinel: string, gone: string | undefined): Promise<void> {
  const reads = async (skips: (image: string) => Promise<boolean>): Promise<true | undefined> =>
    (await skips(`${sentinel}:1`)) && (gone === undefined || !(await skips(`${gone}:1`))) ? true : undefined;
  await eventually(`the webhook to read the list of ${sentinel}`, () => reads(webhookSkips));
  await eventually(`the policy to read the list of ${sentinel}`, () => reads(policySkips));
}

/**
 * Replaces the policy's list with `patterns` after a sentinel line, and waits until the webhook and the
 * policy both read them. kube-apiserver applies a policy change on its next refresh, about a second
 * later, and a list with `**` skips any sentinel: so first a list of a fresh sentinel alone, read once
 * the last sentinel is no longer skipped; after it, only the new list can skip the new sentinel.
 */
async function useSkipList(patterns: string): Promise<void> {
  const [reset, sentinel] = [1, 2].map((offset) => `sentinel.invalid/step-${step + offset}`) as [string, string];
  step += 2;
  await putSkipList(reset);
  await bothRead(reset, lastSentinel);
  await putSkipList(`${sentinel}\n${patterns}`);
  await bothRead(sentinel, undefined);
  lastSentinel = sentinel;
}

beforeAll(async () => {
  cluster = await startCluster();
  const [ca, cert, key] = await Promise.all([readFile(cluster.caFile), readFile(cluster.pki.admin.certFile), readFile(cluster.pki.admin.keyFile)]);
  api = new Agent({ connect: { ca, cert, key } });
  const serving = await issueCertificate(cluster.pki.ca, { name: 'webhook', commonName: 'digest-pinner', usage: 'server', altNames: ['IP:127.0.0.1'] });
  await cluster.kubectlOk(['apply', '-k', MANIFESTS]);
  const token = await cluster.createServiceAccountToken('digest-pinner', 'digest-pinner', { durationSeconds: 3600 });
  const kubeconfig = await cluster.writeTokenKubeconfig('digest-pinner', token);
  log = testLog(join(cluster.logDir, 'webhook.log'));
  webhook = await startHostWebhook({
    cluster,
    log,
    args: [
      '--host', '127.0.0.1',
      '--tls-cert', serving.certFile,
      '--tls-key', serving.keyFile,
      '--kubeconfig', kubeconfig,
      '--skip-policy', POLICY,
      ...REGISTRIES.flatMap((registry) => ['--imageset-authoritative', registry]),
    ],
    poll: { timeoutMs: 60_000, context: () => log.text().slice(-3000) },
  });
  await applyManifests(cluster, portOf(webhook));
  // The policy as rendered, bound with the rendered paramRef, where the webhook is never called.
  const binding = readOne(join(MANIFESTS, 'validatingadmissionpolicybinding.yaml')) as { metadata: { name: string }; spec: { matchResources: object } };
  binding.metadata.name = 'e2e-skip-table';
  binding.spec.matchResources = { namespaceSelector: { matchLabels: { [POLICY_ONLY_LABEL]: 'policy' } } };
  await cluster.kubectlOk(['apply', '-f', '-'], { stdin: stringify(binding) });
  for (const [namespace, label] of [[WARN, 'digest-pinner.io/mode=warn'], [STRICT, 'digest-pinner.io/mode=strict'], [POLICY_ONLY, `${POLICY_ONLY_LABEL}=policy`]] as const) {
    await cluster.kubectlOk(['create', 'namespace', namespace]);
    await cluster.kubectlOk(['label', 'namespace', namespace, label]);
    // Pods need the namespace's default ServiceAccount, which kube-controller-manager creates.
    await eventually(`the default ServiceAccount of ${namespace}`, async () => ((await call('GET', `/api/v1/namespaces/${namespace}/serviceaccounts/default`)).status === 200 ? true : undefined));
  }
}, 240_000);

afterAll(async () => {
  await webhook?.close();
  await api?.close();
  await cluster.stop();
});

describe('the skip table, through the webhook and through the strict policy', () => {
  let applied: string | undefined;

  it.each(SKIP_TABLE.map((row, index) => [index + 1, row.why, row] as const))('%i. %s', async (_number, _why, row: SkipCase) => {
    if (applied !== row.patterns) {
      await useSkipList(row.patterns);
      applied = row.patterns;
    }
    const outcome = { webhook: await webhookSkips(row.image), policy: await policySkips(row.image), strict: await strictOutcome(row.image) };
    expect(outcome, `patterns ${visible(row.patterns)}, image ${row.image}`).toEqual({
      webhook: row.skipped,
      policy: row.skipped,
      strict: row.skipped ? 'admitted' : 'denied by the webhook',
    });
  });
});

describe("the strict policy's list", () => {
  it('has the lines both ignore named in the webhook log', async () => {
    await useSkipList('# Istio\nquay.io/team/app # ours\nghcr.io/x/[ab]\nquay.io/kept');
    const entry = log.lines().findLast((line) => line['msg'] === 'skip list loaded' && line['patterns'] === 2 && line['ignoredLines'] === 3);
    expect(entry).toMatchObject({ level: 'info', policy: POLICY });
    const warning = log.lines().filter((line) => typeof line['msg'] === 'string' && line['msg'].startsWith('skip-list lines ignored')).at(-1);
    expect(warning?.['ignored']).toEqual([
      { line: 3, text: 'quay.io/team/app # ours', reason: 'has " "' },
      { line: 4, text: 'ghcr.io/x/[ab]', reason: 'has "["' },
    ]);
    expect(warning?.['resourceVersion']).toBe(entry?.['resourceVersion']);
  });

  it(`is not used by the webhook, which says so, past ${MAX_SKIP_PATTERNS} patterns`, async () => {
    await useSkipList('quay.io/team/app');
    const patterns = Array.from({ length: MAX_SKIP_PATTERNS }, (_, i) => `registry.example.com/team-${i}/*`).join('\n');
    const written = await putSkipList(`quay.io/team/app\n${patterns}`);
    const refused = await eventually('the webhook to refuse the list', () => Promise.resolve(log.lines().find((line) => line['resourceVersion'] === written && line['level'] === 'error')));
    expect(refused['msg']).toBe(`skip list not used, no image is skipped: the skip list has ${MAX_SKIP_PATTERNS + 1} patterns, more than ${MAX_SKIP_PATTERNS}: the strict policy could exceed its CEL cost limit and deny Pods whose images the webhook skipped`);
    expect(await webhookSkips('quay.io/team/app:v2')).toBe(false);
  });

  it('may be read by the webhook, and no other policy (the ClusterRole names it)', async () => {
    const as = ['--as', 'system:serviceaccount:digest-pinner:digest-pinner'];
    for (const verb of ['get', 'list', 'watch']) {
      expect((await cluster.kubectl(['auth', 'can-i', verb, `validatingadmissionpolicies/${POLICY}`, ...as])).stdout.trim()).toBe('yes');
      expect((await cluster.kubectl(['auth', 'can-i', verb, 'validatingadmissionpolicies/other', ...as])).stdout.trim()).toBe('no');
    }
    expect((await cluster.kubectl(['auth', 'can-i', 'update', `validatingadmissionpolicies/${POLICY}`, ...as])).stdout.trim()).toBe('no');
  });

  it('is not read as a list unless it is one raw string literal, which the webhook says', async () => {
    await useSkipList('quay.io/team/app');
    const written = await putSkipList("quay.io/team/app''' + r'''ghcr.io/x");
    const refused = await eventually('the webhook to refuse the list', () => Promise.resolve(log.lines().find((line) => line['resourceVersion'] === written && line['level'] === 'error')));
    expect(refused['msg']).toBe(`skip list not used, no image is skipped: the policy's variable ${SKIP_LIST_VARIABLE} must be one raw string literal, r''' then one pattern per line then '''`);
    expect(await webhookSkips('quay.io/team/app:v2')).toBe(false);
  });

  it('once the policy is deleted, skips nothing in the webhook; once back, skips again', async () => {
    await useSkipList('quay.io/team/app');
    const policy = (await call('GET', POLICY_PATH)).body as unknown as Policy & { metadata: Record<string, unknown> };
    expect(await call('DELETE', POLICY_PATH).then((answer) => answer.status)).toBe(200);
    await eventually('the webhook to skip nothing', async () => ((await webhookSkips('quay.io/team/app:v2')) ? undefined : true));
    expect(await strictOutcome('quay.io/team/app:v2')).toBe('denied by the webhook');
    expect(log.lines().some((line) => line['msg'] === 'strict policy not found: no image is skipped')).toBe(true);
    const { name, labels } = policy.metadata;
    expect(await call('POST', '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies', { ...policy, metadata: { name, labels } })
      .then((answer) => answer.status)).toBe(201);
    await useSkipList('quay.io/team/app');
    expect(await webhookSkips('quay.io/team/app:v2')).toBe(true);
    expect(await strictOutcome('quay.io/team/app:v2')).toBe('admitted');
  });
});
