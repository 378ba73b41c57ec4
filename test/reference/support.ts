/** Assertions shared by the reference tests. */
import { expect } from 'vitest';
import { ReferenceRuleError } from '../../src/reference/index.js';
import type { NamedReference } from '../../src/reference/reference.js';

/** The error `run` throws; fails the test when it returns instead. */
export function thrownBy(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw, but it returned');
}

/** Asserts that `run` throws the rule error with `code`, whose message quotes `input`. */
export function expectRuleError(run: () => unknown, expected: { code: string | undefined; input: string }): ReferenceRuleError {
  const error = thrownBy(run);
  expect(error).toBeInstanceOf(ReferenceRuleError);
  const rule = error as ReferenceRuleError;
  expect(rule.code).toBe(expected.code);
  expect(rule.input).toBe(expected.input);
  expect(rule.message).toContain(JSON.stringify(expected.input));
  return rule;
}

/** The reference written back as text, `name[:tag][@digest]` (Go's `String()`). */
export function written(ref: NamedReference): string {
  return ref.name + (ref.tag === undefined ? '' : `:${ref.tag}`) + (ref.digest === undefined ? '' : `@${ref.digest}`);
}
