/** The audit as a PolicyReport (wgpolicyk8s.io/v1alpha2) and a Report (openreports.io/v1alpha1) per namespace. */
import { describe, expect, it } from 'vitest';
import { policyReport, REPORT_KINDS, type Finding, type ReportKind } from '../../src/audit/index.js';

const [POLICY_REPORT, REPORT] = REPORT_KINDS as [ReportKind, ReportKind];
const NOW = Date.parse('2026-05-01T09:14:03.500Z');

const FINDINGS: Finding[] = [
  { kind: 'unpinned', object: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop', name: 'web', uid: 'u1' }, field: 'containers/app', image: 'web:1', message: 'not pinned', properties: {} },
  { kind: 'revision-split', object: { apiVersion: 'apps/v1', kind: 'ReplicaSet', namespace: 'shop', name: 'web-5d8f', uid: undefined }, field: 'containers/app', image: '', message: 'split', properties: { digests: 'd' } },
  { kind: 'unpinned', object: { apiVersion: 'v1', kind: 'Pod', namespace: 'other', name: 'p', uid: 'u3' }, field: 'containers/app', image: 'web:1', message: 'not pinned', properties: {} },
];

describe('policyReport', () => {
  it('holds a failed result per finding of its namespace, each naming the object, with a summary', () => {
    const report = policyReport(POLICY_REPORT, 'shop', FINDINGS, NOW);
    expect(report).toMatchObject({
      apiVersion: 'wgpolicyk8s.io/v1alpha2',
      kind: 'PolicyReport',
      metadata: { name: 'digest-pinner-audit', namespace: 'shop', labels: { 'app.kubernetes.io/managed-by': 'digest-pinner' } },
      summary: { pass: 0, fail: 2, warn: 0, error: 0, skip: 0 },
    });
    expect(report).not.toHaveProperty('source');
    expect(report['results']).toEqual([
      {
        policy: 'digest-pinner',
        rule: 'image-not-pinned',
        result: 'fail',
        severity: 'medium',
        source: 'digest-pinner',
        scored: true,
        message: 'not pinned',
        timestamp: { seconds: Math.floor(NOW / 1000), nanos: 0 },
        resources: [{ apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop', name: 'web', uid: 'u1' }],
        properties: { ruleId: 'DP001', field: 'containers/app', image: 'web:1' },
      },
      expect.objectContaining({ rule: 'revision-split', severity: 'high', resources: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', namespace: 'shop', name: 'web-5d8f' }], properties: { ruleId: 'DP004', field: 'containers/app', digests: 'd' } }),
    ]);
  });

  it('is empty for a clean namespace, and an openreports.io Report names its source at the top', () => {
    const report = policyReport(REPORT, 'clean', FINDINGS, NOW);
    expect(report).toMatchObject({ apiVersion: 'openreports.io/v1alpha1', kind: 'Report', source: 'digest-pinner', summary: { fail: 0 }, results: [] });
  });
});
