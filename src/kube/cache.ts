/**
 * What the webhook keeps of the cluster's pull secrets and ServiceAccounts: per secret
 * its parsed keyring, per ServiceAccount the names of its imagePullSecrets. Fed by the
 * informers' add/update/delete handlers with objects as the API serves them; holds no
 * raw secret data. No I/O.
 */
import { arrayOf, isRecord, member, stringAt } from '../json.js';
import { parsePullSecret, PULL_SECRET_TYPES, type Keyring } from '../credentials/keyring.js';

/** A pull secret as the webhook keeps it. */
export interface CachedSecret {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly type: string;
  readonly keyring: Keyring;
  /** Entries skipped, and why (no secret values). */
  readonly problems: readonly string[];
}

/** What one add/update did, for the informer to log. */
export interface CacheChange {
  /** `namespace/name`, or undefined when the object had no usable metadata. */
  readonly object: string | undefined;
  readonly problems: readonly string[];
}

interface CachedServiceAccount {
  readonly uid: string;
  readonly pullSecrets: readonly string[];
}

const PULL_SECRET_TYPE_SET: ReadonlySet<string> = new Set(Object.values(PULL_SECRET_TYPES));

/** Pull secrets and ServiceAccounts by namespace and name. */
export class PullSecretCache {
  readonly #secrets = new Map<string, CachedSecret>();
  readonly #serviceAccounts = new Map<string, CachedServiceAccount>();

  /** Number of pull secrets held. */
  get secretCount(): number {
    return this.#secrets.size;
  }

  /** Number of ServiceAccounts held. */
  get serviceAccountCount(): number {
    return this.#serviceAccounts.size;
  }

  /** A pull secret, or undefined when the cluster has none by that name (or of another type). */
  secret(namespace: string, name: string): CachedSecret | undefined {
    return this.#secrets.get(key(namespace, name));
  }

  /** The keyring of a pull secret, or undefined when there is no such pull secret. */
  keyring(namespace: string, name: string): Keyring | undefined {
    return this.secret(namespace, name)?.keyring;
  }

  /** Names of a ServiceAccount's imagePullSecrets, or undefined when there is no such ServiceAccount. */
  serviceAccountPullSecrets(namespace: string, name: string): readonly string[] | undefined {
    return this.#serviceAccounts.get(key(namespace, name))?.pullSecrets;
  }

  /** Every pull secret held, for diagnostics and tests. */
  secrets(): readonly CachedSecret[] {
    return [...this.#secrets.values()];
  }

  /** Handles a Secret added or updated. Secrets of other types are ignored (and dropped if held). */
  upsertSecret(object: unknown): CacheChange {
    const meta = identity(object);
    if (meta === undefined) return { object: undefined, problems: ['Secret without namespace or name ignored'] };
    const id = key(meta.namespace, meta.name);
    const type = stringAt(object, 'type') ?? '';
    if (!PULL_SECRET_TYPE_SET.has(type)) {
      this.#secrets.delete(id);
      return { object: id, problems: [`secret ${id}: type ${JSON.stringify(type)} is not a pull-secret type, ignored`] };
    }
    const data = member(object, 'data');
    const parsed = parsePullSecret(type, data, `secret ${id}`, meta.namespace);
    this.#secrets.set(id, { ...meta, type, keyring: parsed.keyring, problems: parsed.problems });
    return { object: id, problems: parsed.problems };
  }

  /**
   * Handles a Secret deleted. Only the object with the same uid is dropped: a secret
   * deleted and re-created under the same name (even with the other pull-secret type,
   * reported by the other informer) may be seen in either order.
   */
  deleteSecret(object: unknown): void {
    this.#delete(this.#secrets, object);
  }

  /** Handles a ServiceAccount added or updated: keeps the names of its imagePullSecrets. */
  upsertServiceAccount(object: unknown): CacheChange {
    const meta = identity(object);
    if (meta === undefined) return { object: undefined, problems: ['ServiceAccount without namespace or name ignored'] };
    const id = key(meta.namespace, meta.name);
    const pullSecrets = referencedNames(member(object, 'imagePullSecrets'));
    this.#serviceAccounts.set(id, { uid: meta.uid, pullSecrets });
    return { object: id, problems: [] };
  }

  /** Handles a ServiceAccount deleted (same uid only, as for secrets). */
  deleteServiceAccount(object: unknown): void {
    this.#delete(this.#serviceAccounts, object);
  }

  /** Drops the object held under `object`'s name, when it is the same object (same uid, or no uid given). */
  #delete(held: Map<string, { readonly uid: string }>, object: unknown): void {
    const meta = identity(object);
    if (meta === undefined) return;
    const id = key(meta.namespace, meta.name);
    const current = held.get(id);
    if (current !== undefined && (meta.uid === '' || current.uid === meta.uid)) held.delete(id);
  }

  /** Forgets everything, e.g. before a relist. */
  clear(): void {
    this.#secrets.clear();
    this.#serviceAccounts.clear();
  }
}

/** `name`s of a `[{name: …}]` list (imagePullSecrets), in order, without blanks or repeats. */
export function referencedNames(list: unknown): string[] {
  const names: string[] = [];
  for (const item of arrayOf(list)) {
    const name = stringAt(item, 'name');
    if (name !== undefined && name !== '' && !names.includes(name)) names.push(name);
  }
  return names;
}

function identity(object: unknown): { namespace: string; name: string; uid: string } | undefined {
  const metadata = member(object, 'metadata');
  if (!isRecord(metadata)) return undefined;
  const namespace = stringAt(metadata, 'namespace');
  const name = stringAt(metadata, 'name');
  if (namespace === undefined || namespace === '' || name === undefined || name === '') return undefined;
  return { namespace, name, uid: stringAt(metadata, 'uid') ?? '' };
}

function key(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}
