/**
 * Which namespaces opt in to pinning `RELATED_IMAGE_*` environment variables, with the
 * Namespace annotation `digest-pinner.io/pin-related-images: "true"`.
 *
 * A list-then-watch informer of Namespaces (the same restarted ListWatch as the pull-secret
 * informers) feeds a set of names; only names whose annotation is exactly "true" are kept.
 * The informer's own store keeps each Namespace's name, uid and resourceVersion only.
 */
import { CoreV1Api, type KubernetesObject, type V1Namespace } from '@kubernetes/client-node';
import { member } from '../json.js';
import { ManagedInformer, stripMetadata, type HeldObject, type InformerRunOptions } from './informers.js';
import { DEFAULT_PAGE_SIZE } from './restarts.js';

/** The Namespace annotation that turns on RELATED_IMAGE_* pinning in that namespace. */
export const PIN_RELATED_IMAGES_ANNOTATION = 'digest-pinner.io/pin-related-images';

/** Names of the namespaces annotated `digest-pinner.io/pin-related-images: "true"`. */
export class RelatedImageNamespaces {
  readonly #names = new Set<string>();

  /** Records a Namespace as added or updated (untrusted JSON shape); returns whether it opts in. */
  upsert(namespace: KubernetesObject): boolean {
    const name = namespace.metadata?.name;
    if (typeof name !== 'string' || name === '') return false;
    if (member(namespace.metadata?.annotations, PIN_RELATED_IMAGES_ANNOTATION) === 'true') {
      this.#names.add(name);
      return true;
    }
    this.#names.delete(name);
    return false;
  }

  /** Forgets a deleted Namespace. */
  remove(namespace: KubernetesObject): void {
    const name = namespace.metadata?.name;
    if (typeof name === 'string') this.#names.delete(name);
  }

  /** Whether `namespace` opts in; false for cluster-scoped requests (no namespace). */
  has(namespace: string | undefined): boolean {
    return namespace !== undefined && this.#names.has(namespace);
  }

  /** The opted-in names, sorted. */
  list(): string[] {
    return [...this.#names].sort();
  }
}

export interface NamespaceInformerOptions extends InformerRunOptions {
  readonly namespaces: RelatedImageNamespaces;
}

/** Watches all Namespaces into a RelatedImageNamespaces. */
export class NamespaceInformer {
  readonly #informer: ManagedInformer<V1Namespace>;
  readonly #waiters = new Set<() => void>();

  constructor(options: NamespaceInformerOptions) {
    const { namespaces } = options;
    this.#informer = new ManagedInformer<V1Namespace>(
      {
        name: 'namespaces',
        kind: 'Namespace',
        path: '/api/v1/namespaces',
        fieldSelector: undefined,
        listPage: (clientOf, continueToken) => clientOf(CoreV1Api).listNamespace({ limit: options.pageSize ?? DEFAULT_PAGE_SIZE, _continue: continueToken }),
        upsert: (namespace) => {
          namespaces.upsert(namespace);
          stripNamespace(namespace);
        },
        remove: (namespace) => { namespaces.remove(namespace); },
      },
      options,
      () => {
        for (const waiter of this.#waiters) waiter();
        this.#waiters.clear();
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

  /** True once the initial list has loaded (and stays true). */
  synced(): boolean {
    return this.#informer.synced;
  }

  /** Resolves once synced(). */
  waitForSync(): Promise<void> {
    if (this.synced()) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.add(resolve));
  }

  /** What the informer's own store holds (names and remaining field names). */
  heldObjects(): HeldObject[] {
    return this.#informer.held();
  }
}

/** Drops from an informer's stored Namespace everything but its name, uid and resourceVersion. */
function stripNamespace(namespace: V1Namespace): void {
  namespace.spec = undefined;
  namespace.status = undefined;
  stripMetadata(namespace);
}
