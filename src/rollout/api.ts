/**
 * The requests rollout/ makes to kube-apiserver: PinRecords (create, read, patch,
 * delete), LedgerEntries (create, update, delete), the Pods of one revision, one ControllerRevision. Each is bounded by its own
 * timeout and by the caller's signal (an admission's deadline).
 */
import { ApiException, AppsV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { apiClient, DEFAULT_REQUEST_TIMEOUT_MS } from '../kube/api.js';
import { DEFAULT_PAGE_SIZE, listAllPages } from '../kube/restarts.js';
import { arrayOf, member } from '../json.js';
import { LEDGER_ENTRY_PLURAL, PIN_RECORD_PLURAL, ROLLOUT_GROUP, ROLLOUT_VERSION } from './types.js';

const RECORDS = { group: ROLLOUT_GROUP, version: ROLLOUT_VERSION, plural: PIN_RECORD_PLURAL } as const;
const LEDGER = { group: ROLLOUT_GROUP, version: ROLLOUT_VERSION, plural: LEDGER_ENTRY_PLURAL } as const;

/** Pods read per revision: enough to see a sibling carry a digest, or to see them agree. */
const POD_LIST_LIMIT = 500;

/** A namespaced object's name. */
export interface ObjectName {
  readonly namespace: string;
  readonly name: string;
}

export interface Preconditions {
  readonly uid?: string;
  readonly resourceVersion?: string;
}

/** kube-apiserver, as rollout/ uses it. */
export class RolloutApi {
  readonly #kubeConfig: KubeConfig;
  readonly #timeoutMs: number;

  constructor(kubeConfig: KubeConfig, requestTimeoutMs: number = DEFAULT_REQUEST_TIMEOUT_MS) {
    this.#kubeConfig = kubeConfig;
    this.#timeoutMs = requestTimeoutMs;
  }

  /** Creates a PinRecord; answers it as stored. A name taken is a 409 (isConflict). */
  async create(namespace: string, body: object, signal: AbortSignal): Promise<unknown> {
    return this.#custom(signal).createNamespacedCustomObject({ ...RECORDS, namespace, body });
  }

  /** The PinRecord as stored; undefined when there is none. */
  async get({ namespace, name }: ObjectName, signal: AbortSignal): Promise<unknown> {
    try {
      return await this.#custom(signal).getNamespacedCustomObject({ ...RECORDS, namespace, name });
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) return undefined;
      throw error;
    }
  }

  /** Applies a JSON Patch (one that replaces metadata.resourceVersion fails with 409 once the object moved on). */
  async patch({ namespace, name }: ObjectName, operations: readonly object[], signal: AbortSignal): Promise<unknown> {
    return this.#custom(signal).patchNamespacedCustomObject({ ...RECORDS, namespace, name, body: operations });
  }

  /** Deletes a PinRecord when it is still the one described by `preconditions`; gone already is fine. */
  async delete({ namespace, name }: ObjectName, preconditions: Preconditions, signal: AbortSignal): Promise<void> {
    try {
      await this.#custom(signal).deleteNamespacedCustomObject({ ...RECORDS, namespace, name, body: { preconditions } });
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) return;
      throw error;
    }
  }

  /** Creates a LedgerEntry; a name taken is a 409 (isConflict). */
  async createEntry(namespace: string, body: object, signal: AbortSignal): Promise<unknown> {
    return this.#custom(signal).createNamespacedCustomObject({ ...LEDGER, namespace, body });
  }

  /** Replaces a LedgerEntry; `body` carries the resourceVersion read, so a lost race is a 409 (isConflict). */
  async replaceEntry({ namespace, name }: ObjectName, body: object, signal: AbortSignal): Promise<unknown> {
    return this.#custom(signal).replaceNamespacedCustomObject({ ...LEDGER, namespace, name, body });
  }

  /** Deletes a LedgerEntry when it is still at `resourceVersion`; gone already is fine. */
  async deleteEntry({ namespace, name }: ObjectName, resourceVersion: string, signal: AbortSignal): Promise<void> {
    try {
      await this.#custom(signal).deleteNamespacedCustomObject({ ...LEDGER, namespace, name, body: { preconditions: { resourceVersion } } });
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) return;
      throw error;
    }
  }

  /** Every LedgerEntry of `namespace`, listed page by page, as plain JSON. */
  async listEntries(namespace: string, signal: AbortSignal): Promise<readonly unknown[]> {
    const { items } = await listAllPages(async (continueToken) => {
      const list: unknown = await this.#custom(signal).listNamespacedCustomObject({ ...LEDGER, namespace, limit: DEFAULT_PAGE_SIZE, _continue: continueToken });
      const next = member(member(list, 'metadata'), 'continue');
      return { items: arrayOf(member(list, 'items')), resourceVersion: '', next: typeof next === 'string' && next !== '' ? next : undefined };
    });
    return items;
  }

  /** Up to POD_LIST_LIMIT Pods of `namespace` matching `labelSelector`, as plain JSON. */
  async listPods(namespace: string, labelSelector: string, signal: AbortSignal): Promise<readonly unknown[]> {
    const list: unknown = await apiClient(this.#kubeConfig, CoreV1Api, this.#signal(signal)).listNamespacedPod({ namespace, labelSelector, limit: POD_LIST_LIMIT });
    return arrayOf(member(list, 'items'));
  }

  /** The uid of a ControllerRevision; undefined when there is none. */
  async controllerRevisionUid(namespace: string, name: string, signal: AbortSignal): Promise<string | undefined> {
    try {
      const revision = await apiClient(this.#kubeConfig, AppsV1Api, this.#signal(signal)).readNamespacedControllerRevision({ namespace, name });
      return revision.metadata?.uid;
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) return undefined;
      throw error;
    }
  }

  #custom(signal: AbortSignal): CustomObjectsApi {
    return apiClient(this.#kubeConfig, CustomObjectsApi, this.#signal(signal));
  }

  #signal(signal: AbortSignal): AbortSignal {
    return AbortSignal.any([signal, AbortSignal.timeout(this.#timeoutMs)]);
  }
}

/** 409: the name is taken (create), or the object changed since it was read (an update carrying its resourceVersion). */
export function isConflict(error: unknown): boolean {
  return error instanceof ApiException && error.code === 409;
}
