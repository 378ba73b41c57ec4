/** An audit's findings as text, JSON and SARIF 2.1.0. Pure. */
import { sarifLog as sarifRun } from '../sarif.js';
import { objectLabel } from './findings.js';
import { FINDING_KINDS, RULES, type Finding } from './types.js';

/** `KIND/NAMESPACE/NAME FIELD: MESSAGE (RULE)`, one line per finding. */
export function textLines(findings: readonly Finding[]): string[] {
  return findings.map((finding) => `${objectLabel(finding.object)} ${finding.field}: ${finding.message} (${RULES[finding.kind].id})`);
}

/** The findings as JSON values: rule id and name beside each finding's own fields. */
export function jsonFindings(findings: readonly Finding[]): Record<string, unknown>[] {
  return findings.map((finding) => ({ ruleId: RULES[finding.kind].id, rule: RULES[finding.kind].name, ...finding }));
}

function sarifResult(finding: Finding): Record<string, unknown> {
  const { object } = finding;
  const label = objectLabel(object);
  return {
    ruleId: RULES[finding.kind].id,
    ruleIndex: FINDING_KINDS.indexOf(finding.kind),
    level: 'error',
    message: { text: `${label} ${finding.field}: ${finding.message}` },
    locations: [
      {
        logicalLocations: [
          // The namespace, then the object in it, then the field in the object.
          { name: object.namespace, fullyQualifiedName: object.namespace, kind: 'namespace' },
          { name: object.name, fullyQualifiedName: label, kind: 'object' },
          { name: finding.field, fullyQualifiedName: `${label}/${finding.field}`, kind: 'member', parentIndex: 1 },
        ],
      },
    ],
    properties: { apiVersion: object.apiVersion, kind: object.kind, namespace: object.namespace, name: object.name, ...(object.uid === undefined ? {} : { uid: object.uid }), image: finding.image, ...finding.properties },
  };
}

/** A SARIF 2.1.0 log with one run and one rule per kind of finding; what could not be looked at becomes tool notifications. */
export function sarifLog(findings: readonly Finding[], problems: readonly string[], version: string): Record<string, unknown> {
  return sarifRun({ version, rules: FINDING_KINDS.map((kind) => RULES[kind]), results: findings.map(sarifResult), problems });
}
