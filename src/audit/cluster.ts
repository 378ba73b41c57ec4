/**
 * What an audit reads from kube-apiserver (every workload kind, Pods, PinRecords,
 * LedgerEntries: one namespace at a time) and writes (policy reports). Lists are read in
 * pages; each request is bounded by its own timeout and the caller's signal.
 */
import { ApiException, AppsV1Api, BatchV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { apiClient, DEFAULT_REQUEST_TIMEOUT_MS } from '../kube/api.js';
import { arrayOf, member, stringAt } from '../json.js';
import { parseRecord } from '../rollout/record.js';
import { LEDGER_ENTRY_PLURAL, PIN_RECORD_PLURAL, ROLLOUT_GROUP, ROLLOUT_VERSION, type StoredRecord } from '../rollout/types.js';
import type { ListedObject } from './types.js';
import type { ReportKind } from './policy-report.js';

/** Objects per list request: pages keep each answer small in a large cluster. */
const PAGE_SIZE = 500;

interface Page {
  readonly items: readonly unknown[];
  readonly next: string | undefined;
}

interface Clients {
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly batch: BatchV1Api;
}

/** One page of a kind in a namespace. */
type ListPage = (clients: Clients, namespace: string, page: { limit: number; _continue?: string }) => Promise<unknown>;

interface Listed {
  readonly apiVersion: string;
  readonly kind: string;
  readonly list: ListPage;
}

/** The kinds with a pod spec that run Pods, and Pods; one table, no branch per kind. */
const KINDS: readonly Listed[] = [
  { apiVersion: 'apps/v1', kind: 'Deployment', list: (c, namespace, page) => c.apps.listNamespacedDeployment({ namespace, ...page }) },
  { apiVersion: 'apps/v1', kind: 'StatefulSet', list: (c, namespace, page) => c.apps.listNamespacedStatefulSet({ namespace, ...page }) },
  { apiVersion: 'apps/v1', kind: 'DaemonSet', list: (c, namespace, page) => c.apps.listNamespacedDaemonSet({ namespace, ...page }) },
  { apiVersion: 'apps/v1', kind: 'ReplicaSet', list: (c, namespace, page) => c.apps.listNamespacedReplicaSet({ namespace, ...page }) },
  { apiVersion: 'v1', kind: 'ReplicationController', list: (c, namespace, page) => c.core.listNamespacedReplicationController({ namespace, ...page }) },
  { apiVersion: 'batch/v1', kind: 'Job', list: (c, namespace, page) => c.batch.listNamespacedJob({ namespace, ...page }) },
  { apiVersion: 'batch/v1', kind: 'CronJob', list: (c, namespace, page) => c.batch.listNamespacedCronJob({ namespace, ...page }) },
  { apiVersion: 'v1', kind: 'Pod', list: (c, namespace, page) => c.core.listNamespacedPod({ namespace, ...page }) },
];

/** What one namespace holds for an audit. */
export interface ClusterState {
  /** Every object of KINDS, Pods included. */
  readonly objects: readonly ListedObject[];
  readonly records: readonly StoredRecord[];
  /** False when the PinRecord CRD is not installed. */
  readonly recordsInstalled: boolean;
  /** The namespace's LedgerEntry objects, as JSON (a tenant's entries). */
  readonly ledger: readonly unknown[];
}

/** kube-apiserver, as audit uses it. */
export class AuditApi {
  readonly #kubeConfig: KubeConfig;
  readonly #timeoutMs: number;

  constructor(kubeConfig: KubeConfig, requestTimeoutMs: number = DEFAULT_REQUEST_TIMEOUT_MS) {
    this.#kubeConfig = kubeConfig;
    this.#timeoutMs = requestTimeoutMs;
  }

  /** The namespaces of the cluster, by name: an audit reads one at a time, so what it holds is one namespace's objects. */
  async namespaces(signal: AbortSignal): Promise<string[]> {
    const items = await this.#all((page, pageSignal) => this.#clients(pageSignal).core.listNamespace(page), signal);
    return items.flatMap((item) => stringAt(member(item, 'metadata'), 'name') ?? []).sort();
  }

  /** Everything an audit of `namespace` looks at. Throws the API's error for a list refused. */
  async read(namespace: string, signal: AbortSignal): Promise<ClusterState> {
    const objects: ListedObject[] = [];
    for (const { apiVersion, kind, list } of KINDS) {
      const items = await this.#all((page, pageSignal) => list(this.#clients(pageSignal), namespace, page), signal);
      for (const object of items) objects.push({ apiVersion, kind, object });
    }
    const records = await this.#custom(PIN_RECORD_PLURAL, namespace, signal);
    return {
      objects,
      records: (records ?? []).flatMap((item) => parseRecord(item) ?? []),
      recordsInstalled: records !== undefined,
      ledger: (await this.ledger(namespace, signal)) ?? [],
    };
  }

  /** The LedgerEntry objects of `namespace`, as JSON; undefined when the CRD is not installed. */
  async ledger(namespace: string, signal: AbortSignal): Promise<unknown[] | undefined> {
    return this.#custom(LEDGER_ENTRY_PLURAL, namespace, signal);
  }

  /** Whether the CRD of `kind` is installed: a list of its objects is answered (404: it is not). */
  async installed(kind: ReportKind, namespace: string, signal: AbortSignal): Promise<boolean> {
    try {
      await this.#customApi(signal).listNamespacedCustomObject({ group: kind.group, version: kind.version, plural: kind.plural, namespace, limit: 1 });
      return true;
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) return false;
      throw error;
    }
  }

  /** Creates the report, or replaces the one of that name (at the resourceVersion read). */
  async writeReport(kind: ReportKind, body: Record<string, unknown>, signal: AbortSignal): Promise<void> {
    const metadata = member(body, 'metadata');
    const namespace = stringAt(metadata, 'namespace') ?? '';
    const name = stringAt(metadata, 'name') ?? '';
    const target = { group: kind.group, version: kind.version, plural: kind.plural, namespace };
    const api = this.#customApi(signal);
    let existing: unknown;
    try {
      existing = await api.getNamespacedCustomObject({ ...target, name });
    } catch (error) {
      if (!(error instanceof ApiException && error.code === 404)) throw error;
      await api.createNamespacedCustomObject({ ...target, body });
      return;
    }
    const resourceVersion = stringAt(member(existing, 'metadata'), 'resourceVersion');
    const replaced = { ...body, metadata: { ...(metadata as Record<string, unknown>), resourceVersion } };
    await api.replaceNamespacedCustomObject({ ...target, name, body: replaced });
  }

  /** Every item of a paged list. */
  async #all(fetchPage: (page: { limit: number; _continue?: string }, signal: AbortSignal) => Promise<unknown>, signal: AbortSignal): Promise<unknown[]> {
    const items: unknown[] = [];
    let next: string | undefined;
    do {
      const page = pageOf(await fetchPage({ limit: PAGE_SIZE, ...(next === undefined ? {} : { _continue: next }) }, this.#signal(signal)));
      items.push(...page.items);
      next = page.next;
    } while (next !== undefined);
    return items;
  }

  /** Every object of a digest-pinner.io kind; undefined when its CRD is not installed. */
  async #custom(plural: string, namespace: string, signal: AbortSignal): Promise<unknown[] | undefined> {
    const target = { group: ROLLOUT_GROUP, version: ROLLOUT_VERSION, plural };
    try {
      return await this.#all((page, pageSignal) => this.#customApi(pageSignal).listNamespacedCustomObject({ ...target, namespace, ...page }), signal);
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) return undefined;
      throw error;
    }
  }

  #clients(signal: AbortSignal): Clients {
    return { core: apiClient(this.#kubeConfig, CoreV1Api, signal), apps: apiClient(this.#kubeConfig, AppsV1Api, signal), batch: apiClient(this.#kubeConfig, BatchV1Api, signal) };
  }

  #customApi(signal: AbortSignal): CustomObjectsApi {
    return apiClient(this.#kubeConfig, CustomObjectsApi, this.#signal(signal));
  }

  #signal(signal: AbortSignal): AbortSignal {
    return AbortSignal.any([signal, AbortSignal.timeout(this.#timeoutMs)]);
  }
}

/** A list answer's items and continue token (client-node's models name it `_continue`; raw JSON, `continue`). */
function pageOf(list: unknown): Page {
  const metadata = member(list, 'metadata');
  const next = stringAt(metadata, '_continue') ?? stringAt(metadata, 'continue');
  return { items: arrayOf(member(list, 'items')), next: next === undefined || next === '' ? undefined : next };
}
