/** serve's two sources of the skip list: `--skip` patterns, or `--skip-configmap`, the strict policy's own list. */
import { InvalidSkipListError, skipList, type SkipList } from '../admission/index.js';
import type { ConfigMapName } from '../kube/configmap.js';
import { UsageError } from './options.js';

/** A ConfigMap's name or namespace: a DNS-1123 subdomain (a namespace is also a label, which the API server checks). */
const OBJECT_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

/** `--skip-configmap NAMESPACE/NAME`; undefined without it. */
export function skipConfigMapFlag(values: { skip?: string[]; 'skip-configmap'?: string }): ConfigMapName | undefined {
  const flag = values['skip-configmap'];
  if (flag === undefined) return undefined;
  if ((values.skip ?? []).length > 0) throw new UsageError('--skip and --skip-configmap are exclusive: the skip list comes from one place');
  const [namespace = '', name = '', ...rest] = flag.split('/');
  if (rest.length > 0 || !OBJECT_NAME.test(namespace) || !OBJECT_NAME.test(name)) {
    throw new UsageError(`--skip-configmap ${JSON.stringify(flag)} is not NAMESPACE/NAME (e.g. digest-pinner/digest-pinner-skip)`);
  }
  return { namespace, name };
}

/** The `--skip` patterns; a pattern the strict policy would ignore is a usage error. */
export function skipFlags(patterns: readonly string[]): SkipList {
  try {
    return skipList(patterns);
  } catch (error) {
    if (error instanceof InvalidSkipListError) throw new UsageError(`--skip: ${error.message}`, { cause: error });
    throw error;
  }
}
