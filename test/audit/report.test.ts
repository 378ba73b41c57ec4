/**
 * An audit's findings as text, JSON and SARIF; the SARIF log validated against the SARIF
 * 2.1.0 JSON schema (the OASIS standard's schema, rtm.5, as @microsoft/jest-sarif ships it).
 */
import { describe, expect, it } from 'vitest';
import { FINDING_KINDS, jsonFindings, RULES, sarifLog, textLines, type Finding } from '../../src/audit/index.js';
import { sarifSchemaErrors as validate } from '../support/sarif.js';

const OLD = `sha256:${'a'.repeat(64)}`;
const NEW = `sha256:${'b'.repeat(64)}`;

const FINDINGS: Finding[] = [
  { kind: 'unpinned', object: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop', name: 'web', uid: 'u1' }, field: 'containers/app', image: 'web:1', message: 'image "web:1" is not pinned to a digest', properties: {} },
  {
    kind: 'tag-moved',
    object: { apiVersion: 'v1', kind: 'Pod', namespace: 'shop', name: 'web-1', uid: undefined },
    field: 'containers/app',
    image: `web:1@${OLD}`,
    message: 'moved',
    properties: { tag: 'docker.io/library/web:1', pinned: OLD, current: NEW },
  },
  { kind: 'revision-split', object: { apiVersion: 'apps/v1', kind: 'ReplicaSet', namespace: 'shop', name: 'web-5d8f', uid: 'u2' }, field: 'containers/app', image: '', message: 'split', properties: { digests: `${OLD} (2 Pods: a, b)` } },
  { kind: 'digest-gone', object: { apiVersion: 'digest-pinner.io/v1alpha1', kind: 'PinRecord', namespace: 'shop', name: 'replicaset.web-5d8f', uid: 'u3' }, field: 'containers/app', image: 'docker.io/library/web:1', message: 'gone', properties: { digest: OLD } },
];

describe('textLines', () => {
  it('writes KIND/NAMESPACE/NAME FIELD: MESSAGE (RULE), one line per finding', () => {
    expect(textLines(FINDINGS.slice(0, 1))).toEqual(['Deployment/shop/web containers/app: image "web:1" is not pinned to a digest (DP001)']);
  });
});

describe('jsonFindings', () => {
  it('adds rule id and name to each finding', () => {
    expect(jsonFindings(FINDINGS)[2]).toMatchObject({ ruleId: 'DP004', rule: 'revision-split', kind: 'revision-split', object: { name: 'web-5d8f' } });
  });
});

describe('sarifLog', () => {
  it('validates against the SARIF 2.1.0 schema, with findings and with tool notifications', () => {
    expect(validate(sarifLog(FINDINGS, [], '0.1.0'))).toEqual([]);
    expect(validate(sarifLog([], ['cannot resolve docker.io/library/web:1: unreachable'], '0.1.0'))).toEqual([]);
  });

  it('is checked by the validator: a log breaking the schema is refused', () => {
    const log = sarifLog(FINDINGS, [], '0.1.0') as { runs: { results: Record<string, unknown>[] }[] };
    const broken = { ...log, runs: [{ ...log.runs[0], results: [{ ...log.runs[0]?.results[0], level: 'fatal' }] }] };
    expect(validate(broken)).not.toEqual([]);
  });

  it('has one rule per kind of finding, and results naming their rule and the object as logical locations', () => {
    const log = sarifLog(FINDINGS, [], '0.1.0') as { runs: { tool: { driver: { rules: { id: string }[] } }; results: Record<string, unknown>[] }[] };
    const run = log.runs[0];
    expect(run?.tool.driver.rules.map((rule) => rule.id)).toEqual(FINDING_KINDS.map((kind) => RULES[kind].id));
    expect(run?.results[1]).toMatchObject({
      ruleId: 'DP003',
      ruleIndex: 2,
      locations: [
        {
          logicalLocations: [
            { name: 'shop', kind: 'namespace' },
            { name: 'web-1', fullyQualifiedName: 'Pod/shop/web-1', kind: 'object' },
            { name: 'containers/app', fullyQualifiedName: 'Pod/shop/web-1/containers/app', kind: 'member', parentIndex: 1 },
          ],
        },
      ],
      properties: { kind: 'Pod', namespace: 'shop', name: 'web-1', pinned: OLD, current: NEW },
    });
  });
});
