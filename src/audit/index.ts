/** audit/: what `digest-pinner audit` finds in a live cluster, and how it reports it (findings pure; cluster.ts the API). */
export { AuditApi, type ClusterState } from './cluster.js';
export {
  auditedObjects,
  digestKey,
  goneFindings,
  movedFindings,
  objectLabel,
  objectRef,
  pinnedTags,
  recordedDigests,
  splitFindings,
  unpinnedFindings,
  type MovedAt,
  type RecordedDigest,
} from './findings.js';
export { ledgerMovedAt } from './ledger.js';
export { policyReport, REPORT_KINDS, REPORT_NAME, REPORT_POLICY, type ReportKind } from './policy-report.js';
export { jsonFindings, sarifLog, textLines } from './report.js';
export { FINDING_KINDS, RULES, type Finding, type FindingKind, type ListedObject, type ObjectRef, type Rule } from './types.js';
