/**
 * charts/digest-pinner through the real Helm 4 and Helm 3 (built by
 * scripts/build-helm.sh): `helm lint --strict` and `helm template` for every
 * combination of values docs/helm.md lists, Helm 3 rendering each as Helm 4
 * does (text and comments); the schema refusing misspelled and mistyped values by name; and
 * manifests/ being the chart's rendering.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { find, type KubeObject } from '../manifests/load.js';
import { run } from '../harness/exec.js';
import { parseSkipPatterns, SKIP_LIST_VARIABLE, skipListLiteral } from '../../src/admission/index.js';
import { CHART_DIR, HELM_BUILD_TIMEOUT_MS, helmBinary, REPO_DIR, runHelm, type HelmMajor, type HelmResult } from '../harness/helm.js';

const NAMESPACE = 'digest-pinner';
const DIGEST = `sha256:${'a'.repeat(64)}`;
const packageVersion = (JSON.parse(readFileSync(join(REPO_DIR, 'package.json'), 'utf8')) as { version: string }).version;

const binaries = new Map<HelmMajor, string>();

beforeAll(async () => {
  const [helm4, helm3] = await Promise.all([helmBinary(4), helmBinary(3)]);
  binaries.set(4, helm4);
  binaries.set(3, helm3);
}, HELM_BUILD_TIMEOUT_MS);

function helm(major: HelmMajor, args: readonly string[]): Promise<HelmResult> {
  const binary = binaries.get(major);
  if (binary === undefined) throw new Error(`helm ${major} not built`);
  return runHelm(binary, args);
}

const templateArgs = (flags: readonly string[]): string[] => ['template', 'digest-pinner', CHART_DIR, '--namespace', NAMESPACE, ...flags];

async function render(major: HelmMajor, flags: readonly string[]): Promise<string> {
  const result = await helm(major, templateArgs(flags));
  if (result.code !== 0) throw new Error(`helm ${major} template ${flags.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

/**
 * Each object's text, comments included, sorted: Helm 4 ends each with a blank
 * line and Helm 3 does not, and they order kinds that Helm does not know apart.
 */
const documents = (rendered: string): string[] => rendered.split(/^---$/m).map((text) => text.trim()).sort();
const objectsOf = (rendered: string): KubeObject[] =>
  parseAllDocuments(rendered).map((document) => document.toJS() as KubeObject | null).filter((object) => object !== null);

interface Container {
  image: string;
  args: string[];
  env?: { name: string; value?: string }[];
  ports: { containerPort: number }[];
  resources: { limits?: Record<string, string> };
}
interface PodSpec {
  containers: Container[];
  hostNetwork?: boolean;
  dnsPolicy?: string;
  terminationGracePeriodSeconds: number;
  priorityClassName?: string;
  nodeSelector?: Record<string, string>;
  tolerations?: unknown[];
  imagePullSecrets?: unknown[];
  affinity?: unknown;
}
interface Selector { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values?: string[] }[] }
interface Webhook {
  name: string;
  failurePolicy: string;
  timeoutSeconds: number;
  rules: { resources: string[] }[];
  namespaceSelector: Selector;
  objectSelector: Selector;
  clientConfig: Record<string, unknown>;
}

const podSpec = (objects: KubeObject[]): PodSpec =>
  (find(objects, 'Deployment', 'digest-pinner') as KubeObject & { spec: { template: { spec: PodSpec } } }).spec.template.spec;
const container = (objects: KubeObject[]): Container => {
  const [first] = podSpec(objects).containers;
  if (first === undefined) throw new Error('no container');
  return first;
};
const webhooks = (objects: KubeObject[]): Webhook[] =>
  (find(objects, 'MutatingWebhookConfiguration', 'digest-pinner') as KubeObject & { webhooks: Webhook[] }).webhooks;
const kinds = (objects: KubeObject[]): string[] => objects.map((object) => `${object.kind}/${object.metadata.name}`).sort();
const nodeOptions = (objects: KubeObject[]): (string | undefined)[] =>
  (container(objects).env ?? []).filter((env) => env.name === 'NODE_OPTIONS').map((env) => env.value);
const flagValues = (objects: KubeObject[], name: string): string[] =>
  container(objects).args.filter((arg) => arg.startsWith(`--${name}=`)).map((arg) => arg.slice(name.length + 3));
const skipPatterns = (objects: KubeObject[]): readonly string[] => {
  const policy = find(objects, 'ValidatingAdmissionPolicy', 'digest-pinner-strict') as KubeObject & { spec: { variables: { name: string; expression: string }[] } };
  const list = policy.spec.variables.find((variable) => variable.name === SKIP_LIST_VARIABLE)?.expression ?? '';
  return parseSkipPatterns(skipListLiteral(list) ?? 'not a raw string literal').patterns;
};

/** What every rendering holds whatever the values. */
const ALWAYS = ['ClusterRole/digest-pinner', 'ClusterRoleBinding/digest-pinner', 'Deployment/digest-pinner',
  'MutatingWebhookConfiguration/digest-pinner', 'Role/digest-pinner-lease', 'RoleBinding/digest-pinner-lease', 'Service/digest-pinner',
  // Bound or not, it holds the skip list.
  'ValidatingAdmissionPolicy/digest-pinner-strict',
  'ServiceAccount/digest-pinner'];
const DEFAULTS = [...ALWAYS, 'CustomResourceDefinition/imagesets.digest-pinner.io', 'CustomResourceDefinition/ledgerentries.digest-pinner.io', 'CustomResourceDefinition/pinrecords.digest-pinner.io', 'NetworkPolicy/digest-pinner', 'PodDisruptionBudget/digest-pinner',
  'ValidatingAdmissionPolicyBinding/digest-pinner-strict'].sort();
const CERT_MANAGER = ['Certificate/digest-pinner-ca', 'Certificate/digest-pinner-tls', 'Issuer/digest-pinner-ca', 'Issuer/digest-pinner-selfsigned'];
const TEMPLATE_RULES = ['pods', 'pods/ephemeralcontainers', 'podtemplates,replicationcontrollers', 'deployments,statefulsets,daemonsets,replicasets',
  'jobs,cronjobs'];
const rules = (objects: KubeObject[]): string[][] => webhooks(objects).map((w) => w.rules.map((rule) => rule.resources.join(',')));

interface Combination {
  readonly name: string;
  readonly flags: readonly string[];
  readonly check: (objects: KubeObject[]) => void;
}

/** The combinations docs/helm.md lists, each with what its values must change. */
const COMBINATIONS: readonly Combination[] = [
  {
    name: 'defaults',
    flags: [],
    check: (objects) => {
      expect(kinds(objects)).toEqual(DEFAULTS);
      expect(container(objects).image).toBe(`ghcr.io/digest-pinner/digest-pinner:${packageVersion}`);
      expect(nodeOptions(objects)).toEqual(['--max-old-space-size=160']);
      expect(rules(objects)).toEqual([TEMPLATE_RULES, TEMPLATE_RULES]);
      expect(find(objects, 'CustomResourceDefinition', 'imagesets.digest-pinner.io').metadata.annotations)
        .toEqual({ 'helm.sh/resource-policy': 'keep' });
      expect(webhooks(objects).map((w) => w.clientConfig)).toEqual(['warn', 'strict'].map((mode) =>
        ({ service: { namespace: NAMESPACE, name: 'digest-pinner', path: `/mutate/${mode}`, port: 443 } })));
    },
  },
  {
    name: 'cert-manager',
    flags: ['--set', 'certificates.source=cert-manager'],
    check: (objects) => {
      expect(kinds(objects)).toEqual([...DEFAULTS, ...CERT_MANAGER].sort());
      expect(find(objects, 'MutatingWebhookConfiguration', 'digest-pinner').metadata.annotations)
        .toEqual({ 'cert-manager.io/inject-ca-from': `${NAMESPACE}/digest-pinner-tls` });
    },
  },
  {
    name: 'self-managed',
    flags: ['--set', 'certificates.source=self-managed'],
    check: (objects) => {
      expect(kinds(objects)).toEqual([...DEFAULTS, 'Role/digest-pinner-certificates', 'RoleBinding/digest-pinner-certificates', 'Secret/digest-pinner-tls'].sort());
      expect(flagValues(objects, 'tls-secret')).toEqual([`${NAMESPACE}/digest-pinner-tls`]);
      expect(flagValues(objects, 'tls-cert')).toEqual([]);
      expect(webhooks(objects).map((w) => w.clientConfig['caBundle'])).toEqual([undefined, undefined]);
    },
  },
  {
    name: 'pods-only',
    flags: ['--set', 'podsOnly=true'],
    check: (objects) => {
      expect(kinds(objects)).toEqual(DEFAULTS);
      expect(rules(objects)).toEqual([TEMPLATE_RULES.slice(0, 2), TEMPLATE_RULES.slice(0, 2)]);
    },
  },
  {
    name: 'cert-manager and pods-only',
    flags: ['--set', 'certificates.source=cert-manager', '--set', 'podsOnly=true'],
    check: (objects) => {
      expect(kinds(objects)).toEqual([...DEFAULTS, ...CERT_MANAGER].sort());
      expect(rules(objects)).toEqual([TEMPLATE_RULES.slice(0, 2), TEMPLATE_RULES.slice(0, 2)]);
    },
  },
  {
    name: 'validating policy off (and the strict entry failing closed, which it then requires)',
    flags: ['--set', 'validatingPolicy.enabled=false', '--set', 'webhook.strict.failurePolicy=Fail'],
    check: (objects) => {
      expect(kinds(objects)).toEqual(DEFAULTS.filter((key) => key !== 'ValidatingAdmissionPolicyBinding/digest-pinner-strict'));
      expect(webhooks(objects).map((w) => w.failurePolicy)).toEqual(['Ignore', 'Fail']);
    },
  },
  {
    name: 'a skip list',
    flags: ['--set-json', 'skip=["docker.io/istio/*","registry.example.com/team/**"]'],
    check: (objects) => {
      expect(skipPatterns(objects)).toEqual(['docker.io/istio/*', 'registry.example.com/team/**']);
      expect(flagValues(objects, 'skip')).toEqual([]);
      expect(flagValues(objects, 'skip-policy')).toEqual(['digest-pinner-strict']);
    },
  },
  {
    name: 'an image digest and tag',
    flags: ['--set', 'image.tag=1.2.3', '--set', `image.digest=${DIGEST}`, '--set', 'image.repository=registry.example.com/dp'],
    check: (objects) => {
      expect(container(objects).image).toBe(`registry.example.com/dp:1.2.3@${DIGEST}`);
    },
  },
  {
    name: 'a memory limit of 512Mi',
    flags: ['--set', 'resources.limits.memory=512Mi'],
    check: (objects) => {
      expect(container(objects).resources.limits).toEqual({ memory: '512Mi' });
      expect(nodeOptions(objects)).toEqual(['--max-old-space-size=320']);
    },
  },
  {
    name: 'a memory limit of 1Gi',
    flags: ['--set', 'resources.limits.memory=1Gi'],
    check: (objects) => {
      expect(nodeOptions(objects)).toEqual(['--max-old-space-size=640']);
    },
  },
  {
    name: 'a memory limit of 500M',
    // 500 000 000 bytes is 476 MiB (rounded down); 5/8 of it, 297.
    flags: ['--set', 'resources.limits.memory=500M'],
    check: (objects) => {
      expect(nodeOptions(objects)).toEqual(['--max-old-space-size=297']);
    },
  },
  {
    name: 'no memory limit',
    flags: ['--set', 'resources.limits=null'],
    check: (objects) => {
      expect(container(objects).resources.limits).toBeUndefined();
      expect(container(objects).env).toBeUndefined();
    },
  },
  {
    name: 'NODE_OPTIONS and a proxy in extraEnv',
    flags: ['--set-json', 'extraEnv=[{"name":"HTTPS_PROXY","value":"http://proxy:3128"},{"name":"NODE_OPTIONS","value":"--max-old-space-size=100"}]'],
    check: (objects) => {
      expect(container(objects).env).toEqual([{ name: 'HTTPS_PROXY', value: 'http://proxy:3128' },
        { name: 'NODE_OPTIONS', value: '--max-old-space-size=100' }]);
    },
  },
  {
    name: 'hostNetwork on port 9443',
    flags: ['--set', 'hostNetwork=true', '--set', 'port=9443'],
    check: (objects) => {
      expect(podSpec(objects)).toMatchObject({ hostNetwork: true, dnsPolicy: 'ClusterFirstWithHostNet' });
      expect(container(objects).ports).toEqual([{ name: 'https', containerPort: 9443, protocol: 'TCP' }, { name: 'metrics', containerPort: 9090, protocol: 'TCP' }]);
      expect(flagValues(objects, 'port')).toEqual(['9443']);
    },
  },
  {
    name: 'a Grafana dashboard',
    flags: ['--set', 'metrics.dashboard.enabled=true'],
    check: (objects) => {
      expect(kinds(objects)).toEqual([...DEFAULTS, 'ConfigMap/digest-pinner-dashboard'].sort());
      const configMap = find(objects, 'ConfigMap', 'digest-pinner-dashboard') as KubeObject & { data: Record<string, string> };
      // Grafana's sidecar loads ConfigMaps with this label.
      expect(configMap.metadata.labels?.['grafana_dashboard']).toBe('1');
      const dashboard = JSON.parse(configMap.data['digest-pinner.json'] ?? '') as { uid: string; panels: { title: string; targets: { expr: string }[] }[] };
      expect(dashboard.uid).toBe('digest-pinner');
      expect(dashboard.panels.filter((panel) => panel.targets.length === 0 || panel.targets.some((t) => t.expr === '')).map((p) => p.title)).toEqual([]);
    },
  },
  {
    name: 'metrics Service, ServiceMonitor and PrometheusRule',
    flags: ['--set', 'metrics.serviceMonitor.enabled=true', '--set', 'metrics.prometheusRule.enabled=true'],
    check: (objects) => {
      expect(kinds(objects)).toEqual([...DEFAULTS, 'PrometheusRule/digest-pinner', 'Service/digest-pinner-metrics',
        'ServiceMonitor/digest-pinner'].sort());
      const monitor = find(objects, 'ServiceMonitor', 'digest-pinner') as KubeObject & { spec: { selector: Selector; endpoints: unknown[] } };
      const service = find(objects, 'Service', 'digest-pinner-metrics');
      expect(service.metadata.labels).toMatchObject(monitor.spec.selector.matchLabels ?? {});
      expect(find(objects, 'Service', 'digest-pinner').metadata.labels).not.toMatchObject(monitor.spec.selector.matchLabels ?? {});
      // Plain HTTP on the metrics port: the scraper needs no webhook CA.
      expect((service as KubeObject & { spec: { ports: unknown[] } }).spec.ports).toEqual([{ name: 'metrics', port: 9090, targetPort: 'metrics', protocol: 'TCP' }]);
      expect(monitor.spec.endpoints).toEqual([{ port: 'metrics', scheme: 'http', path: '/metrics' }]);
    },
  },
  {
    name: 'the default NetworkPolicy: the webhook port from any source, nothing else',
    flags: [],
    check: (objects) => {
      const policy = find(objects, 'NetworkPolicy', 'digest-pinner') as KubeObject & { spec: { ingress: unknown[]; policyTypes: string[] } };
      expect(policy.spec.policyTypes).toEqual(['Ingress']);
      expect(policy.spec.ingress).toEqual([{ ports: [{ port: 'https', protocol: 'TCP' }] }]);
    },
  },
  {
    name: 'no NetworkPolicy',
    flags: ['--set', 'networkPolicy.enabled=false'],
    check: (objects) => {
      expect(kinds(objects)).toEqual(DEFAULTS.filter((key) => key !== 'NetworkPolicy/digest-pinner'));
    },
  },
  {
    name: 'a NetworkPolicy with webhookFrom and metrics',
    flags: ['--set', 'networkPolicy.enabled=true', '--set', 'metrics.service.enabled=true',
      '--set-json', 'networkPolicy.webhookFrom=[{"ipBlock":{"cidr":"10.0.0.0/24"}}]'],
    check: (objects) => {
      const policy = find(objects, 'NetworkPolicy', 'digest-pinner') as KubeObject & { spec: { ingress: unknown[] } };
      expect(policy.spec.ingress).toEqual([
        { ports: [{ port: 'https', protocol: 'TCP' }], from: [{ ipBlock: { cidr: '10.0.0.0/24' } }] },
        { ports: [{ port: 'metrics', protocol: 'TCP' }],
          from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }] },
      ]);
    },
  },
  {
    name: 'CRDs not installed',
    flags: ['--set', 'crds.install=false'],
    check: (objects) => {
      expect(kinds(objects)).toEqual(DEFAULTS.filter((key) => !key.startsWith('CustomResourceDefinition')));
    },
  },
  {
    name: 'CRDs not kept',
    flags: ['--set', 'crds.keep=false'],
    check: (objects) => {
      expect(find(objects, 'CustomResourceDefinition', 'imagesets.digest-pinner.io').metadata.annotations).toBeUndefined();
      expect(find(objects, 'CustomResourceDefinition', 'pinrecords.digest-pinner.io').metadata.annotations).toBeUndefined();
      expect(find(objects, 'CustomResourceDefinition', 'ledgerentries.digest-pinner.io').metadata.annotations).toBeUndefined();
    },
  },
  {
    name: 'one replica',
    flags: ['--set', 'replicas=1'],
    check: (objects) => {
      expect(kinds(objects)).toEqual(DEFAULTS.filter((key) => !key.startsWith('PodDisruptionBudget')));
    },
  },
  {
    name: 'other timeouts and failure policies',
    flags: ['--set', 'webhook.strict.timeoutSeconds=20', '--set', 'webhook.warn.timeoutSeconds=5', '--set', 'webhook.warn.failurePolicy=Fail',
      '--set', 'webhook.strict.failurePolicy=Fail'],
    check: (objects) => {
      expect(webhooks(objects).map((w) => [w.name, w.failurePolicy, w.timeoutSeconds]))
        .toEqual([['warn.digest-pinner.io', 'Fail', 5], ['strict.digest-pinner.io', 'Fail', 20]]);
      expect(flagValues(objects, 'deadline')).toEqual(['18s']);
      expect(podSpec(objects).terminationGracePeriodSeconds).toBe(40);
    },
  },
  {
    name: 'extra namespace and object selectors',
    flags: ['--set-json', 'namespaceSelector={"matchLabels":{"team":"a"},"matchExpressions":[{"key":"tier","operator":"NotIn","values":["dev"]}]}',
      '--set-json', 'objectSelector={"matchExpressions":[{"key":"pin","operator":"Exists"}]}'],
    check: (objects) => {
      const binding = find(objects, 'ValidatingAdmissionPolicyBinding', 'digest-pinner-strict') as KubeObject &
        { spec: { matchResources: { namespaceSelector: Selector; objectSelector: Selector } } };
      for (const selector of [...webhooks(objects).map((w) => w.namespaceSelector), binding.spec.matchResources.namespaceSelector]) {
        expect(selector.matchLabels).toEqual({ team: 'a' });
        expect(selector.matchExpressions?.map((e) => e.key)).toEqual(['digest-pinner.io/mode', 'kubernetes.io/metadata.name', 'tier']);
      }
      for (const selector of [...webhooks(objects).map((w) => w.objectSelector), binding.spec.matchResources.objectSelector]) {
        expect(selector).toEqual({ matchExpressions: [{ key: 'digest-pinner.io/skip', operator: 'NotIn', values: ['true'] },
          { key: 'pin', operator: 'Exists' }] });
      }
    },
  },
  {
    name: 'PinRecords off',
    flags: ['--set', 'rollout.records=false'],
    check: (objects) => {
      expect(container(objects).args).toContain('--no-pin-records');
      expect(objects.some((o) => o.kind === 'CustomResourceDefinition' && o.metadata.name === 'pinrecords.digest-pinner.io')).toBe(false);
      const role = find(objects, 'ClusterRole', 'digest-pinner') as KubeObject & { rules: { resources?: string[] }[] };
      expect(role.rules.flatMap((rule) => rule.resources ?? [])).not.toContain('pinrecords');
      expect(role.rules.flatMap((rule) => rule.resources ?? [])).not.toContain('controllerrevisions');
    },
  },
  {
    name: 'tag ledger off',
    flags: ['--set', 'rollout.ledger=false'],
    check: (objects) => {
      expect(container(objects).args).toContain('--no-tag-ledger');
      expect(flagValues(objects, 'tag-moves-ignore')).toEqual([]);
      expect(objects.some((o) => o.kind === 'CustomResourceDefinition' && o.metadata.name === 'ledgerentries.digest-pinner.io')).toBe(false);
      const role = find(objects, 'ClusterRole', 'digest-pinner') as KubeObject & { rules: { resources?: string[] }[] };
      expect(role.rules.flatMap((rule) => rule.resources ?? [])).not.toContain('ledgerentries');
    },
  },
  {
    name: 'tag ledger settings',
    flags: ['--set', 'rollout.verifyInterval=1h', '--set', 'rollout.ledgerMaxEntries=200', '--set-json', 'rollout.tagMovesIgnore=["nightly","*-rc*"]'],
    check: (objects) => {
      expect(flagValues(objects, 'ledger-verify-interval')).toEqual(['1h']);
      expect(flagValues(objects, 'ledger-max-entries')).toEqual(['200']);
      expect(flagValues(objects, 'tag-moves-ignore')).toEqual(['nightly', '*-rc*']);
    },
  },
  {
    name: 'extraArgs, pull secrets and scheduling',
    flags: ['--set-json', 'extraArgs=["--drop-tag","--log-level=debug"]', '--set-json', 'image.pullSecrets=[{"name":"regcred"}]',
      '--set', 'priorityClassName=system-cluster-critical', '--set', 'nodeSelector.kubernetes\\.io/os=linux',
      '--set-json', 'tolerations=[{"key":"dedicated","operator":"Exists","effect":"NoSchedule"}]', '--set', 'affinity=null'],
    check: (objects) => {
      expect(container(objects).args.slice(-2)).toEqual(['--drop-tag', '--log-level=debug']);
      expect(podSpec(objects)).toMatchObject({
        imagePullSecrets: [{ name: 'regcred' }],
        priorityClassName: 'system-cluster-critical',
        nodeSelector: { 'kubernetes.io/os': 'linux' },
        tolerations: [{ key: 'dedicated', operator: 'Exists', effect: 'NoSchedule' }],
      });
      expect(podSpec(objects).affinity).toBeUndefined();
    },
  },
];

describe.each(COMBINATIONS)('$name', ({ flags, check }) => {
  it('passes helm lint --strict with Helm 4 and Helm 3', async () => {
    const results = await Promise.all(([4, 3] as const).map((major) => helm(major, ['lint', '--strict', CHART_DIR, '--namespace', NAMESPACE,
      ...flags])));
    for (const result of results) expect(result.code, result.stdout + result.stderr).toBe(0);
  });

  it('renders the same objects and comments with Helm 3 as with Helm 4, with what the values ask for', async () => {
    const [helm4, helm3] = await Promise.all([render(4, flags), render(3, flags)]);
    expect(documents(helm3)).toEqual(documents(helm4));
    const objects = objectsOf(helm4);
    for (const object of objects) {
      const namespaced = object.metadata.namespace !== undefined;
      if (namespaced) expect(object.metadata.namespace, `${object.kind} ${object.metadata.name}`).toBe(NAMESPACE);
    }
    check(objects);
  });
});

describe('values.schema.json', () => {
  const refused = async (major: HelmMajor, flags: readonly string[]): Promise<string> => {
    const result = await helm(major, templateArgs(flags));
    expect(result.code, result.stdout).not.toBe(0);
    return result.stderr;
  };

  it.each([4, 3] as const)('Helm %i refuses a misspelled key, naming it', async (major) => {
    expect(await refused(major, ['--set', 'replica=3'])).toMatch(/additional propert(y|ies) 'replica' not allowed/);
    expect(await refused(major, ['--set', 'image.digets=sha256:0'])).toMatch(/at '\/image'.*additional propert(y|ies) 'digets' not allowed/);
  });

  it.each([4, 3] as const)('Helm %i refuses a mistyped value, naming its key', async (major) => {
    expect(await refused(major, ['--set', 'replicas=two'])).toMatch(/at '\/replicas': got string, want integer/);
    expect(await refused(major, ['--set', 'podsOnly=maybe'])).toMatch(/at '\/podsOnly': got string, want boolean/);
  });

  it.each([4, 3] as const)('Helm %i refuses values the templates could not honour, naming the key', async (major) => {
    expect(await refused(major, ['--set', 'resources.limits.memory=0.5Gi'])).toMatch(/at '\/resources\/limits\/memory'/);
    expect(await refused(major, ['--set', 'certificates.source=self-signed'])).toMatch(/at '\/certificates\/source'/);
    expect(await refused(major, ['--set', 'image.digest=sha256:abc'])).toMatch(/at '\/image\/digest'/);
    expect(await refused(major, ['--set-json', 'skip=["not a glob"]'])).toMatch(/at '\/skip\/0'/);
    expect(await refused(major, ['--set', 'webhook.strict.timeoutSeconds=60'])).toMatch(/at '\/webhook\/strict\/timeoutSeconds'/);
  });

  it.each([4, 3] as const)('Helm %i refuses a strict entry failing open without the policy that denies what it lets through', async (major) => {
    expect(await refused(major, ['--set', 'validatingPolicy.enabled=false'])).toContain(
      'webhook.strict.failurePolicy Ignore needs validatingPolicy.enabled: without the strict policy, nothing denies unpinned images while the webhook is unreachable. Set webhook.strict.failurePolicy=Fail');
  });
});

describe('the chart', () => {
  it("has package.json's version as its version and appVersion", () => {
    const chart = readFileSync(join(CHART_DIR, 'Chart.yaml'), 'utf8');
    expect(chart).toMatch(new RegExp(`^version: ${packageVersion.replaceAll('.', '\\.')}$`, 'm'));
    expect(chart).toMatch(new RegExp(`^appVersion: "${packageVersion.replaceAll('.', '\\.')}"$`, 'm'));
  });

  it('renders as manifests/ holds it (scripts/render-manifests.sh --check)', async () => {
    // Exits 1 with the diff on stdout when a file differs; run() then rejects with the script's message.
    await expect(run('bash', [join(REPO_DIR, 'scripts/render-manifests.sh'), '--check'])).resolves.toBe('');
  });
});
