/** Short, secret-free descriptions of client-node failures for logs. */
import { ApiException } from '@kubernetes/client-node';
import { describeError } from '../errors.js';
import { isRecord, stringAt } from '../json.js';

const MAX_LENGTH = 300;

/**
 * `HTTP 403: <Status message>` for an API error (client-node's own message repeats the
 * whole body and the response headers), else the error's message; at most 300 characters.
 */
export function describeKubeError(error: unknown): string {
  if (error instanceof ApiException) return shorten(`HTTP ${error.code}: ${statusMessage(error.body)}`);
  if (isRecord(error) && typeof error['statusCode'] === 'number') return shorten(`HTTP ${error['statusCode']}: ${describeError(error)}`);
  return shorten(describeError(error));
}

function statusMessage(body: unknown): string {
  const parsed = typeof body === 'string' ? parseJson(body) : body;
  if (isRecord(parsed)) return stringAt(parsed, 'message') ?? stringAt(parsed, 'reason') ?? 'no message';
  return 'no message';
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function shorten(text: string): string {
  return text.length > MAX_LENGTH ? `${text.slice(0, MAX_LENGTH - 1)}…` : text;
}
