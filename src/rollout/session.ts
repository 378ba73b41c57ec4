/** What an admission asks of the records of revisions (the admission stage uses these; record-store.ts answers them). */
import type { Deadline } from '../timeout.js';
import type { FreshPin } from './record.js';

export type { FreshPin } from './record.js';

/** A digest a Pod adopts: from its revision's record, or what its running siblings agree on. */
export interface RecordedPin {
  readonly digest: string;
  readonly source: 'record' | 'siblings';
}

/** What settling an admission's pins gave. */
export interface Settled {
  /** pinKey → the digest another replica recorded first for a field this admission resolved afresh: it wins (source `record`), equal or not. */
  readonly winners: ReadonlyMap<string, string>;
  /** Lines for the admission's warnings, e.g. a record that could not be written. */
  readonly notes: readonly string[];
}

/** The record of one revision as one admission sees it. */
export interface RecordSession {
  /** The record's name, e.g. `replicaset.web-5d8f7c9b4`. */
  readonly name: string;
  /** The digest to adopt for `field` and the normalised `image` (taggedName); undefined: resolve it afresh. */
  recorded(field: string, image: string): RecordedPin | undefined;
  /** Lines for the admission's warnings so far (a revision whose running Pods disagree). */
  notes(): readonly string[];
  /** Writes what this admission pinned afresh (never on a dry run). Never throws. */
  settle(pins: readonly FreshPin[], signal: AbortSignal): Promise<Settled>;
}

/** The parts of a Pod admission the records need. */
export interface PodAdmission {
  readonly object: unknown;
  readonly namespace: string | undefined;
  readonly dryRun: boolean;
}

/** Records of revisions, as the admission reads and writes them. */
export interface RevisionRecords {
  /** The session of the Pod's revision; undefined for a Pod of no recorded revision, or while records are unavailable. Never throws. */
  open(pod: PodAdmission, deadline: Deadline): Promise<RecordSession | undefined>;
}
