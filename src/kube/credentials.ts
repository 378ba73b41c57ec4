/**
 * The credentials to try for one image in one admission, in order:
 *
 * 1. the tenant's pull secrets that match the image's registry (kubelet's matching,
 *    see credentials/keyring.ts): for a Pod its `imagePullSecrets` (kube-apiserver's
 *    ServiceAccount admission has already copied the ServiceAccount's in when the pod
 *    had none); for a workload template the template's `imagePullSecrets`, then its
 *    ServiceAccount's (`serviceAccountName`, or the deprecated `serviceAccount`, else `default`);
 * 2. only when none of those matched the registry: the webhook's own credentials
 *    (its docker config, credential helpers, kubelet credential providers), which
 *    cover only the registries it is configured for;
 * 3. anonymous.
 *
 * A referenced secret or ServiceAccount that does not exist is skipped, as kubelet
 * skips it, and named in the report. The resolver caches by credential, so a digest
 * read with a tenant's secret answers only requests that bring the same secret.
 */
import { mergeKeyrings, type Keyring } from '../credentials/keyring.js';
import type { OwnCredentials } from '../credentials/own.js';
import type { CredentialChain, CredentialContext, CredentialLookup } from '../credentials/types.js';
import { member, stringAt } from '../json.js';
import type { ImageRef } from '../reference/types.js';
import { referencedNames, type PullSecretCache } from './cache.js';

export interface ClusterCredentialDeps {
  readonly cache: PullSecretCache;
  /** The webhook's own credentials, for registries no tenant secret matches. */
  readonly ownCredentials: OwnCredentials;
  /** Sees every lookup, e.g. to log missing secrets. */
  readonly onLookup?: (report: CredentialLookupReport) => void;
}

/** Where one lookup's chain came from, for logs. Names only: never a secret value. */
export interface CredentialLookupReport {
  /** `domain/path` of the image. */
  readonly image: string;
  readonly namespace: string | undefined;
  readonly kind: string;
  /** Pull secrets referenced, in the order consulted, as `namespace/name`. */
  readonly secrets: readonly string[];
  /** Referenced pull secrets that do not exist (or are not of a pull-secret type). */
  readonly missingSecrets: readonly string[];
  /** The ServiceAccount a template runs as, as `namespace/name`, when it does not exist. */
  readonly missingServiceAccount: string | undefined;
  /** `source` of each credential in the chain, in order (`anonymous` last). */
  readonly sources: readonly string[];
}

export interface CredentialLookupResult {
  readonly chain: CredentialChain;
  readonly report: CredentialLookupReport;
}

const DEFAULT_SERVICE_ACCOUNT = 'default';

/** The admission stage's credential lookup over the informers' cache. */
export function clusterCredentialLookup(deps: ClusterCredentialDeps): CredentialLookup {
  return async (ref, context) => {
    const { chain, report } = await lookupCredentials(ref, context, deps);
    deps.onLookup?.(report);
    return chain;
  };
}

/** The chain for `ref` in `context`, and what was found on the way. */
export async function lookupCredentials(ref: ImageRef, context: CredentialContext, deps: Pick<ClusterCredentialDeps, 'cache' | 'ownCredentials'>): Promise<CredentialLookupResult> {
  const namespace = context.namespace === '' ? undefined : context.namespace;
  const referenced = namespace === undefined ? { names: [], missingServiceAccount: undefined } : pullSecretNames(namespace, context, deps.cache);
  const keyrings: Keyring[] = [];
  const missingSecrets: string[] = [];
  for (const name of referenced.names) {
    const keyring = namespace === undefined ? undefined : deps.cache.keyring(namespace, name);
    if (keyring === undefined) missingSecrets.push(`${namespace ?? ''}/${name}`);
    else keyrings.push(keyring);
  }
  const tenant = mergeKeyrings(keyrings).credentialsFor(ref.name);
  // The webhook's own credentials never stand in for a tenant's: only for registries the tenant has no secret for.
  const own = tenant.length === 0 ? await deps.ownCredentials.forImage(ref, context.deadline) : [];
  const chain: CredentialChain = [...tenant, ...own, undefined];
  return {
    chain,
    report: {
      image: ref.name,
      namespace,
      kind: context.kind,
      secrets: referenced.names.map((name) => `${namespace ?? ''}/${name}`),
      missingSecrets,
      missingServiceAccount: referenced.missingServiceAccount,
      sources: chain.map((credential) => credential?.source ?? 'anonymous'),
    },
  };
}

interface ReferencedSecrets {
  readonly names: readonly string[];
  readonly missingServiceAccount: string | undefined;
}

/** Names of the pull secrets an object's pods will have, de-duplicated, in order. */
function pullSecretNames(namespace: string, context: CredentialContext, cache: PullSecretCache): ReferencedSecrets {
  const own = referencedNames(member(context.podSpec, 'imagePullSecrets'));
  if (context.kind === 'Pod') return { names: own, missingServiceAccount: undefined };
  const account = serviceAccountOf(context.podSpec);
  const fromAccount = cache.serviceAccountPullSecrets(namespace, account);
  const names = [...own, ...(fromAccount ?? []).filter((name) => !own.includes(name))];
  return { names, missingServiceAccount: fromAccount === undefined ? `${namespace}/${account}` : undefined };
}

/** `serviceAccountName`, else the deprecated `serviceAccount`, else `default` (as the API defaults it). */
export function serviceAccountOf(podSpec: unknown): string {
  const name = stringAt(podSpec, 'serviceAccountName') ?? '';
  if (name !== '') return name;
  const deprecated = stringAt(podSpec, 'serviceAccount') ?? '';
  return deprecated === '' ? DEFAULT_SERVICE_ACCOUNT : deprecated;
}
