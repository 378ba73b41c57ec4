/** kube: the cluster as the webhook sees it — pull secrets, ServiceAccounts, opted-in Namespaces and the strict policy's skip list from watched caches, Events for failures. */
export { kubeConfigFrom, loadKubeConfig, type LoadedKubeConfig } from './config.js';
export { kubeConfigSource, SERVICE_ACCOUNT_DIR, type KubeConfigSource, type LoadKubeConfigOptions } from './source.js';
export { PullSecretCache, referencedNames, type CachedSecret, type CacheChange } from './cache.js';
export { PullSecretInformers, type HeldObject, type InformerRunOptions, type KubeLogger, type PullSecretInformersOptions } from './informers.js';
export { PolicyInformer, type PolicyInformerOptions, type PolicyVariables } from './admission-policy.js';
export { NamespaceInformer, RelatedImageNamespaces, PIN_RELATED_IMAGES_ANNOTATION, type NamespaceInformerOptions } from './namespaces.js';
export {
  clusterCredentialLookup,
  lookupCredentials,
  serviceAccountOf,
  type ClusterCredentialDeps,
  type CredentialLookupReport,
  type CredentialLookupResult,
} from './credentials.js';
export {
  apiEventSink,
  eventBody,
  EventRecorder,
  failureNote,
  regardingObject,
  truncateBytes,
  EVENT_ACTION,
  EVENT_REASON,
  EVENT_TYPE,
  MAX_NOTE_BYTES,
  REPORTING_CONTROLLER,
  type AdmittedObject,
  type EventRecorderOptions,
  type EventSink,
  type FailedImage,
  type FailureEvent,
  type ObjectReference,
  type RecordOutcome,
  type RecordResult,
} from './events.js';
export { describeKubeError } from './describe.js';
export { KubeApiError, KubeConfigError } from './errors.js';
