/** A KRM function's settings from its functionConfig: a ConfigMap's data or a typed object, keyed by flag name. */
import { describe, expect, it } from 'vitest';
import { FunctionConfigError, functionConfigArgs } from '../../src/cli/function-config.js';

const FLAGS = {
  help: { type: 'boolean', short: 'h' },
  'drop-tag': { type: 'boolean' },
  concurrency: { type: 'string' },
  'ca-file': { type: 'string', multiple: true },
} as const;

const configMap = (data: unknown): unknown => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'pin' }, data });
const typed = (spec: unknown): unknown => ({ apiVersion: 'digest-pinner.io/v1alpha1', kind: 'PinImages', metadata: { name: 'pin' }, spec });

function problem(functionConfig: unknown): string {
  try {
    functionConfigArgs(functionConfig, FLAGS);
  } catch (error) {
    if (error instanceof FunctionConfigError) return error.message;
    throw error;
  }
  throw new Error('expected a FunctionConfigError');
}

describe('functionConfigArgs', () => {
  it.each([[undefined], [null], [configMap(undefined)], [typed(undefined)], [configMap({})]])('%j carries no settings', (functionConfig) => {
    expect(functionConfigArgs(functionConfig, FLAGS)).toEqual([]);
  });

  it('reads a ConfigMap: strings, booleans as "true"/"false", lists comma-separated', () => {
    expect(functionConfigArgs(configMap({ 'drop-tag': 'true', concurrency: '4', 'ca-file': 'a.pem, b.pem,' }), FLAGS)).toEqual([
      '--drop-tag',
      '--concurrency=4',
      '--ca-file=a.pem',
      '--ca-file=b.pem',
    ]);
    expect(functionConfigArgs(configMap({ 'drop-tag': 'false' }), FLAGS)).toEqual([]);
  });

  it('reads a typed object: booleans, numbers, one string or a list', () => {
    expect(functionConfigArgs(typed({ 'drop-tag': true, concurrency: 4, 'ca-file': ['a.pem', 'b.pem'] }), FLAGS)).toEqual([
      '--drop-tag',
      '--concurrency=4',
      '--ca-file=a.pem',
      '--ca-file=b.pem',
    ]);
    expect(functionConfigArgs(typed({ 'ca-file': 'a.pem' }), FLAGS)).toEqual(['--ca-file=a.pem']);
  });

  it('keeps a value that starts with - a value', () => {
    expect(functionConfigArgs(configMap({ concurrency: '-1' }), FLAGS)).toEqual(['--concurrency=-1']);
  });

  it.each([
    [{ kind: 'ConfigMap' }, 'functionConfig is an object without apiVersion and kind: digest-pinner krm reads a v1 ConfigMap (data) or a digest-pinner.io/v1alpha1 PinImages (spec)'],
    [{ apiVersion: 'example.com/v1', kind: 'SetLabels' }, 'functionConfig is example.com/v1 SetLabels: digest-pinner krm reads a v1 ConfigMap (data) or a digest-pinner.io/v1alpha1 PinImages (spec)'],
    [configMap(['drop-tag']), 'functionConfig data must be a mapping of settings, not a list'],
    [configMap({ 'dorp-tag': 'true' }), 'functionConfig data.dorp-tag: not a setting of digest-pinner krm (settings: drop-tag, concurrency, ca-file)'],
    [configMap({ help: 'true' }), 'functionConfig data.help: not a setting of digest-pinner krm (settings: drop-tag, concurrency, ca-file)'],
    [configMap({ 'drop-tag': 'yes' }), 'functionConfig data.drop-tag: must be "true" or "false", not "yes"'],
    [configMap({ concurrency: '' }), 'functionConfig data.concurrency: must be a non-empty string, not ""'],
    [typed({ 'drop-tag': 'true' }), 'functionConfig spec.drop-tag: must be true or false, not "true"'],
    [typed({ concurrency: { n: 4 } }), 'functionConfig spec.concurrency: must be a non-empty string or a number, not a mapping'],
    [typed({ 'ca-file': ['a.pem', 3, null] }), 'functionConfig spec.ca-file: must be a string or a list of strings, not a list'],
  ])('%j is refused: %s', (functionConfig, message) => {
    expect(problem(functionConfig)).toBe(message);
  });

  it('is a FunctionConfigError with a stable code', () => {
    expect(() => functionConfigArgs(configMap({ x: '1' }), FLAGS)).toThrow(expect.objectContaining({ code: 'DP_ERR_KRM_FUNCTION_CONFIG' }) as Error);
  });
});
