/**
 * `digest-pinner audit`: what runs in a live cluster against what pinning promises —
 * unpinned images, digests their tag moved away from, revisions whose Pods disagree, and
 * PinRecords whose digest the registry no longer serves — as text, JSON or SARIF, and as
 * PolicyReports where their CRDs are installed. Loads @kubernetes/client-node: only `audit` imports this module.
 */
import { COMMON_FLAGS, COMMON_FLAGS_USAGE, commonOptions, concurrencyFlag, DEFAULT_WEBHOOK_NAMESPACE, parseFlags, UsageError } from './options.js';
import { buildCore, TRY_NEXT_CODES, type Core } from './core.js';
import { writeLine, type CliIo } from './io.js';
import { mapBounded } from './pinning.js';
import { kubeConfigFrom, describeKubeError } from '../kube/index.js';
import { kubeConfigSource } from '../kube/source.js';
import { failureReason } from '../resolve/index.js';
import { ManifestUnknownError } from '../registry/index.js';
import { DigestPinnerError } from '../errors.js';
import type { ImageRef } from '../reference/index.js';
import {
  auditedObjects,
  AuditApi,
  goneFindings,
  jsonFindings,
  ledgerMovedAt,
  movedFindings,
  pinnedTags,
  policyReport,
  recordedDigests,
  REPORT_KINDS,
  sarifLog,
  splitFindings,
  textLines,
  unpinnedFindings,
  type ClusterState,
  type Finding,
  type MovedAt,
  type RecordedDigest,
  type ReportKind,
} from '../audit/index.js';

export const AUDIT_USAGE = `Usage: digest-pinner audit [flags]

Audits the workloads and Pods of a live cluster (all namespaces, or --namespace):

  DP001 image-not-pinned      a workload or Pod whose image names a tag, not a digest
                              (Deployments, StatefulSets, DaemonSets, CronJobs, ReplicationControllers,
                              ReplicaSets not owned by a Deployment, Jobs not owned by a CronJob, Pods)
  DP002 image-reference-invalid  an image that is not a valid reference
  DP003 tag-moved             a reference pinned to a digest its tag no longer points to (the tag is
                              resolved now; when it moved is read from the tag ledger where it is kept)
  DP004 revision-split        Pods of one revision (ReplicaSet, Job, StatefulSet or DaemonSet revision)
                              that carry or run different digests for one image
  DP005 pinned-digest-gone    a PinRecord whose digest the registry no longer serves: the next Pod
                              of that revision cannot pull it

Tags are resolved, and recorded digests checked, with this command's own credentials (the
registry flags below, docker config, credential helpers), not the cluster's pull secrets.

Exit code 0 when nothing is found, 1 when something is, 2 when the audit could not be
completed (the cluster or a registry could not be read: each problem is named on stderr).

Flags:
  --kubeconfig FILE           the cluster (default: $KUBECONFIG, in-cluster, ~/.kube/config)
  --namespace NS, -n NS       audit one namespace (default: all namespaces)
  --ledger-namespace NS       namespace of the webhook's cluster-wide tag ledger entries, read
                              (with a tenant's own) for when a tag moved; serve's --ledger-namespace
                              (default ${DEFAULT_WEBHOOK_NAMESPACE})
  --output text|json|sarif    text (default): KIND/NAMESPACE/NAME FIELD: MESSAGE (RULE);
                              json: an array of findings; sarif: SARIF 2.1.0
  --policy-reports            also write a PolicyReport (wgpolicyk8s.io/v1alpha2) and a Report
                              (openreports.io/v1alpha1) named digest-pinner-audit in each namespace
                              audited, where their CRDs are installed
  --concurrency N             registry requests at once (default 8)
${COMMON_FLAGS_USAGE}`;

const OUTPUTS = ['text', 'json', 'sarif'] as const;
type Output = (typeof OUTPUTS)[number];

/** One registry request of an audit. */
const REGISTRY_DEADLINE_MS = 60_000;
/** The cluster requests of one step of an audit: the namespaces' list, or one namespace's reads. */
const CLUSTER_DEADLINE_MS = 300_000;

function parseOutput(value: string | undefined): Output {
  const output = value ?? 'text';
  const known = OUTPUTS.find((candidate) => candidate === output);
  if (known === undefined) throw new UsageError(`--output ${JSON.stringify(output)} must be text, json or sarif`);
  return known;
}

/** What the registries answered: the digest of each tag now, the recorded digests they no longer serve, what could not be asked. */
interface RegistryAnswers {
  readonly current: Map<string, string>;
  readonly gone: Set<string>;
  readonly problems: string[];
}

/** Whether the registry serves `digest` in its repository: false on "manifest unknown", with each credential tried in turn. */
async function serves(core: Core, recorded: RecordedDigest): Promise<boolean> {
  const signal = AbortSignal.timeout(REGISTRY_DEADLINE_MS);
  let unknown: unknown;
  for (const credential of await core.credentialsFor(recorded.ref)) {
    try {
      await core.client.getDigest(recorded.ref, recorded.digest, credential, signal);
      return true;
    } catch (error) {
      // Unknown to one credential may be visible to the next; refused likewise (as the resolver tries them).
      if (!(error instanceof DigestPinnerError) || !TRY_NEXT_CODES.has(error.code)) throw error;
      unknown = error;
    }
  }
  if (unknown instanceof ManifestUnknownError) return false;
  throw unknown;
}

async function askRegistries(core: Core, state: ClusterState, concurrency: number): Promise<RegistryAnswers> {
  const answers: RegistryAnswers = { current: new Map(), gone: new Set(), problems: [] };
  const tags = [...pinnedTags(auditedObjects(state.objects))];
  await mapBounded(tags, concurrency, async ([tagged, ref]: [string, ImageRef]) => {
    try {
      const resolution = await core.resolver.resolve(ref, { credentials: await core.credentialsFor(ref), signal: AbortSignal.timeout(REGISTRY_DEADLINE_MS) });
      answers.current.set(tagged, resolution.digest);
    } catch (error) {
      answers.problems.push(`cannot resolve ${tagged} (whether it moved is not known): ${failureReason(error)}`);
    }
  });
  await mapBounded([...recordedDigests(state.records)], concurrency, async ([key, recorded]) => {
    try {
      if (!(await serves(core, recorded))) answers.gone.add(key);
    } catch (error) {
      answers.problems.push(`cannot check ${key} (whether the registry still serves it is not known): ${failureReason(error)}`);
    }
  });
  return answers;
}

/** What an audit was asked to do, from its flags. */
interface AuditSettings {
  readonly output: Output;
  readonly concurrency: number;
  /** One namespace; undefined: every namespace. */
  readonly namespace: string | undefined;
  readonly ledgerNamespace: string;
  readonly policyReports: boolean;
}

/** An audit's findings, and what it could not look at. */
interface AuditResult {
  readonly findings: Finding[];
  readonly problems: string[];
}

/** The report kinds whose CRDs are installed (asked in `probe`); says which are absent. */
async function installedReportKinds(api: AuditApi, probe: string, io: CliIo): Promise<ReportKind[]> {
  const installed: ReportKind[] = [];
  for (const kind of REPORT_KINDS) {
    if (await api.installed(kind, probe, AbortSignal.timeout(CLUSTER_DEADLINE_MS))) installed.push(kind);
    else writeLine(io.stderr, `digest-pinner: ${kind.kind} (${kind.group}/${kind.version}) not written: its CRD ${kind.crd} is not installed`);
  }
  return installed;
}

/** Writes one namespace's report of each kind, counting those written in `written`; what fails goes to `problems`. */
async function writePolicyReports(api: AuditApi, kinds: readonly ReportKind[], found: { namespace: string; findings: readonly Finding[]; problems: string[] }, written: Map<ReportKind, number>): Promise<void> {
  for (const kind of kinds) {
    try {
      await api.writeReport(kind, policyReport(kind, found.namespace, found.findings, Date.now()), AbortSignal.timeout(CLUSTER_DEADLINE_MS));
      written.set(kind, (written.get(kind) ?? 0) + 1);
    } catch (error) {
      found.problems.push(`cannot write ${kind.kind} ${found.namespace}/digest-pinner-audit: ${describeKubeError(error)}`);
    }
  }
}

/** One namespace's findings and what could not be asked. */
async function namespaceFindings(core: Core, state: ClusterState, movedAt: MovedAt, concurrency: number): Promise<AuditResult> {
  const answers = await askRegistries(core, state, concurrency);
  const audited = auditedObjects(state.objects);
  const pods = state.objects.filter((listed) => listed.kind === 'Pod').map((listed) => listed.object);
  const findings = [
    ...unpinnedFindings(audited),
    ...movedFindings(audited, answers.current, movedAt),
    ...splitFindings(pods),
    ...goneFindings(state.records, answers.gone),
  ];
  return { findings, problems: answers.problems };
}

/** Audits each namespace in turn, so that what it holds is one namespace's objects, not the cluster's. */
async function audit(api: AuditApi, core: Core, settings: AuditSettings, io: CliIo): Promise<AuditResult> {
  const { namespace, ledgerNamespace } = settings;
  const namespaces = namespace === undefined ? await api.namespaces(AbortSignal.timeout(CLUSTER_DEADLINE_MS)) : [namespace];
  const clusterWide = (await api.ledger(ledgerNamespace, AbortSignal.timeout(CLUSTER_DEADLINE_MS))) ?? [];
  const reportKinds = settings.policyReports ? await installedReportKinds(api, namespaces[0] ?? ledgerNamespace, io) : [];
  const written = new Map<ReportKind, number>();
  const result: AuditResult = { findings: [], problems: [] };
  let recordsInstalled = true;
  for (const audited of namespaces) {
    const state = await api.read(audited, AbortSignal.timeout(CLUSTER_DEADLINE_MS));
    recordsInstalled &&= state.recordsInstalled;
    // A tenant's entries first, then the cluster-wide ones (the webhook's tenant rule).
    const movedAt = ledgerMovedAt(audited === ledgerNamespace ? clusterWide : [...state.ledger, ...clusterWide], ledgerNamespace);
    const found = await namespaceFindings(core, state, movedAt, settings.concurrency);
    // A report in the namespace asked for, or in each namespace with an object audited.
    if (namespace !== undefined || state.objects.length > 0) await writePolicyReports(api, reportKinds, { namespace: audited, ...found }, written);
    result.findings.push(...found.findings);
    result.problems.push(...found.problems);
  }
  for (const kind of reportKinds) {
    const count = written.get(kind) ?? 0;
    writeLine(io.stderr, `digest-pinner: wrote ${kind.kind} digest-pinner-audit in ${count} ${count === 1 ? 'namespace' : 'namespaces'}`);
  }
  if (!recordsInstalled) writeLine(io.stderr, 'digest-pinner: the PinRecord CRD is not installed: no recorded digest was checked');
  return result;
}

function emit(output: Output, findings: readonly Finding[], problems: readonly string[], io: CliIo): void {
  if (output === 'json') writeLine(io.stdout, JSON.stringify(jsonFindings(findings), null, 2));
  else if (output === 'sarif') writeLine(io.stdout, JSON.stringify(sarifLog(findings, problems, io.version), null, 2));
  else for (const line of textLines(findings)) writeLine(io.stdout, line);
}

function auditSettings(values: { output?: string | undefined; concurrency?: string | undefined; namespace?: string | undefined; 'ledger-namespace'?: string | undefined; 'policy-reports'?: boolean | undefined }): AuditSettings {
  const namespace = values.namespace;
  if (namespace === '') throw new UsageError('--namespace needs a namespace name');
  const ledgerNamespace = values['ledger-namespace'] ?? DEFAULT_WEBHOOK_NAMESPACE;
  if (ledgerNamespace === '') throw new UsageError('--ledger-namespace needs a namespace name');
  return { output: parseOutput(values.output), concurrency: concurrencyFlag(values.concurrency), namespace, ledgerNamespace, policyReports: values['policy-reports'] === true };
}

/** Returns the exit code: 0 clean, 1 findings, 2 when the audit could not be completed. */
export async function auditCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseFlags({
    args: [...argv],
    options: {
      ...COMMON_FLAGS,
      kubeconfig: { type: 'string' },
      namespace: { type: 'string', short: 'n' },
      'ledger-namespace': { type: 'string' },
      output: { type: 'string' },
      'policy-reports': { type: 'boolean' },
      concurrency: { type: 'string' },
    },
  });
  if (values.help === true) {
    writeLine(io.stdout, AUDIT_USAGE);
    return 0;
  }
  const settings = auditSettings(values);
  const source = kubeConfigSource({ kubeconfig: values.kubeconfig, env: io.env, homeDir: io.homeDir });
  if (source === undefined) throw new UsageError('audit needs a cluster: pass --kubeconfig FILE, set KUBECONFIG, or run in a cluster');
  const common = commonOptions(values);
  let core: Core | undefined;
  try {
    const api = new AuditApi(kubeConfigFrom(source).kubeConfig);
    core = await buildCore({ ...common, homeDir: io.homeDir, env: io.env, version: io.version });
    const { findings, problems } = await audit(api, core, settings, io);
    for (const problem of problems) writeLine(io.stderr, `digest-pinner: ${problem}`);
    emit(settings.output, findings, problems, io);
    if (problems.length > 0) return 2;
    return findings.length > 0 ? 1 : 0;
  } catch (error) {
    writeLine(io.stderr, `digest-pinner: audit failed: ${describeKubeError(error)}`);
    return 2;
  } finally {
    await core?.close();
  }
}
