/** serve's two sources of the skip list: `--skip` patterns, or `--skip-policy`, the strict policy's own list. */
import { InvalidSkipListError, skipList, type SkipList } from '../admission/index.js';
import { UsageError } from './options.js';

/** A ValidatingAdmissionPolicy's name: a DNS-1123 subdomain. */
const OBJECT_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

/** `--skip-policy NAME`; undefined without it. */
export function skipPolicyFlag(values: { skip?: string[]; 'skip-policy'?: string }): string | undefined {
  const name = values['skip-policy'];
  if (name === undefined) return undefined;
  if ((values.skip ?? []).length > 0) throw new UsageError('--skip and --skip-policy are exclusive: the skip list comes from one place');
  if (!OBJECT_NAME.test(name)) throw new UsageError(`--skip-policy ${JSON.stringify(name)} is not the name of a ValidatingAdmissionPolicy (e.g. digest-pinner-strict)`);
  return name;
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
