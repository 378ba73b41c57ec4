/** Assertions shared by the reference tests. */
import { expect } from 'vitest';
import { ReferenceRuleError } from '../../src/reference/index.js';

/** The error `run` throws; fails the test when it returns instead. */
export function thrownBy(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw, but it returned');
}

/**
 * Asserts that `run` throws the rule error Go returns: the same message
 * word for word, the same sentinel, and the input quoted in our message.
 */
export function expectGoError(run: () => unknown, expected: { error?: string; errorId?: string; input: string }): ReferenceRuleError {
  const error = thrownBy(run);
  expect(error).toBeInstanceOf(ReferenceRuleError);
  const rule = error as ReferenceRuleError;
  if (expected.error !== undefined) expect(rule.goMessage).toBe(expected.error);
  if (expected.errorId !== undefined) expect(rule.goError).toBe(expected.errorId);
  expect(rule.message).toContain(JSON.stringify(expected.input));
  expect(rule.code).toMatch(/^DP_ERR_[A-Z_]+$/);
  return rule;
}
