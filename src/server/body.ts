/**
 * Request bodies under bounds: each one's size, depth and value count, and the bytes and JSON
 * values of all bodies held at once, from the first byte read until the response ends (a parsed
 * review lives as long as its admission). A body that does not fit waits, the smallest first,
 * until room is made or its review's deadline passes.
 */
import type { Readable } from 'node:stream';
import { InvalidReviewError } from '../admission/index.js';
import { describeError, DigestPinnerError } from '../errors.js';
import { Budget } from './budget.js';
import { JsonShapeScanner } from './json-shape.js';
import type { ServerLimits } from './limits.js';

/** A request body is larger than the webhook accepts. */
export class BodyTooLargeError extends DigestPinnerError {
  readonly code = 'DP_ERR_BODY_TOO_LARGE';
  readonly statusCode = 413;

  constructor(limit: number) {
    super(`request body is larger than ${limit} bytes`);
  }
}

/** A request body stopped arriving: its client closed the connection, or sent a malformed chunk. */
export class BodyNotReceivedError extends DigestPinnerError {
  readonly code = 'DP_ERR_BODY_NOT_RECEIVED';
  readonly statusCode = 400;

  constructor(cause: unknown) {
    super(`request body not received: ${describeError(cause)}`, { cause });
  }
}

/** The webhook holds as many bodies as it may, and this one could not be read before its deadline. */
export class ServerBusyError extends DigestPinnerError {
  readonly code = 'DP_ERR_BUSY';
  readonly statusCode = 503;

  constructor(what: string) {
    super(`the webhook is busy: it holds as many ${what} of reviews at once as it may, and this review's turn did not come before its deadline`);
  }
}

/** The bytes and JSON values of all bodies held at once. */
export class BodyBudgets {
  readonly bytes: Budget;
  readonly values: Budget;

  constructor(limits: Pick<ServerLimits, 'bodyBytesInFlight' | 'jsonValuesInFlight'>) {
    this.bytes = new Budget(limits.bodyBytesInFlight);
    this.values = new Budget(limits.jsonValuesInFlight);
  }
}

/**
 * One request's share of the budgets. Bytes are taken before values and a holder of values
 * never waits again, so waits cannot form a cycle. `release()` when the response ends gives
 * back everything and ends any wait.
 */
export class BodyHolding {
  readonly #budgets: BodyBudgets;
  readonly #deadlineAt: number;
  #bytes = 0;
  #values = 0;
  #released = false;
  #waits: { readonly controller: AbortController; readonly timer: NodeJS.Timeout } | undefined;

  /** `deadlineAt`: the review's deadline (epoch ms); no wait lasts past it. */
  constructor(budgets: BodyBudgets, deadlineAt: number) {
    this.#budgets = budgets;
    this.#deadlineAt = deadlineAt;
  }

  /** Takes `amount` bytes, waiting for room. */
  takeBytes(amount: number): Promise<void> {
    return this.#budgets.bytes.acquire(amount, this.#signal('bytes'), () => {
      this.#bytes += amount;
    });
  }

  /** Takes `amount` JSON values, waiting for room. */
  takeValues(amount: number): Promise<void> {
    return this.#budgets.values.acquire(amount, this.#signal('JSON values'), () => {
      this.#values += amount;
    });
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    if (this.#waits !== undefined) {
      clearTimeout(this.#waits.timer);
      this.#waits.controller.abort(new Error('the request ended'));
    }
    this.#budgets.bytes.release(this.#bytes);
    this.#budgets.values.release(this.#values);
    this.#bytes = 0;
    this.#values = 0;
  }

  /** The signal waits listen to: made at the first wait, so a request that never waits arms no timer. */
  #signal(what: string): AbortSignal {
    if (this.#waits === undefined) {
      const controller = new AbortController();
      if (this.#released) controller.abort(new Error('the request ended'));
      const timer = setTimeout(() => {
        controller.abort(new ServerBusyError(what));
      }, Math.max(0, this.#deadlineAt - Date.now())).unref();
      this.#waits = { controller, timer };
    }
    return this.#waits.controller.signal;
  }
}

/** A Content-Length value (Node's parser has refused any other before a handler sees it). */
const DECIMAL = /^\d{1,15}$/;

/**
 * Reads one JSON request body from `payload` under `limits`, holding its bytes (all at once
 * when `contentLength` declares them, chunk by chunk otherwise) and, once its shape is known,
 * its values; resolves to the parsed JSON. Throws BodyTooLargeError, JsonShapeError,
 * InvalidReviewError (not JSON), BodyNotReceivedError or ServerBusyError.
 */
export async function readJsonBody(
  payload: Readable,
  contentLength: string | undefined,
  holding: BodyHolding,
  limits: Pick<ServerLimits, 'bodyBytes' | 'jsonDepth' | 'jsonValues'>,
): Promise<unknown> {
  const declared = contentLength !== undefined && DECIMAL.test(contentLength) ? Number(contentLength) : undefined;
  if (declared !== undefined && declared > limits.bodyBytes) throw new BodyTooLargeError(limits.bodyBytes);
  if (declared !== undefined) await holding.takeBytes(declared);
  const scanner = new JsonShapeScanner(limits);
  const body = await readChunks(payload, limits.bodyBytes, (chunk) => {
    if (declared !== undefined) {
      scanner.feed(chunk);
      return undefined;
    }
    return holding.takeBytes(chunk.length).then(() => {
      scanner.feed(chunk);
    });
  });
  if (body.length === 0) throw new InvalidReviewError('body is empty');
  await holding.takeValues(scanner.values);
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    throw new InvalidReviewError('body is not valid JSON');
  }
}

/**
 * The whole of `payload`, each chunk handed to `each` as it arrives (the stream pauses while
 * `each`'s promise is pending). On failure the stream is left unread, not destroyed, so the
 * error can still be answered on its connection (which is then closed).
 */
function readChunks(payload: Readable, maxBytes: number, each: (chunk: Buffer) => Promise<void> | undefined): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const detach = (): void => {
      payload.removeListener('data', onData);
      payload.removeListener('end', onEnd);
      payload.removeListener('error', onError);
    };
    function fail(error: unknown): void {
      detach();
      reject(error instanceof Error ? error : new Error(String(error)));
    }
    function onError(error: unknown): void {
      fail(new BodyNotReceivedError(error));
    }
    function onEnd(): void {
      detach();
      resolve(Buffer.concat(chunks, received));
    }
    function onData(chunk: Buffer | string): void {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      received += bytes.length;
      if (received > maxBytes) {
        fail(new BodyTooLargeError(maxBytes));
        return;
      }
      chunks.push(bytes);
      let pending: Promise<void> | undefined;
      try {
        pending = each(bytes);
      } catch (error) {
        fail(error);
        return;
      }
      if (pending === undefined) return;
      payload.pause();
      pending.then(() => payload.resume(), fail);
    }
    payload.on('data', onData);
    payload.on('end', onEnd);
    payload.on('error', onError);
  });
}
