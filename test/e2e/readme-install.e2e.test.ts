/**
 * The README's install commands, run as a new user runs them, against a real
 * kube-apiserver (cluster.ts): the sh blocks of its Install section, read from
 * the README itself (test/docs/markdown.ts), run by bash with the cached helm
 * and kubectl and the built digest-pinner on PATH: once with Helm and once with
 * the kustomize overlay, each on a cluster of its own. What the test changes is a
 * fixed table, printed first: paths (the commands run in a scratch folder, not in
 * a checkout), the images (test registries'), and the webhook's clientConfig:
 * kube-apiserver here has no kubelet or kube-proxy to reach a Pod, so the webhook
 * runs on the host with the installed Deployment's arguments and a certificate
 * from the harness CA. Then: every object installed is in the cluster, a Pod
 * made from the Deployment's template passes the restricted Pod Security level,
 * and Pods in a warn and in a strict namespace are stored pinned to the digest
 * the test registry holds.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { installBlocks, onlyBlock, packageVersion, read, README_IMAGE, REPO, shellCommands } from '../docs/markdown.js';
import '../helpers/registry-types.js';
import { onPath, run } from '../harness/exec.js';
import { CHART_DIR, HELM_BUILD_TIMEOUT_MS, HELM_FOLDERS, helmBinary, runHelm } from '../harness/helm.js';
import { testLog, type TestLog } from '../support/log.js';
import type { RunningServer } from '../../src/cli/serve.js';
import { startCluster, type Cluster } from './cluster.js';
import { eventually, portOf, startHostWebhook } from './host-webhook.js';
import { issueCertificate } from './pki.js';

const { plain } = inject('registries');
const { single } = plain.images;
/** In place of the README's nginx:1.27: an image whose digest the test registry reported. */
const APP = `${plain.host}/${single.repository}:${single.tag}`;
const PINNED = `${APP}@${single.digest}`;
/** In place of the README's image placeholder. */
const IMAGE = `${plain.host}/digest-pinner`;
const STRICT = 'demo-strict';
const ORIGINAL_IMAGES = 'digest-pinner.io/original-images';
const STEP_TIMEOUT_MS = 300_000;
const INSTALLS = ['helm', 'kustomize'] as const;

type Install = (typeof INSTALLS)[number];
type Step = 'image' | Install | 'certs' | 'opt-in';

const BLOCKS = installBlocks();
const README_BLOCKS: Readonly<Record<Step, string>> = {
  image: onlyBlock(BLOCKS, /scripts\/image\/push\.sh/),
  helm: onlyBlock(BLOCKS, /^helm install/m),
  kustomize: onlyBlock(BLOCKS, /kubectl apply -k/),
  certs: onlyBlock(BLOCKS, /^digest-pinner certs/m),
  'opt-in': onlyBlock(BLOCKS, /digest-pinner\.io\/mode=/),
};

/** The one command of `step`'s block that starts with `prefix`. */
function command(step: Step, prefix: string): string {
  const found = shellCommands(README_BLOCKS[step]).filter((line) => line.startsWith(prefix));
  if (found.length !== 1 || found[0] === undefined) throw new Error(`the README's ${step} block has ${found.length} commands starting "${prefix}", not one`);
  return found[0];
}

/** The value of `flag` (`--flag value`, `--flag=value` or `-n value`) in `line`. */
function flagValue(line: string, flag: string): string {
  const value = new RegExp(`(?:^|\\s)${flag}[= ](\\S+)`).exec(line)?.[1];
  if (value === undefined) throw new Error(`no ${flag} in: ${line}`);
  return value;
}

// The names the README's commands give, read from them rather than repeated here.
const CERTS = command('certs', 'digest-pinner certs');
const NAMESPACE = flagValue(CERTS, '--namespace');
const SERVICE = flagValue(CERTS, '--service');
const SECRET = flagValue(CERTS, '--secret');
const WEBHOOK = flagValue(CERTS, '--patch-webhook');
const PKI_DIR = flagValue(CERTS, '--out');
const ROLLOUT = command('opt-in', 'kubectl -n');
const DEPLOYMENT = /\bdeployment\/(\S+)/.exec(ROLLOUT)?.[1] ?? '';
const RUN = command('opt-in', 'kubectl run');
const WARN = flagValue(RUN, '-n');
const RELEASE = /^helm install (\S+)/.exec(command('helm', 'helm install'))?.[1] ?? '';
const OVERLAY = /^kubectl apply -k (\S+)$/.exec(command('kustomize', 'kubectl apply -k'))?.[1] ?? '';
/** docs/helm.md's command for the namespace `--create-namespace` makes plain. */
const HELM_NAMESPACE_LABEL = /`(kubectl label namespace \S+ pod-security\.kubernetes\.io\/enforce=restricted)`/.exec(read('docs/helm.md'))?.[1] ?? '';

/** One change to the README's text: every `from` in the blocks of `steps` becomes `to`. */
interface TextChange {
  readonly steps: readonly Step[];
  readonly from: string;
  readonly to: string;
  readonly why: string;
}

/** The changes the test makes to the README's text, and no others; `root` holds the scratch folder of each install. */
function textChanges(root: string): TextChange[] {
  return [
    { steps: ['helm'], from: 'charts/digest-pinner', to: CHART_DIR, why: 'the commands run in a scratch folder, not in a checkout' },
    // Any folder one level below a scratch folder: where the overlay is.
    { steps: ['kustomize'], from: '../manifests', to: relative(join(root, 'helm', 'overlay'), join(REPO, 'manifests')),
      why: 'the same, and relative: kustomize refuses an absolute path to a kustomization' },
    { steps: ['image', 'helm', 'kustomize'], from: README_IMAGE, to: IMAGE,
      why: 'a test registry\'s name; no kubelet pulls it here (test/image/ builds, runs and pushes the image)' },
    { steps: ['certs'], from: 'npm ci && npm run build && npm install -g .', to: `npm --prefix ${resolve(REPO)} run build`,
      why: 'digest-pinner on PATH is a link to dist/main.js, as npm install -g . makes; npm ci would replace the node_modules this test runs from' },
    { steps: ['opt-in'], from: ROLLOUT, to: `${ROLLOUT} --watch=false`,
      why: 'no kubelet runs the Pods, so the rollout never ends: this prints its state (the webhook runs on the host instead)' },
    { steps: ['opt-in'], from: 'nginx:1.27', to: APP, why: 'Docker Hub is out of reach; a test registry\'s image, whose digest the test knows' },
  ];
}

/** What the test does beside the README's commands, printed with the text changes. */
const ACTIONS = [
  'image: not run (root, buildah and minutes; test/image/ builds, runs and pushes the image). Checked instead: each command\'s program '
    + 'exists (sudo aside), and push.sh accepts the destination (it stops at "no image" in an empty output folder).',
  'helm: docs/helm.md\'s command labels the namespace for the restricted Pod Security level (--create-namespace makes a plain one).',
  'after certs: digest-pinner serve runs in the test process with the installed Deployment\'s args, except --port (a free one) and '
    + '--tls-cert/--tls-key (for 127.0.0.1, from the harness CA), plus --host 127.0.0.1, --kubeconfig (a token of the Deployment\'s '
    + 'ServiceAccount) and --insecure-registry (the test registry speaks plain HTTP); its env (NODE_OPTIONS) is not applied.',
  `after certs: the clientConfig of each entry of MutatingWebhookConfiguration ${WEBHOOK}, service ${NAMESPACE}/${SERVICE} with the caBundle `
    + 'certs set, becomes url https://127.0.0.1:<that webhook\'s port><same path> with the harness CA: kube-apiserver here has no kubelet '
    + 'or kube-proxy to reach a Pod.',
  'opt-in: before kubectl run, the test waits until a server-side dry run in that namespace comes back pinned: kube-controller-manager '
    + 'creates its default ServiceAccount, and kube-apiserver\'s informer sees its new label, a moment after the commands that cause them.',
];

/** `step`'s README block with the text changes made; throws when one no longer finds its text. */
function changed(step: Step, changes: readonly TextChange[]): string {
  let text = README_BLOCKS[step];
  for (const change of changes.filter((entry) => entry.steps.includes(step))) {
    if (!text.includes(change.from)) throw new Error(`the README's ${step} block no longer has "${change.from}": update this test's table`);
    text = text.replaceAll(change.from, change.to);
  }
  return text;
}

interface Container {
  name: string;
  image: string;
  args?: string[];
  volumeMounts?: { mountPath: string }[];
  securityContext?: unknown;
}

interface PodSpec {
  serviceAccountName?: string;
  securityContext?: unknown;
  containers: Container[];
  volumes?: { secret?: { secretName: string } }[];
}

interface Deployment {
  spec: { template: { metadata: { labels?: Record<string, string> }; spec: PodSpec } };
}

interface Pod {
  metadata: { annotations?: Record<string, string> };
  spec: PodSpec;
}

interface ServiceReference {
  namespace: string;
  name: string;
  path?: string;
}

interface WebhookConfiguration {
  webhooks: { name: string; clientConfig: { service?: ServiceReference; url?: string; caBundle?: string } }[];
}

interface TlsSecret {
  type: string;
  data: Record<string, string>;
}

let root: string;
let binDir: string;
let helm: string;
let changes: TextChange[];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'digest-pinner-readme-'));
  binDir = join(root, 'bin');
  await mkdir(binDir);
  helm = await helmBinary(4);
  await symlink(helm, join(binDir, 'helm'));
  await symlink(join(inject('kube').binDir, 'kubectl'), join(binDir, 'kubectl'));
  await symlink(join(REPO, 'dist/main.js'), join(binDir, 'digest-pinner'));
  changes = textChanges(root);
  console.log([
    'The README\'s install blocks run with these changes and no others:',
    ...changes.map((change) => `  ${change.steps.join(', ')}: "${change.from}" → "${change.to}" (${change.why})`),
    ...ACTIONS.map((action) => `  ${action}`),
  ].join('\n'));
}, HELM_BUILD_TIMEOUT_MS);

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("the README's image block", () => {
  it('is not run; every program it calls exists, and push.sh takes its destination', async () => {
    const commands = shellCommands(changed('image', changes));
    expect(commands.length).toBeGreaterThan(0);
    for (const line of commands) {
      const program = line.replace(/^sudo /, '').split(' ')[0] ?? '';
      if (program.includes('/')) await expect(access(join(REPO, program), constants.X_OK), line).resolves.toBeUndefined();
      else expect(await onPath(program), `${program} on PATH`).toBe(true);
    }
    const destination = commands.find((line) => line.startsWith('scripts/image/push.sh '))?.split(' ')[1] ?? '';
    expect(destination).toBe(`docker://${IMAGE}:${packageVersion()}`);
    const empty = join(root, 'no-image');
    await mkdir(empty);
    // Past its usage check (exit 2), push.sh looks for what build.sh made.
    await expect(run(join(REPO, 'scripts/image/push.sh'), [destination], { env: { ...process.env, DP_IMAGE_OUT: empty } }))
      .rejects.toThrow(`no image in ${empty}: run scripts/image/build.sh first`);
  });
});

describe.each(INSTALLS)('the README installed with %s', (install) => {
  let cluster: Cluster;
  let cwd: string;
  let env: NodeJS.ProcessEnv;
  let webhook: RunningServer | undefined;
  let log: TestLog | undefined;
  const logTail = (): string => log?.text().slice(-3000) ?? '';

  /** Runs `script` with bash as a user's shell would, stopping at the first failure; resolves with its stdout. */
  async function runScript(name: string, script: string): Promise<string> {
    const file = join(cwd, `${name.replace(/\W+/g, '-')}.sh`);
    await writeFile(file, script);
    const started = Date.now();
    const stdout = await run('bash', ['-euxo', 'pipefail', file], { cwd, env, timeoutMs: STEP_TIMEOUT_MS });
    console.log(`[${install}] ${name}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return stdout;
  }

  async function getJson<T>(args: readonly string[]): Promise<T> {
    return JSON.parse(await cluster.kubectlOk([...args, '-o', 'json'])) as T;
  }

  /** What Helm installed as the README's release. */
  async function helmManifest(): Promise<string> {
    const result = await runHelm(helm, ['get', 'manifest', RELEASE, '--namespace', NAMESPACE, '--kubeconfig', cluster.kubeconfigPath]);
    if (result.code !== 0) throw new Error(`helm get manifest ${RELEASE} exited ${result.code}: ${result.stderr}`);
    return result.stdout;
  }

  const deployment = (): Promise<Deployment> => getJson<Deployment>(['get', 'deployment', DEPLOYMENT, '-n', NAMESPACE]);

  /** True once a server-side dry run of a Pod in `namespace` comes back pinned. */
  async function pinnedOnDryRun(namespace: string): Promise<true | undefined> {
    const result = await cluster.kubectl(['run', 'probe', '-n', namespace, `--image=${APP}`, '--dry-run=server', '-o', 'json']);
    if (result.code !== 0) return undefined;
    return (JSON.parse(result.stdout) as Pod).spec.containers[0]?.image === PINNED ? true : undefined;
  }

  const untilPinned = (namespace: string): Promise<true> =>
    eventually(`a dry run in ${namespace} to come back pinned`, () => pinnedOnDryRun(namespace), { timeoutMs: 60_000, context: logTail });

  beforeAll(async () => {
    cluster = await startCluster();
    cwd = join(root, install);
    await mkdir(cwd);
    env = { ...process.env, ...HELM_FOLDERS, KUBECONFIG: cluster.kubeconfigPath,
      PATH: [binDir, dirname(process.execPath), process.env['PATH'] ?? ''].join(':') };
  });

  afterAll(async () => {
    await webhook?.close();
    await cluster.stop();
  });

  it('installs: every object it renders is in the cluster, and the Deployment names the image', async () => {
    await runScript(install, changed(install, changes));
    const rendered = install === 'helm' ? await helmManifest() : await cluster.kubectlOk(['kustomize', join(cwd, OVERLAY)]);
    const objects = parseAllDocuments(rendered).map((doc) => doc.toJS() as unknown).filter((doc) => doc !== null);
    expect(objects.length).toBeGreaterThan(0);
    // Without --ignore-not-found, one missing object fails the get.
    const found = await cluster.kubectlOk(['get', '-f', '-', '-o', 'name'], { stdin: rendered });
    expect(found.trim().split('\n')).toHaveLength(objects.length);
    expect((await deployment()).spec.template.spec.containers.map((container) => container.image)).toEqual([`${IMAGE}:${packageVersion()}`]);
  }, STEP_TIMEOUT_MS);

  it('makes the certificate: the Secret the Pods mount, signed by the CA that is the caBundle of every webhook', async () => {
    await runScript('certs', changed('certs', changes));
    const ca = new X509Certificate(await readFile(join(cwd, PKI_DIR, 'ca.crt')));
    const secret = await getJson<TlsSecret>(['get', 'secret', SECRET, '-n', NAMESPACE]);
    expect(secret.type).toBe('kubernetes.io/tls');
    const served = new X509Certificate(Buffer.from(secret.data['tls.crt'] ?? '', 'base64'));
    expect(served.verify(ca.publicKey)).toBe(true);
    expect(served.checkHost(`${SERVICE}.${NAMESPACE}.svc`)).toBe(`${SERVICE}.${NAMESPACE}.svc`);
    expect(served.checkPrivateKey(createPrivateKey(Buffer.from(secret.data['tls.key'] ?? '', 'base64')))).toBe(true);
    const volumes = (await deployment()).spec.template.spec.volumes ?? [];
    expect(volumes.map((volume) => volume.secret?.secretName)).toContain(SECRET);
    const config = await getJson<WebhookConfiguration>(['get', 'mutatingwebhookconfiguration', WEBHOOK]);
    expect(config.webhooks.length).toBeGreaterThan(0);
    for (const entry of config.webhooks) {
      expect(new X509Certificate(Buffer.from(entry.clientConfig.caBundle ?? '', 'base64')).fingerprint256, entry.name).toBe(ca.fingerprint256);
    }
  }, STEP_TIMEOUT_MS);

  it('runs the Deployment\'s webhook on the host, behind the installed configuration (the clientConfig change)', async () => {
    const { spec } = (await deployment()).spec.template;
    const [container] = spec.containers;
    const [serve, ...args] = container?.args ?? [];
    expect(serve).toBe('serve');
    expect(args.filter((arg) => /^--(port|tls-cert|tls-key)=/.test(arg)).map((arg) => arg.split('=')[0]).sort()).toEqual(['--port', '--tls-cert', '--tls-key']);
    const served = await issueCertificate(cluster.pki.ca, { name: 'webhook', commonName: SERVICE, usage: 'server', altNames: ['IP:127.0.0.1'] });
    const kept = args.filter((arg) => !/^--(port|tls-cert|tls-key)=/.test(arg));
    const containerPaths = (container?.volumeMounts ?? []).map((mount) => mount.mountPath);
    expect(kept.filter((arg) => containerPaths.some((path) => arg.includes(path))), 'other args naming files in the container').toEqual([]);
    const token = await cluster.createServiceAccountToken(NAMESPACE, spec.serviceAccountName ?? 'default', { durationSeconds: 3600 });
    const kubeconfig = await cluster.writeTokenKubeconfig('webhook', token);
    log = testLog(join(cluster.logDir, 'webhook.log'));
    webhook = await startHostWebhook({ cluster, log, poll: { timeoutMs: 60_000, context: logTail },
      args: [...kept, '--tls-cert', served.certFile, '--tls-key', served.keyFile, '--host', '127.0.0.1', '--kubeconfig', kubeconfig, '--insecure-registry', plain.host] });

    const config = await getJson<WebhookConfiguration>(['get', 'mutatingwebhookconfiguration', WEBHOOK]);
    const caBundle = (await readFile(cluster.caFile)).toString('base64');
    const port = portOf(webhook);
    const patch = config.webhooks.map((entry, index) => {
      expect(entry.clientConfig.service, entry.name).toMatchObject({ namespace: NAMESPACE, name: SERVICE });
      return { op: 'replace', path: `/webhooks/${index}/clientConfig`, value: { url: `https://127.0.0.1:${port}${entry.clientConfig.service?.path ?? '/'}`, caBundle } };
    });
    await cluster.kubectlOk(['patch', 'mutatingwebhookconfiguration', WEBHOOK, '--type=json', '-p', JSON.stringify(patch)]);
  }, STEP_TIMEOUT_MS);

  it('opts a namespace in: the dry run prints the pinned image and the annotation the README shows', async () => {
    const lines = changed('opt-in', changes).split('\n');
    const at = lines.findIndex((line) => line.startsWith('kubectl run '));
    await runScript('opt-in', lines.slice(0, at).join('\n'));
    await untilPinned(WARN);
    const tail = lines.slice(at);
    const printed = await runScript('opt-in, kubectl run', tail.join('\n'));
    const shown = tail.filter((line) => line.startsWith('#')).map((line) => line.replace(/^#\s*/, '').replace('sha256:…', single.digest));
    expect(shown.length).toBeGreaterThan(0);
    expect(printed.split('\n').map((line) => line.trim()).filter((line) => line !== '')).toEqual(shown);
  }, STEP_TIMEOUT_MS);

  it("passes the restricted Pod Security level with a Pod made from the Deployment's template (server-side dry run)", async () => {
    if (install === 'helm') {
      expect(HELM_NAMESPACE_LABEL, 'docs/helm.md names the command').not.toBe('');
      await runScript('docs/helm.md pod security label', HELM_NAMESPACE_LABEL);
    }
    const enforced = await cluster.kubectlOk(['get', 'namespace', NAMESPACE, '-o', 'jsonpath={.metadata.labels.pod-security\\.kubernetes\\.io/enforce}']);
    expect(enforced).toBe('restricted');
    const { template } = (await deployment()).spec;
    const pod = (spec: PodSpec): string => JSON.stringify({ apiVersion: 'v1', kind: 'Pod',
      metadata: { name: 'from-template', namespace: NAMESPACE, labels: template.metadata.labels }, spec });
    const dryRun = (spec: PodSpec): ReturnType<Cluster['kubectl']> =>
      cluster.kubectl(['create', '--dry-run=server', '-o', 'name', '-f', '-'], { stdin: pod(spec) });

    const admitted = await dryRun(template.spec);
    expect(admitted.code, admitted.stderr).toBe(0);
    expect(admitted.stderr).toBe('');
    // The level is enforced there: the same Pod without its security contexts is refused.
    const bare = { ...template.spec, securityContext: undefined,
      containers: template.spec.containers.map((container) => ({ ...container, securityContext: undefined })) };
    const refused = await dryRun(bare);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('violates PodSecurity "restricted:latest"');
  }, STEP_TIMEOUT_MS);

  it.each([['warn', WARN], ['strict', STRICT]] as const)('stores a Pod pinned in a %s namespace', async (mode, namespace) => {
    if (mode === 'strict') {
      await cluster.kubectlOk(['create', 'namespace', namespace]);
      await cluster.kubectlOk(['label', 'namespace', namespace, `digest-pinner.io/mode=${mode}`]);
    }
    await untilPinned(namespace);
    await cluster.kubectlOk(['run', 'stored', '-n', namespace, `--image=${APP}`]);
    const stored = await getJson<Pod>(['get', 'pod', 'stored', '-n', namespace]);
    expect(stored.spec.containers.map((container) => container.image)).toEqual([PINNED]);
    expect(JSON.parse(stored.metadata.annotations?.[ORIGINAL_IMAGES] ?? '{}')).toEqual({ 'containers/stored': APP });
  }, STEP_TIMEOUT_MS);
});
