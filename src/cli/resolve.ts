/** `digest-pinner resolve REF...`: one pinned reference per line, or JSON. */
import { COMMON_FLAGS, COMMON_FLAGS_USAGE, commonOptions, concurrencyFlag, DROP_TAG_FLAG, parseFlags, UsageError } from './options.js';
import { buildCore, type Core } from './core.js';
import { writeLine, type CliIo } from './io.js';
import { mapBounded } from './pinning.js';
import { parseImage, pinnedReference } from '../reference/index.js';
import { DigestPinnerError } from '../errors.js';
import { failureReason } from '../resolve/index.js';

export const RESOLVE_USAGE = `Usage: digest-pinner resolve [flags] REF...

Prints each reference pinned to its digest, one per line, in the order given.
Exit code 1 when any reference could not be resolved (each failure is named on stderr).

Flags:
  --output text|json          output format (default text)
  --concurrency N             references resolved at once (default 8)
  --drop-tag                  write repository@sha256:… without the tag
${COMMON_FLAGS_USAGE}`;

interface ResolveResult {
  readonly input: string;
  readonly reference?: string;
  readonly digest?: string;
  readonly error?: string;
  readonly code?: string;
}

async function resolveOne(core: Core, input: string, dropTag: boolean): Promise<ResolveResult> {
  try {
    // Rewrite rules (--config) move the image before it is pinned, as in the webhook.
    const ref = core.rewrite(parseImage(input));
    const resolution = await core.resolver.resolve(ref, { credentials: await core.credentialsFor(ref), signal: AbortSignal.timeout(60_000) });
    return { input, reference: pinnedReference(ref, resolution.digest, { dropTag }), digest: resolution.digest };
  } catch (error) {
    return { input, error: failureReason(error), code: error instanceof DigestPinnerError ? error.code : 'DP_ERR_UNKNOWN' };
  }
}

/** Returns the exit code. */
export async function resolveCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseFlags({
    args: [...argv],
    allowPositionals: true,
    options: { ...COMMON_FLAGS, ...DROP_TAG_FLAG, output: { type: 'string' }, concurrency: { type: 'string' } },
  });
  if (values.help === true) {
    writeLine(io.stdout, RESOLVE_USAGE);
    return 0;
  }
  if (positionals.length === 0) throw new UsageError('resolve needs at least one image reference');
  const output = values.output ?? 'text';
  if (output !== 'text' && output !== 'json') throw new UsageError(`--output ${JSON.stringify(output)} must be text or json`);
  const concurrency = concurrencyFlag(values.concurrency);
  const options = commonOptions(values);
  const core = await buildCore({ ...options, homeDir: io.homeDir, env: io.env, version: io.version });
  try {
    const outcomes = await mapBounded(positionals, concurrency, (input) => resolveOne(core, input, options.dropTag));
    if (output === 'json') writeLine(io.stdout, JSON.stringify(outcomes, null, 2));
    for (const outcome of outcomes) {
      if (outcome.error !== undefined) writeLine(io.stderr, `digest-pinner: cannot pin ${outcome.input}: ${outcome.error}`);
      else if (output === 'text' && outcome.reference !== undefined) writeLine(io.stdout, outcome.reference);
    }
    return outcomes.some((o) => o.error !== undefined) ? 1 : 0;
  } finally {
    await core.close();
  }
}
