/**
 * manifests/ as plain YAML: the chart rendered by scripts/render-manifests.sh
 * (test/chart checks that it is exactly that). The kustomizations list exactly
 * the files there, one object per file, and the objects hold the invariants
 * the webhook relies on. CEL is not evaluated here (there is no CEL engine in
 * Node), only the regular expression the strict policy's digest check is made
 * of: manifests.e2e.test.ts runs the expressions in a real kube-apiserver.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { POD_SPEC_KINDS } from '../../src/workload/kinds.js';
import { parseDuration } from '../../src/duration.js';
import { RESPONSE_MARGIN_MS } from '../../src/server/deadline.js';
import { DEFAULT_DEADLINE_MS } from '../../src/cli/serve.js';
import { DIGEST_VECTORS } from '../reference/digest-vectors.js';
import { parseSkipPatterns, SKIP_LIST_VARIABLE, skipListLiteral } from '../../src/admission/index.js';
import {
  allFiles, find, kustomizationDirs, MANIFESTS_DIR, objectsOf, readDocuments, readKustomization, referencedPaths, type KubeObject,
} from './load.js';

const NAMESPACE = 'digest-pinner';
const MODE_LABEL = 'digest-pinner.io/mode';
const OPT_OUT_LABEL = 'digest-pinner.io/skip';
const TLS_SECRET = 'digest-pinner-tls';
const TLS_DIR = '/etc/digest-pinner/tls';
const EXCLUDED_NAMESPACES = ['kube-system', NAMESPACE];

/** Where each kind of kinds.ts is served: the webhook's rules must name exactly these. */
const RESOURCE_OF_KIND: Readonly<Record<string, { group: string; resource: string }>> = {
  Pod: { group: '', resource: 'pods' },
  PodTemplate: { group: '', resource: 'podtemplates' },
  ReplicationController: { group: '', resource: 'replicationcontrollers' },
  Deployment: { group: 'apps', resource: 'deployments' },
  StatefulSet: { group: 'apps', resource: 'statefulsets' },
  DaemonSet: { group: 'apps', resource: 'daemonsets' },
  ReplicaSet: { group: 'apps', resource: 'replicasets' },
  Job: { group: 'batch', resource: 'jobs' },
  CronJob: { group: 'batch', resource: 'cronjobs' },
};

interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

interface Rule {
  apiGroups: string[];
  apiVersions: string[];
  operations: string[];
  resources: string[];
  scope?: string;
}

interface Webhook {
  name: string;
  clientConfig: { caBundle?: string; url?: string; service?: { namespace: string; name: string; path: string; port: number } };
  failurePolicy: string;
  rules: Rule[];
  matchPolicy: string;
  namespaceSelector: LabelSelector;
  objectSelector: LabelSelector;
  matchConditions?: { name: string; expression: string }[];
  sideEffects: string;
  admissionReviewVersions: string[];
  reinvocationPolicy: string;
  timeoutSeconds: number;
}

interface MutatingWebhookConfiguration extends KubeObject {
  webhooks: Webhook[];
}

interface Probe {
  httpGet: { path: string; port: string | number; scheme: string };
}

interface Container {
  name: string;
  image: string;
  args: string[];
  ports: { name: string; containerPort: number }[];
  readinessProbe: Probe;
  livenessProbe: Probe;
  lifecycle?: { preStop?: { sleep?: { seconds: number } } };
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  securityContext: Record<string, unknown> & { capabilities?: { drop?: string[] } };
  volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
}

interface PodTemplate {
  metadata: { labels: Record<string, string> };
  spec: {
    serviceAccountName: string;
    automountServiceAccountToken: boolean;
    terminationGracePeriodSeconds: number;
    securityContext: Record<string, unknown>;
    affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: { podAffinityTerm: { topologyKey: string;
      labelSelector: LabelSelector } }[] } };
    containers: Container[];
    volumes: { name: string; secret?: { secretName: string } }[];
  };
}

interface Deployment extends KubeObject {
  spec: { replicas: number; selector: LabelSelector; template: PodTemplate };
}

interface Service extends KubeObject {
  spec: { selector: Record<string, string>; ports: { name: string; port: number; targetPort: string }[] };
}

interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

const base = objectsOf('');
const mwc = find(base, 'MutatingWebhookConfiguration', 'digest-pinner') as MutatingWebhookConfiguration;
const deployment = find(base, 'Deployment', 'digest-pinner') as Deployment;
const podSpec = deployment.spec.template.spec;
const container = podSpec.containers[0]!;

function webhook(name: string): Webhook {
  const found = mwc.webhooks.find((w) => w.name === name);
  if (found === undefined) throw new Error(`no webhook ${name}`);
  return found;
}

/** One `group/resource OPERATION` string per combination a rule list selects. */
function selected(rules: readonly Rule[]): string[] {
  return rules.flatMap((rule) => rule.apiGroups.flatMap((group) =>
    rule.resources.flatMap((resource) => rule.operations.map((operation) => `${group}/${resource} ${operation}`)))).sort();
}

function expression(selector: LabelSelector, key: string): { operator: string; values?: string[] } | undefined {
  return selector.matchExpressions?.find((e) => e.key === key);
}

/** `--name=value` or `--name value` from an argument list. */
function flag(args: readonly string[], name: string): string | undefined {
  const index = args.findIndex((arg) => arg === `--${name}` || arg.startsWith(`--${name}=`));
  if (index === -1) return undefined;
  const arg = args[index]!;
  return arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : args[index + 1];
}

describe('kustomizations', () => {
  const dirs = kustomizationDirs();

  it('are the root (default values) and the three variants', () => {
    expect(dirs.sort()).toEqual(['', 'cert-manager', 'pods-only', 'self-managed']);
  });

  it.each(dirs)('%j lists only files and directories that exist', (dir) => {
    const { resources, patches } = referencedPaths(dir);
    for (const path of [...resources, ...patches]) {
      const full = join(MANIFESTS_DIR, path);
      expect(existsSync(full) && (path.endsWith('.yaml') || existsSync(join(full, 'kustomization.yaml'))), path).toBe(true);
    }
  });

  it('between them list every YAML file under manifests/, each once', () => {
    const listed = dirs.flatMap((dir) => {
      const { resources, patches } = referencedPaths(dir);
      return [...resources, ...patches].filter((path) => path.endsWith('.yaml'));
    });
    const yamlFiles = allFiles().filter((file) => file.endsWith('.yaml') && !file.endsWith('kustomization.yaml'));
    expect(listed.sort()).toEqual(yamlFiles.sort());
    expect(new Set(listed).size).toBe(listed.length);
  });

  it.each(dirs)('%j lists the files of its own folder and nothing else: no patches, each variant a whole rendering', (dir) => {
    const kustomization = readKustomization(dir);
    expect(Object.keys(kustomization).sort()).toEqual(['apiVersion', 'kind', 'resources']);
    for (const path of referencedPaths(dir).resources) expect(join(path, '..')).toBe(dir === '' ? '.' : dir);
  });
});

describe('files', () => {
  it.each(allFiles().filter((file) => file.endsWith('.yaml')))('%s holds one YAML document', (file) => {
    expect(readDocuments(join(MANIFESTS_DIR, file))).toHaveLength(1);
  });

  it('every object has apiVersion, kind and name, and namespaced ones are in digest-pinner', () => {
    const clusterScoped = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'MutatingWebhookConfiguration',
      'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding', 'CustomResourceDefinition']);
    for (const object of [...base, ...objectsOf('cert-manager'), ...objectsOf('pods-only'), ...objectsOf('self-managed')]) {
      expect(object.apiVersion, object.kind).toMatch(/\S/);
      expect(object.metadata.name).toMatch(/\S/);
      expect(object.metadata.namespace, `${object.kind} ${object.metadata.name}`).toBe(clusterScoped.has(object.kind) ? undefined : NAMESPACE);
    }
  });

  it('no two objects share a kind and name', () => {
    const keys = base.map((object) => `${object.kind}/${object.metadata.name}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('the base holds no Secret: the TLS Secret comes from `digest-pinner certs` or cert-manager', () => {
    expect(base.filter((object) => object.kind === 'Secret')).toEqual([]);
  });
});

describe('Namespace', () => {
  it('carries no mode label, so the webhook is never sent its own Pods', () => {
    const namespace = find(base, 'Namespace', NAMESPACE);
    expect(namespace.metadata.labels?.[MODE_LABEL]).toBeUndefined();
  });
});

describe('MutatingWebhookConfiguration', () => {
  const entries = [
    { name: 'warn.digest-pinner.io', mode: 'warn', path: '/mutate/warn', failurePolicy: 'Ignore' },
    // Fails open: the strict policy denies what is not pinned (docs/upgrade.md: uninstalling with Helm 3).
    { name: 'strict.digest-pinner.io', mode: 'strict', path: '/mutate/strict', failurePolicy: 'Ignore' },
  ];

  it('has exactly the warn and strict entries', () => {
    expect(mwc.webhooks.map((w) => w.name)).toEqual(entries.map((e) => e.name));
  });

  describe.each(entries)('$name', ({ name, mode, path, failurePolicy }) => {
    const entry = webhook(name);

    it(`calls ${path} on the Service, port 443, without a caBundle (cainjector or \`digest-pinner certs\` sets it)`, () => {
      expect(entry.clientConfig).toEqual({ service: { namespace: NAMESPACE, name: 'digest-pinner', path, port: 443 } });
    });

    it(`has failurePolicy ${failurePolicy}`, () => {
      expect(entry.failurePolicy).toBe(failurePolicy);
    });

    it(`selects namespaces labelled ${MODE_LABEL}=${mode}, never kube-system or its own`, () => {
      expect(entry.namespaceSelector.matchLabels).toBeUndefined();
      expect(expression(entry.namespaceSelector, MODE_LABEL)).toEqual({ key: MODE_LABEL, operator: 'In', values: [mode] });
      expect(expression(entry.namespaceSelector, 'kubernetes.io/metadata.name'))
        .toEqual({ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: EXCLUDED_NAMESPACES });
      expect(entry.namespaceSelector.matchExpressions).toHaveLength(2);
    });

    it(`lets a workload opt out with ${OPT_OUT_LABEL}: "true"`, () => {
      expect(entry.objectSelector).toEqual({ matchExpressions: [{ key: OPT_OUT_LABEL, operator: 'NotIn', values: ['true'] }] });
    });

    it('selects CREATE and UPDATE of exactly the kinds of kinds.ts, and UPDATE of pods/ephemeralcontainers', () => {
      const expected = POD_SPEC_KINDS.flatMap((kind) => {
        const where = RESOURCE_OF_KIND[kind];
        if (where === undefined) throw new Error(`kinds.ts has ${kind}: add it to RESOURCE_OF_KIND and to the webhook's rules`);
        return ['CREATE', 'UPDATE'].map((operation) => `${where.group}/${where.resource} ${operation}`);
      });
      expect(selected(entry.rules)).toEqual([...expected, '/pods/ephemeralcontainers UPDATE'].sort());
      for (const rule of entry.rules) {
        expect(rule.apiVersions).toEqual(['v1']);
        expect(rule.scope).toBe('Namespaced');
      }
    });

    it('is sent requests made through any equivalent version (matchPolicy: Equivalent)', () => {
      expect(entry.matchPolicy).toBe('Equivalent');
    });

    it('leaves controller-owned templates out with a matchCondition that tolerates a null object', () => {
      expect(entry.matchConditions).toHaveLength(1);
      const condition = entry.matchConditions?.[0]?.expression ?? '';
      expect(condition).toMatch(/^object != null && \(/);
      expect(condition).toContain("request.kind.kind == 'Pod'");
      expect(condition).toContain('!has(object.metadata.ownerReferences)');
      expect(condition).toContain('ownerReferences.exists(r, has(r.controller) && r.controller)');
    });

    it('has sideEffects NoneOnDryRun, admissionReviewVersions [v1] and reinvocationPolicy IfNeeded', () => {
      expect(entry.sideEffects).toBe('NoneOnDryRun');
      expect(entry.admissionReviewVersions).toEqual(['v1']);
      expect(entry.reinvocationPolicy).toBe('IfNeeded');
    });

    it("has a timeoutSeconds between 10 and 15 that leaves serve's --deadline and its response margin inside it", () => {
      expect(entry.timeoutSeconds).toBeGreaterThanOrEqual(10);
      expect(entry.timeoutSeconds).toBeLessThanOrEqual(15);
      const deadlineFlag = flag(container.args, 'deadline');
      const deadlineMs = deadlineFlag === undefined ? DEFAULT_DEADLINE_MS : parseDuration(deadlineFlag);
      expect(deadlineMs).toBeDefined();
      expect((deadlineMs ?? Infinity) + RESPONSE_MARGIN_MS).toBeLessThanOrEqual(entry.timeoutSeconds * 1000);
    });
  });

  it('entries differ only in name, path, mode and failurePolicy', () => {
    const common = (w: Webhook): unknown => {
      const copy = structuredClone(w) as Partial<Webhook>;
      delete copy.name;
      delete copy.failurePolicy;
      delete copy.clientConfig;
      delete copy.namespaceSelector;
      return copy;
    };
    const [warn, strict] = mwc.webhooks;
    expect(common(warn!)).toEqual(common(strict!));
  });
});

describe('ValidatingAdmissionPolicy (strict namespaces)', () => {
  interface Policy extends KubeObject {
    spec: {
      failurePolicy: string;
      paramKind?: unknown;
      matchConstraints: { matchPolicy: string; resourceRules: Rule[] };
      variables: { name: string; expression: string }[];
      validations: { expression: string; messageExpression?: string; message?: string; reason?: string }[];
    };
  }
  interface Binding extends KubeObject {
    spec: {
      policyName: string;
      validationActions: string[];
      paramRef?: unknown;
      matchResources: { namespaceSelector: LabelSelector; objectSelector: LabelSelector };
    };
  }
  const policy = find(base, 'ValidatingAdmissionPolicy', 'digest-pinner-strict') as Policy;
  const binding = find(base, 'ValidatingAdmissionPolicyBinding', 'digest-pinner-strict') as Binding;
  const cel = policy.spec.variables.map((v) => v.expression).join('\n');

  it('checks Pod CREATE, and the UPDATEs that can bring an image in (of the Pod, of its ephemeral containers)', () => {
    expect(selected(policy.spec.matchConstraints.resourceRules)).toEqual(['/pods CREATE', '/pods UPDATE', '/pods/ephemeralcontainers UPDATE']);
    expect(policy.spec.matchConstraints.matchPolicy).toBe('Equivalent');
  });

  it('checks on an UPDATE only the images the old Pod did not have (an edit of labels or finalizers is never denied)', () => {
    for (const field of ['oldObject.spec.containers', 'oldObject.spec.initContainers', 'oldObject.spec.ephemeralContainers', 'oldObject.spec.volumes']) {
      expect(cel).toContain(field);
    }
    expect(policy.spec.variables.find((v) => v.name === 'unpinned')?.expression).toContain('!(i in variables.previousImages)');
  });

  it('denies when it cannot evaluate, and through its binding', () => {
    expect(policy.spec.failurePolicy).toBe('Fail');
    expect(binding.spec.policyName).toBe(policy.metadata.name);
    expect(binding.spec.validationActions).toEqual(['Deny']);
  });

  it('reads every image field the webhook pins', () => {
    for (const field of ['object.spec.containers', 'object.spec.initContainers', 'object.spec.ephemeralContainers', 'v.image.reference']) {
      expect(cel).toContain(field);
    }
  });

  describe('counts as pinned exactly the images whose digest the one digest rule accepts (its regular expression run here)', () => {
    const unpinned = policy.spec.variables.find((v) => v.name === 'unpinned')?.expression ?? '';
    // CEL's matches() is RE2, which reads this pattern (no flags, no lookaround) as RegExp does.
    const pinned = new RegExp(/!i\.matches\('([^']+)'\)\)$/.exec(unpinned)?.[1] ?? '(?!)');

    it.each(DIGEST_VECTORS)('%s: pinned is %s', (_label, digest, valid) => {
      expect(pinned.test(`nginx:1.27@${digest}`)).toBe(valid);
      expect(pinned.test(`registry.example.com:5000/team/app@${digest}`)).toBe(valid);
    });

    it('needs the @', () => {
      expect(pinned.test(`nginx:${'a'.repeat(64)}`)).toBe(false);
    });
  });

  it('names the offending images in its message', () => {
    const [validation] = policy.spec.validations;
    expect(validation?.expression).toBe('variables.offending.size() == 0');
    expect(validation?.messageExpression).toContain("variables.offending.join(', ')");
    expect(validation?.reason).toBe('Forbidden');
  });

  it('applies where the strict webhook entry does: same namespaces, same opt-out label', () => {
    const strict = webhook('strict.digest-pinner.io');
    expect(binding.spec.matchResources.namespaceSelector).toEqual(strict.namespaceSelector);
    expect(binding.spec.matchResources.objectSelector).toEqual(strict.objectSelector);
  });

  it('holds its skip list itself, with no parameter (kube-apiserver can freeze a ConfigMap parameter for good)', () => {
    expect(policy.spec.paramKind).toBeUndefined();
    expect(binding.spec.paramRef).toBeUndefined();
    expect(base.filter((object) => object.kind === 'ConfigMap')).toEqual([]);
    expect(cel).toContain(`variables.${SKIP_LIST_VARIABLE}.split`);
  });

  it('ships an empty skip list, which the Deployment reads from the policy (no --skip)', () => {
    const list = policy.spec.variables.find((variable) => variable.name === SKIP_LIST_VARIABLE)?.expression ?? '';
    expect(parseSkipPatterns(skipListLiteral(list) ?? 'not a raw string literal').patterns).toEqual([]);
    expect(flag(container.args, 'skip')).toBeUndefined();
    expect(flag(container.args, 'skip-policy')).toBe(policy.metadata.name);
  });
});

describe('Deployment', () => {
  it('runs 2 replicas of the ServiceAccount, with its token (it watches Secrets and ServiceAccounts)', () => {
    expect(deployment.spec.replicas).toBe(2);
    expect(podSpec.serviceAccountName).toBe('digest-pinner');
    expect(podSpec.automountServiceAccountToken).toBe(true);
    find(base, 'ServiceAccount', 'digest-pinner');
  });

  it('prefers one replica per node', () => {
    const [term] = podSpec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution;
    expect(term?.podAffinityTerm.topologyKey).toBe('kubernetes.io/hostname');
    expect(term?.podAffinityTerm.labelSelector).toEqual(deployment.spec.selector);
  });

  it('runs as non-root with a read-only root filesystem, no privilege escalation, no capabilities, RuntimeDefault seccomp', () => {
    expect(podSpec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: 'RuntimeDefault' } });
    expect(container.securityContext).toMatchObject({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container.securityContext).not.toHaveProperty('privileged', true);
  });

  it('requests CPU and memory, and limits memory but not CPU', () => {
    expect(container.resources.requests).toEqual({ cpu: '50m', memory: '128Mi' });
    expect(container.resources.limits).toEqual({ memory: '256Mi' });
  });

  it('probes readiness on /readyz and liveness on /healthz over plain HTTP on the metrics port, not through TLS', () => {
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'metrics', scheme: 'HTTP' });
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics', scheme: 'HTTP' });
    expect(container.ports).toEqual([{ name: 'https', containerPort: 8443, protocol: 'TCP' }, { name: 'metrics', containerPort: 9090, protocol: 'TCP' }]);
    expect(flag(container.args, 'port') ?? '8443').toBe('8443');
    expect(flag(container.args, 'metrics-port')).toBe('9090');
  });

  it('serves the mounted TLS Secret', () => {
    expect(container.args[0]).toBe('serve');
    expect(flag(container.args, 'tls-cert')).toBe(`${TLS_DIR}/tls.crt`);
    expect(flag(container.args, 'tls-key')).toBe(`${TLS_DIR}/tls.key`);
    const mount = container.volumeMounts.find((m) => m.mountPath === TLS_DIR);
    expect(mount?.readOnly).toBe(true);
    expect(podSpec.volumes.find((v) => v.name === mount?.name)?.secret?.secretName).toBe(TLS_SECRET);
  });

  it('keeps serving after termination starts (preStop) for less than the grace period', () => {
    const sleepSeconds = container.lifecycle?.preStop?.sleep?.seconds ?? 0;
    expect(sleepSeconds).toBeGreaterThan(0);
    const timeoutSeconds = Math.max(...mwc.webhooks.map((w) => w.timeoutSeconds));
    expect(sleepSeconds + timeoutSeconds).toBeLessThan(podSpec.terminationGracePeriodSeconds);
  });

  it('is covered by a PodDisruptionBudget of minAvailable 1', () => {
    const pdb = find(base, 'PodDisruptionBudget', 'digest-pinner') as KubeObject & { spec: { minAvailable: number; selector: LabelSelector } };
    expect(pdb.spec.minAvailable).toBe(1);
    expect(pdb.spec.selector).toEqual(deployment.spec.selector);
  });

  it('is reached through the Service on 443, which the webhook configuration calls', () => {
    const service = find(base, 'Service', 'digest-pinner') as Service;
    expect(service.spec.ports).toEqual([{ name: 'https', port: 443, targetPort: 'https', protocol: 'TCP' }]);
    expect(service.spec.selector).toEqual(deployment.spec.selector.matchLabels);
    expect(deployment.spec.template.metadata.labels).toMatchObject(service.spec.selector);
  });
});

describe('RBAC', () => {
  const role = find(base, 'ClusterRole', 'digest-pinner') as KubeObject & { rules: PolicyRule[] };

  it('grants exactly: Secrets, ServiceAccounts, Namespaces and ImageSets get/list/watch, ImageSet status update/patch, events.k8s.io Events create, PinRecords, Pods list, ControllerRevisions get, LedgerEntries', () => {
    const grants = role.rules.filter((rule) => rule.resourceNames === undefined).flatMap((rule) => {
      expect(rule.nonResourceURLs).toBeUndefined();
      return (rule.apiGroups ?? []).flatMap((group) =>
        (rule.resources ?? []).flatMap((resource) => rule.verbs.map((verb) => `${group}/${resource}:${verb}`)));
    });
    expect(grants.sort()).toEqual([
      '/secrets:get', '/secrets:list', '/secrets:watch',
      '/serviceaccounts:get', '/serviceaccounts:list', '/serviceaccounts:watch',
      '/namespaces:get', '/namespaces:list', '/namespaces:watch',
      'events.k8s.io/events:create',
      'digest-pinner.io/imagesets:get', 'digest-pinner.io/imagesets:list', 'digest-pinner.io/imagesets:watch',
      'digest-pinner.io/imagesets/status:update', 'digest-pinner.io/imagesets/status:patch',
      'digest-pinner.io/pinrecords:get', 'digest-pinner.io/pinrecords:list', 'digest-pinner.io/pinrecords:watch',
      'digest-pinner.io/pinrecords:create', 'digest-pinner.io/pinrecords:patch', 'digest-pinner.io/pinrecords:delete',
      '/pods:list', 'apps/controllerrevisions:get',
      'digest-pinner.io/ledgerentries:get', 'digest-pinner.io/ledgerentries:list', 'digest-pinner.io/ledgerentries:watch',
      'digest-pinner.io/ledgerentries:create', 'digest-pinner.io/ledgerentries:update', 'digest-pinner.io/ledgerentries:delete',
    ].sort());
  });

  it('grants Leases in the webhook namespace only: create, and get/update of the status Lease by name', () => {
    const role = find(base, 'Role', 'digest-pinner-lease') as KubeObject & { rules: PolicyRule[] };
    expect(role.metadata.namespace).toBe(NAMESPACE);
    expect(role.rules).toEqual([
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['digest-pinner-imageset-status'], verbs: ['get', 'update'] },
    ]);
    const binding = find(base, 'RoleBinding', 'digest-pinner-lease') as KubeObject & { roleRef: unknown; subjects: unknown[] };
    expect(binding.metadata.namespace).toBe(NAMESPACE);
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'digest-pinner-lease' });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'digest-pinner', namespace: NAMESPACE }]);
  });

  it('grants the strict policy only, by name: get, list and watch (the webhook lists with metadata.name), for its skip list', () => {
    expect(role.rules.filter((rule) => rule.resourceNames !== undefined)).toEqual([
      { apiGroups: ['admissionregistration.k8s.io'], resources: ['validatingadmissionpolicies'], resourceNames: ['digest-pinner-strict'], verbs: ['get', 'list', 'watch'] },
    ]);
  });

  it('binds it to the ServiceAccount and nothing else', () => {
    const binding = find(base, 'ClusterRoleBinding', 'digest-pinner') as KubeObject & { roleRef: unknown; subjects: unknown[] };
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'digest-pinner' });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'digest-pinner', namespace: NAMESPACE }]);
    expect(base.filter((object) => object.kind.endsWith('Role') || object.kind.endsWith('RoleBinding'))).toHaveLength(4);
  });
});

/** A variant's objects but its MutatingWebhookConfiguration, to compare with the default rendering's. */
const withoutWebhookConfiguration = (objects: readonly KubeObject[]): KubeObject[] =>
  objects.filter((object) => object.kind !== 'MutatingWebhookConfiguration');

describe('pods-only', () => {
  const objects = objectsOf('pods-only');
  const podsOnly = find(objects, 'MutatingWebhookConfiguration', mwc.metadata.name) as MutatingWebhookConfiguration;

  it('leaves both entries with only pods and pods/ephemeralcontainers', () => {
    for (const entry of podsOnly.webhooks) {
      expect(selected(entry.rules), entry.name).toEqual(['/pods CREATE', '/pods UPDATE', '/pods/ephemeralcontainers UPDATE']);
    }
  });

  it('changes nothing else', () => {
    const withoutRules = (config: MutatingWebhookConfiguration): unknown =>
      config.webhooks.map((entry) => ({ ...entry, rules: undefined }));
    expect(withoutRules(podsOnly)).toEqual(withoutRules(mwc));
    expect({ ...podsOnly, webhooks: undefined }).toEqual({ ...mwc, webhooks: undefined });
    expect(withoutWebhookConfiguration(objects)).toEqual(withoutWebhookConfiguration(base));
  });
});

describe('cert-manager', () => {
  type Certificate = KubeObject & { spec: { secretName: string; isCA?: boolean; dnsNames?: string[]; issuerRef: { kind: string; name: string } } };
  type Issuer = KubeObject & { spec: { selfSigned?: object; ca?: { secretName: string } } };
  const objects = objectsOf('cert-manager');
  const serving = find(objects, 'Certificate', TLS_SECRET) as Certificate;
  const injected = find(objects, 'MutatingWebhookConfiguration', mwc.metadata.name) as MutatingWebhookConfiguration;

  it('issues the Secret the Deployment mounts, for the DNS names kube-apiserver uses', () => {
    expect(serving.spec.secretName).toBe(TLS_SECRET);
    expect(serving.spec.dnsNames).toEqual([`digest-pinner.${NAMESPACE}.svc`, `digest-pinner.${NAMESPACE}.svc.cluster.local`]);
  });

  it('signs it with a CA that a self-signed Issuer made', () => {
    const caIssuer = find(objects, serving.spec.issuerRef.kind, serving.spec.issuerRef.name) as Issuer;
    const ca = objects.find((o): o is Certificate => o.kind === 'Certificate' && (o as Certificate).spec.secretName === caIssuer.spec.ca?.secretName);
    expect(ca?.spec.isCA).toBe(true);
    const root = find(objects, ca?.spec.issuerRef.kind ?? '', ca?.spec.issuerRef.name ?? '') as Issuer;
    expect(root.spec.selfSigned).toEqual({});
  });

  it('has the cainjector fill the caBundle from the serving Certificate', () => {
    expect(injected.metadata.annotations).toEqual({ 'cert-manager.io/inject-ca-from': `${NAMESPACE}/${serving.metadata.name}` });
  });

  it('changes nothing else but adding the Issuers and Certificates', () => {
    expect({ ...injected, metadata: { ...injected.metadata, annotations: undefined } }).toEqual(mwc);
    expect(withoutWebhookConfiguration(objects).filter((object) => object.apiVersion !== 'cert-manager.io/v1'))
      .toEqual(withoutWebhookConfiguration(base));
  });
});

describe('self-managed', () => {
  const objects = objectsOf('self-managed');
  const selfDeployment = find(objects, 'Deployment', 'digest-pinner') as Deployment;
  const selfContainer = selfDeployment.spec.template.spec.containers[0]!;

  it('creates the Secret empty (Opaque: a kubernetes.io/tls Secret cannot be), so Helm never owns what the webhook writes', () => {
    const secret = find(objects, 'Secret', TLS_SECRET) as KubeObject & { type: string; data?: unknown; stringData?: unknown };
    expect(secret.type).toBe('Opaque');
    expect(secret.data).toBeUndefined();
    expect(secret.stringData).toBeUndefined();
  });

  it('has serve keep the certificate in that Secret and the caBundle of its own webhook configuration, with no volume', () => {
    expect(flag(selfContainer.args, 'tls-secret')).toBe(`${NAMESPACE}/${TLS_SECRET}`);
    expect(flag(selfContainer.args, 'patch-webhook')).toBe(mwc.metadata.name);
    expect(flag(selfContainer.args, 'tls-cert')).toBeUndefined();
    expect(selfContainer.volumeMounts.map((mount) => mount.mountPath)).toEqual(['/tmp']);
    expect(selfDeployment.spec.template.spec.volumes.map((volume) => volume.name)).toEqual(['tmp']);
  });

  it('grants get/list/watch/update of that one Secret, and get/patch of that one webhook configuration', () => {
    const role = find(objects, 'Role', 'digest-pinner-certificates') as KubeObject & { rules: PolicyRule[] };
    expect(role.rules).toEqual([{ apiGroups: [''], resources: ['secrets'], resourceNames: [TLS_SECRET], verbs: ['get', 'list', 'watch', 'update'] }]);
    const binding = find(objects, 'RoleBinding', 'digest-pinner-certificates') as KubeObject & { roleRef: unknown; subjects: unknown[] };
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'digest-pinner-certificates' });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'digest-pinner', namespace: NAMESPACE }]);
    const clusterRole = find(objects, 'ClusterRole', 'digest-pinner') as KubeObject & { rules: PolicyRule[] };
    const baseRole = find(base, 'ClusterRole', 'digest-pinner') as KubeObject & { rules: PolicyRule[] };
    expect(clusterRole.rules).toEqual([
      ...baseRole.rules,
      { apiGroups: ['admissionregistration.k8s.io'], resources: ['mutatingwebhookconfigurations'], resourceNames: [mwc.metadata.name], verbs: ['get', 'patch'] },
    ]);
  });

  it('renders the webhook configuration as the default does: no caBundle', () => {
    expect(find(objects, 'MutatingWebhookConfiguration', mwc.metadata.name)).toEqual(mwc);
  });
});
