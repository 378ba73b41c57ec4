/** The parts of admission.k8s.io/v1 that digest-pinner reads and writes. */

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

export interface GroupVersionKind {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
}

/** `request` of an AdmissionReview, validated by decodeReview. */
export interface AdmissionRequest {
  readonly uid: string;
  readonly kind: GroupVersionKind;
  readonly subResource: string | undefined;
  readonly name: string | undefined;
  readonly namespace: string | undefined;
  readonly operation: Operation;
  readonly object: unknown;
  readonly oldObject: unknown;
  readonly dryRun: boolean;
}

/** `status` of a denied AdmissionResponse (a metav1.Status subset). */
export interface AdmissionStatus {
  readonly code: number;
  readonly message: string;
  readonly reason?: string;
}

export interface AdmissionResponse {
  readonly uid: string;
  readonly allowed: boolean;
  readonly patchType?: 'JSONPatch';
  /** Base64 of the JSONPatch's JSON. */
  readonly patch?: string;
  readonly warnings?: readonly string[];
  readonly status?: AdmissionStatus;
}

export interface AdmissionReviewResponse {
  readonly apiVersion: typeof ADMISSION_API_VERSION;
  readonly kind: 'AdmissionReview';
  readonly response: AdmissionResponse;
}

/** What the webhook does with an image it cannot resolve. */
export type Mode = 'warn' | 'strict';
