/**
 * What the commands that pin share (pin, imageset, krm): a plan per image field, each
 * distinct reference resolved once through the shared core, the progress bar, and the
 * pinned values. Loads the registry stack (core.ts): check, which needs no network, does not import it.
 */
import { buildCore, type Core } from './core.js';
import type { CliIo } from './io.js';
import type { CommonOptions } from './options.js';
import { findImageScalars, rewriteProblem, type ImageScalar, type ParsedManifest, type Replacement } from '../manifest/index.js';
import { normalizedString, parseImage, pinnedReference, type ImageRef } from '../reference/index.js';
import { failureReason } from '../resolve/index.js';
import { describeError } from '../errors.js';

const RESOLVE_TIMEOUT_MS = 60_000;

/** What to do with one image field. */
type ImagePlan =
  | { readonly kind: 'pinned' }
  | { readonly kind: 'resolve'; readonly ref: ImageRef }
  | { readonly kind: 'failed'; readonly reason: string };

/** How one distinct reference resolved. */
export type Outcome = { readonly digest: string } | { readonly reason: string };

/** An image field that could not be pinned, and why. */
export interface Failure {
  readonly scalar: ImageScalar;
  readonly reason: string;
}

/** One manifest's image fields worked out: their new values, and those that could not be pinned. */
export interface PinnedFields {
  readonly replacements: readonly Replacement[];
  readonly failures: readonly Failure[];
}

/** Progress of a long run, shown only where a person watches. */
export interface Progress {
  tick(): void;
  done(): void;
}

/**
 * The new value of every image field of each manifest, or why it has none (fields already
 * pinned are neither), each distinct reference resolved once across all of them.
 */
export async function pinManifests(io: CliIo, options: CommonOptions, manifests: readonly ParsedManifest[], concurrency: number): Promise<PinnedFields[]> {
  const scanned = manifests.map((manifest) => {
    const scalars = findImageScalars(manifest);
    return { scalars, plans: scalars.map(planImage) };
  });
  const outcomes = await resolveAll(io, options, scanned.flatMap((entry) => refsToResolve(entry.plans)), concurrency);
  return scanned.map((entry) => pinFields(entry.scalars, entry.plans, outcomes, options.dropTag));
}

/** Pinned already, to be resolved, or unusable (not a reference, or not rewritable in place). */
function planImage(scalar: ImageScalar): ImagePlan {
  let ref: ImageRef;
  try {
    ref = parseImage(scalar.field.image);
  } catch (error) {
    return { kind: 'failed', reason: describeError(error) };
  }
  if (ref.digest !== undefined) return { kind: 'pinned' };
  const problem = rewriteProblem(scalar);
  return problem === undefined ? { kind: 'resolve', ref } : { kind: 'failed', reason: problem };
}

/** `\r[=====     ] 12/30` on a terminal; nothing otherwise. */
function progressBar(stream: CliIo['stderr'], total: number): Progress {
  const tty = 'isTTY' in stream && stream.isTTY === true;
  if (!tty || total === 0) return { tick: () => undefined, done: () => undefined };
  const width = 30;
  let count = 0;
  let last = '';
  const draw = (): void => {
    const filled = Math.round((count / total) * width);
    last = `\r[${'='.repeat(filled)}${' '.repeat(width - filled)}] ${count}/${total}`;
    stream.write(last);
  };
  draw();
  return {
    tick: () => {
      count += 1;
      draw();
    },
    done: () => {
      stream.write(`\r${' '.repeat(last.length)}\r`);
    },
  };
}

/** The key two references share when they name the same image: `nginx:1` and `docker.io/library/nginx:1` resolve once. */
export function resolutionKey(ref: ImageRef): string {
  return normalizedString(ref);
}

/** Runs `items` through `work`, at most `limit` at once, keeping their order. */
export async function mapBounded<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * Resolves each distinct reference once, at most `concurrency` at a time, with a progress bar on
 * a terminal; failures are outcomes, never thrown. The shared core (registry client, credentials)
 * is built only when there is something to resolve, and closed after.
 */
export async function resolveAll(io: CliIo, options: CommonOptions, refs: readonly ImageRef[], concurrency: number): Promise<ReadonlyMap<string, Outcome>> {
  const distinct = [...new Map(refs.map((ref) => [resolutionKey(ref), ref])).entries()];
  if (distinct.length === 0) return new Map();
  const core = await buildCore({ ...options, homeDir: io.homeDir, env: io.env, version: io.version });
  const progress = progressBar(io.stderr, distinct.length);
  try {
    return new Map(await mapBounded(distinct, concurrency, async ([key, ref]) => [key, await resolveOne(core, ref, progress)] as const));
  } finally {
    progress.done();
    await core.close();
  }
}

async function resolveOne(core: Core, ref: ImageRef, progress: Progress): Promise<Outcome> {
  try {
    const resolution = await core.resolver.resolve(ref, { credentials: await core.credentialsFor(ref), signal: AbortSignal.timeout(RESOLVE_TIMEOUT_MS) });
    return { digest: resolution.digest };
  } catch (error) {
    return { reason: failureReason(error) };
  } finally {
    progress.tick();
  }
}

/** The references to resolve among the plans. */
function refsToResolve(plans: readonly ImagePlan[]): ImageRef[] {
  return plans.flatMap((plan) => (plan.kind === 'resolve' ? [plan.ref] : []));
}

/** Each field's new value, or why it has none; fields already pinned are neither. */
function pinFields(scalars: readonly ImageScalar[], plans: readonly ImagePlan[], outcomes: ReadonlyMap<string, Outcome>, dropTag: boolean): PinnedFields {
  const replacements: Replacement[] = [];
  const failures: Failure[] = [];
  scalars.forEach((scalar, index) => {
    const plan = plans[index];
    if (plan === undefined || plan.kind === 'pinned') return;
    if (plan.kind === 'failed') {
      failures.push({ scalar, reason: plan.reason });
      return;
    }
    const pinned = pinnedValue(plan.ref, outcomes.get(resolutionKey(plan.ref)), dropTag);
    if ('reason' in pinned) failures.push({ scalar, reason: pinned.reason });
    else replacements.push({ scalar, value: pinned.value });
  });
  return { replacements, failures };
}

function pinnedValue(ref: ImageRef, outcome: Outcome | undefined, dropTag: boolean): { value: string } | { reason: string } {
  if (outcome === undefined) return { reason: 'not resolved' };
  if ('reason' in outcome) return outcome;
  try {
    return { value: pinnedReference(ref, outcome.digest, { dropTag }) };
  } catch (error) {
    return { reason: describeError(error) };
  }
}

/** `FILE:LINE:COL: image "REF" not pinned: REASON`. */
export function failureLine(file: string, failure: Failure): string {
  const { scalar, reason } = failure;
  return `${file}:${scalar.line}:${scalar.column}: image ${JSON.stringify(scalar.field.image)} not pinned: ${reason}`;
}
