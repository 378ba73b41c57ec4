/** Errors of the kube stage: talking to kube-apiserver and loading its configuration. */
import { DigestPinnerError } from '../errors.js';

/** A kubeconfig that cannot be used. Names the file, never a credential. */
export class KubeConfigError extends DigestPinnerError {
  readonly code = 'DP_ERR_KUBECONFIG';
}

/** A request to kube-apiserver that could not be made. */
export class KubeApiError extends DigestPinnerError {
  readonly code = 'DP_ERR_KUBE_API';
}
