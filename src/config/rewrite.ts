/**
 * Rewrite rules: move an image to another registry or path prefix before it is
 * pinned, e.g. `quay.io/tigera/` → `registry.internal/mirror/tigera/` turns
 * `quay.io/tigera/operator:v1.36` into `registry.internal/mirror/tigera/operator:v1.36`,
 * which is then resolved against registry.internal and written pinned. Pure.
 *
 * A rule applies when its `from` is the image's normalised name or a prefix of it
 * ending at a `/` (so `quay.io/tigera` does not move `quay.io/tigera-x/…`); the
 * longest such `from` wins, and only one rule applies. Tag and digest are kept;
 * the written reference becomes the full rewritten name.
 */
import { parseImage } from '../reference/index.js';
import type { ImageRef } from '../reference/types.js';
import { describeError } from '../errors.js';
import { RewriteError } from './errors.js';
import type { Location } from './location.js';

/** One rule: names under `from` move under `to`. */
export interface RewriteRule {
  readonly from: Location;
  readonly to: Location;
}

/** The image moved by the rule that applies, or `ref` itself. Throws RewriteError when the result is not a valid reference. */
export function rewriteReference(ref: ImageRef, rules: readonly RewriteRule[]): ImageRef {
  const rule = applicableRule(ref, rules);
  if (rule === undefined) return ref;
  const rest = rule.from.path === '' ? ref.path : ref.path.slice(rule.from.path.length + 1);
  const path = [rule.to.path, rest].filter((p) => p !== '').join('/');
  const name = `${rule.to.domain}/${path}`;
  const written = `${name}${ref.tag === undefined ? '' : `:${ref.tag}`}${ref.digest === undefined ? '' : `@${ref.digest}`}`;
  try {
    return parseImage(written);
  } catch (error) {
    throw new RewriteError(ref.written, { from: rule.from.text, to: rule.to.text }, describeError(error), { cause: error });
  }
}

/** A `rewrite(ref)` over fixed rules, longest `from` first. */
export function compileRewrites(rules: readonly RewriteRule[]): (ref: ImageRef) => ImageRef {
  const ordered = [...rules].sort((a, b) => b.from.text.length - a.from.text.length);
  return (ref) => rewriteReference(ref, ordered);
}

/** The rule with the longest `from` that is the image's name or a `/`-bounded prefix of it. */
export function applicableRule(ref: ImageRef, rules: readonly RewriteRule[]): RewriteRule | undefined {
  let best: RewriteRule | undefined;
  for (const rule of rules) {
    if (!covers(rule.from, ref)) continue;
    if (best === undefined || rule.from.text.length > best.from.text.length) best = rule;
  }
  return best;
}

function covers(from: Location, ref: ImageRef): boolean {
  if (from.domain !== ref.domain.toLowerCase()) return false;
  return from.path === '' || ref.path === from.path || ref.path.startsWith(`${from.path}/`);
}
