/**
 * One ValidatingAdmissionPolicy, watched by name: the strict policy, whose `skipList`
 * variable is the skip list the webhook shares with it.
 *
 * A list-then-watch informer (the same restarted ListWatch as the pull-secret informers)
 * with the field selector `metadata.name=NAME`, which lets RBAC grant get, list and watch
 * on that one name (resourceNames). Each change is handed over as the policy's variables;
 * the informer's own store keeps only its name, uid and resourceVersion.
 */
import { AdmissionregistrationV1Api, type V1ValidatingAdmissionPolicy } from '@kubernetes/client-node';
import { ManagedInformer, stripMetadata, type InformerRunOptions } from './informers.js';
import { DEFAULT_PAGE_SIZE } from './restarts.js';

/** What the watched policy holds. */
export interface PolicyVariables {
  readonly resourceVersion: string;
  /** Each variable's CEL expression, by name. */
  readonly variables: ReadonlyMap<string, string>;
}

export interface PolicyInformerOptions extends InformerRunOptions {
  /** The ValidatingAdmissionPolicy's name (it is cluster-scoped). */
  readonly policy: string;
  /** Called with the policy as added or changed; undefined once it is deleted, or when the first list finds none. Must not throw. */
  readonly onChange: (content: PolicyVariables | undefined) => void;
}

/** Watches one ValidatingAdmissionPolicy. */
export class PolicyInformer {
  readonly #informer: ManagedInformer<V1ValidatingAdmissionPolicy>;
  #present = false;

  constructor(options: PolicyInformerOptions) {
    const { policy, onChange } = options;
    const fieldSelector = `metadata.name=${policy}`;
    this.#informer = new ManagedInformer<V1ValidatingAdmissionPolicy>(
      {
        name: `validatingadmissionpolicy ${policy}`,
        kind: 'ValidatingAdmissionPolicy',
        path: '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies',
        fieldSelector,
        listPage: (clientOf, continueToken) =>
          clientOf(AdmissionregistrationV1Api).listValidatingAdmissionPolicy({ fieldSelector, limit: options.pageSize ?? DEFAULT_PAGE_SIZE, _continue: continueToken }),
        upsert: (object) => {
          this.#present = true;
          onChange({ resourceVersion: object.metadata?.resourceVersion ?? '', variables: variablesOf(object) });
          delete object.spec;
          delete object.status;
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

  /** True once the first list is in, whether or not it found the policy (and stays true). */
  synced(): boolean {
    return this.#informer.synced;
  }
}

/** The policy's variables (untrusted shape: a name or expression that is not a string is left out). */
function variablesOf(policy: V1ValidatingAdmissionPolicy): Map<string, string> {
  const variables = new Map<string, string>();
  for (const variable of policy.spec?.variables ?? []) {
    const { name, expression } = variable as { name?: unknown; expression?: unknown };
    if (typeof name === 'string' && typeof expression === 'string') variables.set(name, expression);
  }
  return variables;
}
