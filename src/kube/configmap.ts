/**
 * One ConfigMap, watched by name: the skip list the webhook shares with the strict policy.
 *
 * A list-then-watch informer (the same restarted ListWatch as the pull-secret informers)
 * on the ConfigMap's namespace with the field selector `metadata.name=NAME`, which lets
 * RBAC grant get, list and watch on that one name (resourceNames). Each change is handed
 * over as the ConfigMap's string data; the informer's own store keeps only its name,
 * namespace, uid and resourceVersion.
 */
import type { V1ConfigMap } from '@kubernetes/client-node';
import { isRecord, member } from '../json.js';
import { ManagedInformer, stripMetadata, type InformerRunOptions } from './informers.js';
import { DEFAULT_PAGE_SIZE } from './restarts.js';

/** A ConfigMap's namespace and name. */
export interface ConfigMapName {
  readonly namespace: string;
  readonly name: string;
}

/** What the watched ConfigMap holds. */
export interface ConfigMapContent {
  readonly resourceVersion: string;
  /** Its `data`, string values only. */
  readonly data: ReadonlyMap<string, string>;
}

export interface ConfigMapInformerOptions extends InformerRunOptions {
  readonly configMap: ConfigMapName;
  /** Called with the ConfigMap as added or changed; undefined once it is deleted, or when the first list finds none. Must not throw. */
  readonly onChange: (content: ConfigMapContent | undefined) => void;
}

/** Watches one ConfigMap. */
export class ConfigMapInformer {
  readonly #informer: ManagedInformer<V1ConfigMap>;
  #present = false;

  constructor(options: ConfigMapInformerOptions) {
    const { configMap, onChange } = options;
    const fieldSelector = `metadata.name=${configMap.name}`;
    this.#informer = new ManagedInformer<V1ConfigMap>(
      {
        name: `configmap ${configMap.namespace}/${configMap.name}`,
        kind: 'ConfigMap',
        path: `/api/v1/namespaces/${encodeURIComponent(configMap.namespace)}/configmaps`,
        fieldSelector,
        listPage: (api, continueToken) =>
          api.listNamespacedConfigMap({ namespace: configMap.namespace, fieldSelector, limit: options.pageSize ?? DEFAULT_PAGE_SIZE, _continue: continueToken }),
        upsert: (object) => {
          this.#present = true;
          onChange({ resourceVersion: object.metadata?.resourceVersion ?? '', data: stringData(object.data) });
          delete object.data;
          delete object.binaryData;
          stripMetadata(object);
        },
        remove: () => {
          this.#present = false;
          onChange(undefined);
        },
      },
      options,
      () => {
        if (!this.#present) onChange(undefined);
      },
    );
  }

  /** Starts the informer; resolves once it has made its first attempt (synced or not). Never rejects. */
  start(): Promise<void> {
    return this.#informer.start();
  }

  stop(): Promise<void> {
    return this.#informer.stop();
  }

  /** True once the first list is in, whether or not it found the ConfigMap (and stays true). */
  synced(): boolean {
    return this.#informer.synced;
  }
}

/** The string values of `data` (untrusted JSON shape). */
function stringData(data: unknown): Map<string, string> {
  const strings = new Map<string, string>();
  if (!isRecord(data)) return strings;
  for (const key of Object.keys(data)) {
    const value = member(data, key);
    if (typeof value === 'string') strings.set(key, value);
  }
  return strings;
}
