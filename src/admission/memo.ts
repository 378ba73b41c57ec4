/**
 * Answers already given, for pod specs seen again. A ReplicaSet scaling to 50, a
 * DaemonSet rolling over 500 nodes, a Job's parallel pods: each admission asks for
 * the same images in the same fields, with the same pull secrets, and gets the same
 * patch. The memo keeps that patch, so a repeat costs a walk of the object and a
 * lookup instead of credential lookups, cache reads and building the patch again.
 *
 * What it never changes:
 * - Only answers that pinned every image without a warning are kept: failures,
 *   stale digests and partial pins are computed afresh every time.
 * - An answer lives no longer than the least fresh digest in it: the memo never
 *   serves a digest the resolver's cache would no longer trust.
 * - Everything the patch is built from is in the key: kind, operation, namespace,
 *   the pull secrets and ServiceAccount the pod names, each field's pointer, name and
 *   image, and the shape of the metadata the annotation goes into. Objects that
 *   already carry the original-images annotation are not memoised (their patch
 *   depends on the recorded entries).
 * - When what credentials or ImageSets are read from changes (`version`), every
 *   answer is dropped.
 */
import { LRUCache } from 'lru-cache';
import { member, isRecord } from '../workload/json.js';
import { valueAt, type ImageField } from '../workload/index.js';
import { ORIGINAL_IMAGES_ANNOTATION, type EncodedPatch } from '../patch/index.js';
import type { AdmissionResolution } from './admit.js';
import type { AdmissionRequest } from './types.js';

/** Between the parts of a key; parts that contain it are not memoised (pointers and locations are ours and never do). */
const SEPARATOR = '\u0001';
/** Upper bound of the memo's keys and patches, in UTF-16 code units (about twice that in bytes at most). */
const DEFAULT_MAX_CHARS = 2 * 1024 * 1024;

export interface AnswerMemoOptions {
  /** The resolver's clock: `freshUntil` of resolutions is read against it. */
  readonly now?: () => number;
  /** Changes whenever pull secrets, ServiceAccounts or ImageSets change; constant without a cluster. */
  readonly version?: () => number;
  /** Most characters of keys and patches held (default 2 Mi). */
  readonly maxChars?: number;
}

/** What an admission needs to find its remembered answer. */
export interface MemoInput {
  readonly request: AdmissionRequest;
  readonly fields: readonly ImageField[];
  readonly relatedImages: boolean;
  /** The pod spec, untrusted JSON (its pull secrets and ServiceAccount pick credentials). */
  readonly podSpec: unknown;
  /** Where the original-images annotation goes (the Pod's or the template's metadata). */
  readonly metadataPointer: string;
}

/** A remembered answer: the encoded patch and the resolutions it pinned. */
export interface RememberedAnswer {
  readonly patch: EncodedPatch;
  readonly resolutions: readonly AdmissionResolution[];
}

interface Entry extends RememberedAnswer {
  readonly expiresAt: number;
  readonly version: number;
}

/** Remembered admission answers, keyed by everything their patch depends on. */
export class AnswerMemo {
  readonly #entries: LRUCache<string, Entry>;
  readonly #now: () => number;
  readonly #version: () => number;

  constructor(options: AnswerMemoOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#version = options.version ?? (() => 0);
    this.#entries = new LRUCache<string, Entry>({
      maxSize: options.maxChars ?? DEFAULT_MAX_CHARS,
      sizeCalculation: (entry, key) => Math.max(1, key.length + entry.patch.length),
    });
  }

  /** Number of answers held. */
  get size(): number {
    return this.#entries.size;
  }

  /** The key of an admission's answer; undefined when its answer is not one to memoise. */
  keyOf(input: MemoInput): string | undefined {
    const { request, fields, podSpec } = input;
    if (fields.length === 0) return undefined;
    const metadata = valueAt(request.object, input.metadataPointer);
    const annotations = member(metadata, 'annotations');
    if (member(annotations, ORIGINAL_IMAGES_ANNOTATION) !== undefined) return undefined;
    const shape = !isRecord(metadata) ? 0 : !isRecord(annotations) ? 1 : 2;
    // What picks the credentials, as JSON (which never contains the separator: it escapes control characters).
    const credentials = JSON.stringify([member(podSpec, 'imagePullSecrets'), member(podSpec, 'serviceAccountName'), member(podSpec, 'serviceAccount')]);
    // Joined from an array: one flat string, which the lookup hashes faster than a chain of concatenations.
    const parts = [request.kind.kind, request.operation, request.subResource ?? '', request.namespace ?? '', `${input.relatedImages ? 1 : 0}${shape}`, credentials];
    for (const field of fields) parts.push(field.pointer, field.location, field.name, field.image);
    // A separator inside a value could make two different admissions one key: such a request is not memoised.
    for (const part of parts) if (part.includes(SEPARATOR)) return undefined;
    return parts.join(SEPARATOR);
  }

  /** The answer remembered under `key`, while its digests are fresh and nothing it depends on changed. */
  recall(key: string): RememberedAnswer | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.version === this.#version() && this.#now() < entry.expiresAt) return entry;
    this.#entries.delete(key);
    return undefined;
  }

  /**
   * Remembers an answer that pinned every image of its admission, until its least
   * fresh digest expires. Answers with a digest of unknown freshness are not kept.
   */
  remember(key: string, answer: RememberedAnswer): void {
    let expiresAt = Number.POSITIVE_INFINITY;
    for (const resolution of answer.resolutions) {
      if (resolution.source === 'pinned' || resolution.source === 'imageset') continue;
      if (resolution.source === 'stale' || resolution.freshUntil === undefined) return;
      expiresAt = Math.min(expiresAt, resolution.freshUntil);
    }
    if (!(this.#now() < expiresAt)) return;
    // Served again from memory: what a second admission would have got from the resolver's cache.
    const resolutions = answer.resolutions.map((r) => (r.source === 'registry' ? { ...r, source: 'cache' as const } : r));
    this.#entries.set(key, { patch: answer.patch, resolutions, expiresAt, version: this.#version() });
  }
}
