/** Short, secret-free descriptions of client-node failures for logs. */
import { ApiException } from '@kubernetes/client-node';
import { describeError } from '../errors.js';
import { isRecord, parseJson, stringAt } from '../json.js';
import { truncate } from '../text.js';

const MAX_LENGTH = 300;

/**
 * `HTTP 403: <Status message>` for an API error (client-node's own message repeats the
 * whole body and the response headers), else the error's message; at most 300 characters.
 */
export function describeKubeError(error: unknown): string {
  if (error instanceof ApiException) return truncate(`HTTP ${error.code}: ${statusMessage(error.body)}`, MAX_LENGTH);
  if (isRecord(error) && typeof error['statusCode'] === 'number') return truncate(`HTTP ${error['statusCode']}: ${describeError(error)}`, MAX_LENGTH);
  return truncate(describeError(error), MAX_LENGTH);
}

function statusMessage(body: unknown): string {
  const parsed = typeof body === 'string' ? parseJson(body) : body;
  if (isRecord(parsed)) return stringAt(parsed, 'message') ?? stringAt(parsed, 'reason') ?? 'no message';
  return 'no message';
}
