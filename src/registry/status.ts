/** Non-2xx answers of a registry or token service, turned into failures. */
import type { Credential } from '../credentials/types.js';
import { RegistryFailure, type FailureKind } from './failure.js';
import { ociErrorCode } from './manifest.js';
import { parseRetryAfter } from './retry-after.js';
import type { IncomingResponse } from './transport.js';

/** Error bodies are read only for their OCI error code; more than this is not an error document. */
const ERROR_BODY_LIMIT = 64 * 1024;

/** Who answered and on whose behalf, for the failure's reason. */
export interface StatusContext {
  /** e.g. `registry`, `token service auth.docker.io`. */
  readonly who: string;
  /** The registry host, to say where credentials are missing. */
  readonly registryHost: string;
  readonly credential: Credential | undefined;
  /** What a 404 means here: a missing manifest, or a protocol error (token service). */
  readonly notFound: FailureKind;
  readonly nowMs: number;
}

/** The failure for a non-2xx response; consumes the body (reading at most 64 KiB for the error code). */
export async function failureForStatus(response: IncomingResponse, context: StatusContext): Promise<RegistryFailure> {
  const code = await errorCodeOf(response);
  const answered = `${context.who} answered ${response.status}${code === undefined ? '' : ` ${code}`}`;
  const status = response.status;
  if (status === 401 || status === 403) {
    return new RegistryFailure('auth', `${answered}: ${authProblem(context, status)}`, { status });
  }
  if (status === 404) {
    const detail = context.notFound === 'manifest-unknown' && code === undefined ? ' (no such tag or repository)' : '';
    return new RegistryFailure(context.notFound, `${answered}${detail}`, { status });
  }
  if (status === 429) {
    const retryAfterMs = parseRetryAfter(response.header('retry-after'), context.nowMs);
    const wait = retryAfterMs === undefined ? '' : ` (retry after ${Math.ceil(retryAfterMs / 1000)} s)`;
    return new RegistryFailure('rate-limited', `${answered}: rate limited${wait}`, { status, retryAfterMs });
  }
  if (status >= 500) return new RegistryFailure('unavailable', answered, { status });
  return new RegistryFailure('protocol', `${answered}, which the distribution protocol does not expect here`, { status });
}

/** What to tell the operator about credentials after a 401 (not authenticated) or 403 (not allowed). */
export function authProblem(context: Pick<StatusContext, 'credential' | 'registryHost'>, status: number): string {
  const { credential } = context;
  if (credential === undefined) return `credentials are required and none are configured for ${context.registryHost}`;
  const user = `user ${JSON.stringify(credential.username)} (${credential.source})`;
  return status === 403 ? `${user} is not allowed to pull this repository` : `credentials of ${user} were refused`;
}

async function errorCodeOf(response: IncomingResponse): Promise<string | undefined> {
  try {
    return ociErrorCode(await response.readBody(ERROR_BODY_LIMIT, 'error body too large'));
  } catch {
    await response.discard();
    return undefined;
  }
}
