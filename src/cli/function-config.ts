/**
 * The settings a KRM function reads from its ResourceList's `functionConfig`, as kpt and
 * kustomize configure functions: a ConfigMap's `data` (kpt's `configMap:` and `fn eval -- k=v`
 * make one) or a typed object (kpt's `configPath:`, kustomize's transformer entries). Its keys
 * are the command's flag names, so one name means one setting wherever it is written. Pure:
 * it turns the settings into flag arguments, which the command parses as its own.
 */
import type { ParseArgsConfig } from 'node:util';
import { describeValue, isRecord, member } from '../json.js';
import { DigestPinnerError } from '../errors.js';

export const FUNCTION_CONFIG_API_VERSION = 'digest-pinner.io/v1alpha1';
export const FUNCTION_CONFIG_KIND = 'PinImages';

type FlagOptions = NonNullable<ParseArgsConfig['options']>;

/** Settings every functionConfig may carry that are not flags of the function's own. */
const NOT_SETTINGS: ReadonlySet<string> = new Set(['help']);

/** A functionConfig the function cannot use; the message names the field. */
export class FunctionConfigError extends DigestPinnerError {
  readonly code = 'DP_ERR_KRM_FUNCTION_CONFIG';
}

type Flag = FlagOptions[string];

/** How one form of functionConfig holds its settings. */
interface Form {
  /** The field holding the settings. */
  readonly at: 'data' | 'spec';
  /** The setting's values as flag values (booleans "true"/"false"), or undefined when `value` has the wrong type. */
  read(flag: Flag, value: unknown): string[] | undefined;
  /** What `read` takes, for the message when it takes nothing. */
  expected(flag: Flag): string;
}

/** A ConfigMap's data holds strings only: booleans as "true"/"false", lists comma-separated. */
const CONFIG_MAP: Form = {
  at: 'data',
  read(flag, value) {
    if (typeof value !== 'string') return undefined;
    if (flag.type === 'boolean') return value === 'true' || value === 'false' ? [value] : undefined;
    if (flag.multiple === true) return value.split(',').map((item) => item.trim()).filter((item) => item !== '');
    return value === '' ? undefined : [value];
  },
  expected: (flag) => (flag.type === 'boolean' ? 'must be "true" or "false"' : flag.multiple === true ? 'must be a comma-separated list' : 'must be a non-empty string'),
};

/** A typed object holds YAML values: booleans, numbers, strings, lists of strings. */
const TYPED: Form = {
  at: 'spec',
  read(flag, value) {
    if (flag.type === 'boolean') return typeof value === 'boolean' ? [String(value)] : undefined;
    const items = flag.multiple === true && Array.isArray(value) ? (value as readonly unknown[]).map(scalar) : [scalar(value)];
    return items.every((item): item is string => item !== undefined) ? items : undefined;
  },
  expected: (flag) => (flag.type === 'boolean' ? 'must be true or false' : flag.multiple === true ? 'must be a string or a list of strings' : 'must be a non-empty string or a number'),
};

function scalar(value: unknown): string | undefined {
  if (typeof value === 'number') return String(value);
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * The flag arguments `functionConfig` stands for (`--name=value`, booleans as `--name`),
 * none when it is absent. Throws FunctionConfigError for any other kind of object, an
 * unknown key or a value of the wrong type.
 */
export function functionConfigArgs(functionConfig: unknown, flags: FlagOptions): string[] {
  if (functionConfig === undefined || functionConfig === null) return [];
  const apiVersion = member(functionConfig, 'apiVersion');
  const kind = member(functionConfig, 'kind');
  if (apiVersion === 'v1' && kind === 'ConfigMap') return settingsArgs(functionConfig, CONFIG_MAP, flags);
  if (apiVersion === FUNCTION_CONFIG_API_VERSION && kind === FUNCTION_CONFIG_KIND) return settingsArgs(functionConfig, TYPED, flags);
  const found = typeof apiVersion === 'string' && typeof kind === 'string' ? `${apiVersion} ${kind}` : 'an object without apiVersion and kind';
  throw new FunctionConfigError(`functionConfig is ${found}: digest-pinner krm reads a v1 ConfigMap (data) or a ${FUNCTION_CONFIG_API_VERSION} ${FUNCTION_CONFIG_KIND} (spec)`);
}

function settingsArgs(functionConfig: unknown, form: Form, flags: FlagOptions): string[] {
  const settings = member(functionConfig, form.at);
  if (settings === undefined || settings === null) return [];
  if (!isRecord(settings)) throw new FunctionConfigError(`functionConfig ${form.at} must be a mapping of settings, not ${describeValue(settings)}`);
  const known = Object.keys(flags).filter((name) => !NOT_SETTINGS.has(name));
  return Object.entries(settings).flatMap(([name, value]) => {
    const field = `functionConfig ${form.at}.${name}`;
    const flag = known.includes(name) ? flags[name] : undefined;
    if (flag === undefined) throw new FunctionConfigError(`${field}: not a setting of digest-pinner krm (settings: ${known.join(', ')})`);
    const values = form.read(flag, value);
    if (values === undefined) throw new FunctionConfigError(`${field}: ${form.expected(flag)}, not ${describeValue(value)}`);
    if (flag.type === 'boolean') return values[0] === 'true' ? [`--${name}`] : [];
    return values.map((item) => `--${name}=${item}`);
  });
}
