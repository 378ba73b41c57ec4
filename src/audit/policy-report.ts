/**
 * The audit as policy reports, one per namespace, so that the tools people already use
 * (Policy Reporter, Kyverno's UI, kubectl) show it: wgpolicyk8s.io/v1alpha2 PolicyReport and
 * its successor openreports.io/v1alpha1 Report (Kyverno 1.15+), which share one result shape. Pure.
 */
import { MANAGED_BY } from '../rollout/types.js';
import { RULES, type Finding, type FindingKind } from './types.js';

/** A report kind audit writes where its CRD is installed. */
export interface ReportKind {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly plural: string;
  /** The CRD's name, for messages. */
  readonly crd: string;
  /** Report (openreports.io) names its producer at the top level too. */
  readonly topLevelSource: boolean;
}

export const REPORT_KINDS: readonly ReportKind[] = [
  { group: 'wgpolicyk8s.io', version: 'v1alpha2', kind: 'PolicyReport', plural: 'policyreports', crd: 'policyreports.wgpolicyk8s.io', topLevelSource: false },
  { group: 'openreports.io', version: 'v1alpha1', kind: 'Report', plural: 'reports', crd: 'reports.openreports.io', topLevelSource: true },
];

/** The name of the report audit writes in each namespace (replaced on each run). */
export const REPORT_NAME = 'digest-pinner-audit';
/** The policy each result is reported under; the rule is the finding's. */
export const REPORT_POLICY = 'digest-pinner';
const SOURCE = 'digest-pinner';

/** An unpinned image is a risk; the others are a split or a failure already there. */
const SEVERITY: Readonly<Record<FindingKind, string>> = {
  unpinned: 'medium',
  invalid: 'high',
  'tag-moved': 'medium',
  'revision-split': 'high',
  'digest-gone': 'high',
};

function result(finding: Finding, seconds: number): Record<string, unknown> {
  const { object } = finding;
  return {
    policy: REPORT_POLICY,
    rule: RULES[finding.kind].name,
    result: 'fail',
    severity: SEVERITY[finding.kind],
    source: SOURCE,
    scored: true,
    message: finding.message,
    timestamp: { seconds, nanos: 0 },
    resources: [{ apiVersion: object.apiVersion, kind: object.kind, namespace: object.namespace, name: object.name, ...(object.uid === undefined ? {} : { uid: object.uid }) }],
    properties: { ruleId: RULES[finding.kind].id, field: finding.field, ...(finding.image === '' ? {} : { image: finding.image }), ...finding.properties },
  };
}

/** The report of `kind` for `namespace`: a failed result per finding there (none: a clean namespace). `now` in epoch ms. */
export function policyReport(kind: ReportKind, namespace: string, findings: readonly Finding[], now: number): Record<string, unknown> {
  const seconds = Math.floor(now / 1000);
  const results = findings.filter((finding) => finding.object.namespace === namespace).map((finding) => result(finding, seconds));
  return {
    apiVersion: `${kind.group}/${kind.version}`,
    kind: kind.kind,
    metadata: { name: REPORT_NAME, namespace, labels: { ...MANAGED_BY } },
    ...(kind.topLevelSource ? { source: SOURCE } : {}),
    summary: { pass: 0, fail: results.length, warn: 0, error: 0, skip: 0 },
    results,
  };
}
