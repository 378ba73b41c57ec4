/** The Kubernetes objects of a YAML document: the document itself, or the items of a List. */
import { arrayOf, isRecord, member } from '../json.js';

/** What names an object to a person: `kind/namespace/name` in messages, `resourceRef` in KRM results. */
export interface ObjectIdentity {
  readonly apiVersion: string | undefined;
  readonly kind: string;
  readonly namespace: string | undefined;
  readonly name: string | undefined;
}

/** One object and where it sits. */
export interface ManifestObject {
  readonly documentIndex: number;
  /** RFC 6901 pointer of the object in its document: `''`, or `/items/3` inside a List. */
  readonly pointer: string;
  readonly identity: ObjectIdentity;
  readonly value: Readonly<Record<string, unknown>>;
}

const LIST_SUFFIX = 'List';

/**
 * The objects of one document. A document whose kind ends in `List` and that
 * has an `items` array (`v1/List` from `kubectl get -o yaml`, `DeploymentList`
 * from the API, a KRM `ResourceList`) stands for its items; an item without a
 * `kind` (as typed lists from the API send them) takes it from the list's.
 * Anything that is not an object with a string `kind` is not a Kubernetes object.
 */
export function objectsOf(value: unknown, documentIndex: number): ManifestObject[] {
  const kind = member(value, 'kind');
  if (!isRecord(value) || typeof kind !== 'string') return [];
  const items = member(value, 'items');
  if (!kind.endsWith(LIST_SUFFIX) || !Array.isArray(items)) return [{ documentIndex, pointer: '', identity: identityOf(value, kind), value }];
  const itemKind = kind === LIST_SUFFIX ? undefined : kind.slice(0, -LIST_SUFFIX.length);
  return arrayOf(items).flatMap((item, index) => {
    const ownKind = member(item, 'kind');
    const effectiveKind = typeof ownKind === 'string' ? ownKind : itemKind;
    if (!isRecord(item) || effectiveKind === undefined) return [];
    return [{ documentIndex, pointer: `/items/${index}`, identity: identityOf(item, effectiveKind), value: item }];
  });
}

/** `kind/namespace/name`, or `kind/name` without a namespace; `kind` alone for an object without a name. */
export function objectLabel(identity: ObjectIdentity): string {
  return [identity.kind, identity.namespace, identity.name].filter((part) => part !== undefined && part !== '').join('/');
}

/**
 * API groups whose kinds the walker's table names (core, apps, batch, and the
 * old extensions group). In a file nothing selects groups the way the
 * webhook's rules do, so a CRD that reuses a name (`kind: Deployment` in
 * `example.com/v1`) must be told apart here. An object without an apiVersion
 * (a typed list's item) is taken to be in its kind's group.
 */
const WORKLOAD_GROUPS: ReadonlySet<string> = new Set(['', 'apps', 'batch', 'extensions']);

/** Whether the object's apiVersion is in a group whose kinds the workload table describes. */
export function isWorkloadGroup(identity: ObjectIdentity): boolean {
  if (identity.apiVersion === undefined) return true;
  const slash = identity.apiVersion.indexOf('/');
  return WORKLOAD_GROUPS.has(slash === -1 ? '' : identity.apiVersion.slice(0, slash));
}

function identityOf(object: Readonly<Record<string, unknown>>, kind: string): ObjectIdentity {
  const metadata = member(object, 'metadata');
  return { apiVersion: stringOrUndefined(member(object, 'apiVersion')), kind, namespace: stringOrUndefined(member(metadata, 'namespace')), name: stringOrUndefined(member(metadata, 'name')) };
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
