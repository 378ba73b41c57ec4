/**
 * Request bodies under bounds: each one's size, depth and value count, and the bytes and JSON
 * values of all bodies held at once, from the first byte read until the response ends (a parsed
 * review lives as long as its admission). A body that does not fit waits, the smallest first,
 * until room is made or its time to wait passes (a share of its review's deadline); ordinary
 * reviews have room of their own.
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

/** The webhook holds as many bodies as it may, and this one's turn did not come in its time to wait. */
export class ServerBusyError extends DigestPinnerError {
  readonly code = 'DP_ERR_BUSY';
  readonly statusCode = 503;

  constructor(what: string) {
    super(`the webhook is busy: it holds as many ${what} of reviews at once as it may, and this review's turn did not come in time to be answered before its deadline`);
  }
}

/**
 * One quantity (bytes or JSON values) held at once, in two lanes: requests no larger than an
 * ordinary review's share a budget of their own, so one never waits behind the largest bodies.
 */
export class Lanes {
  readonly ordinaryMax: number;
  readonly ordinary: Budget;
  readonly large: Budget;

  constructor(ordinaryMax: number, ordinaryCapacity: number, largeCapacity: number) {
    this.ordinaryMax = ordinaryMax;
    this.ordinary = new Budget(ordinaryCapacity);
    this.large = new Budget(largeCapacity);
  }

  /** The lane of a request for `amount`; a request of unknown size (a chunked body) is large. */
  for(amount: number | undefined): Budget {
    return amount !== undefined && amount <= this.ordinaryMax ? this.ordinary : this.large;
  }
}

/** The bytes and JSON values of all bodies held at once. */
export class BodyBudgets {
  readonly bytes: Lanes;
  readonly values: Lanes;

  constructor(limits: BudgetLimits) {
    this.bytes = new Lanes(limits.ordinaryBodyBytes, limits.ordinaryBodyBytesInFlight, limits.bodyBytesInFlight);
    this.values = new Lanes(limits.ordinaryJsonValues, limits.ordinaryJsonValuesInFlight, limits.jsonValuesInFlight);
  }
}

type BudgetLimits = Pick<
  ServerLimits,
  'ordinaryBodyBytes' | 'ordinaryBodyBytesInFlight' | 'bodyBytesInFlight' | 'ordinaryJsonValues' | 'ordinaryJsonValuesInFlight' | 'jsonValuesInFlight'
>;

/**
 * One request's share of the budgets. Bytes are taken before values and a holder of values
 * never waits again, so waits cannot form a cycle. `release()` when the response ends gives
 * back everything and ends any wait.
 */
export class BodyHolding {
  readonly budgets: BodyBudgets;
  readonly #waitUntil: number;
  readonly #held = new Map<Budget, number>();
  #released = false;
  #waits: { readonly controller: AbortController; readonly timer: NodeJS.Timeout } | undefined;

  /** `waitUntil` (epoch ms): no wait lasts past it. */
  constructor(budgets: BodyBudgets, waitUntil: number) {
    this.budgets = budgets;
    this.#waitUntil = waitUntil;
  }

  /**
   * Takes `amount` of `budget` (one of `budgets`' lanes): undefined when taken at once, else the
   * wait for room; `what` names the quantity in a busy answer.
   */
  take(budget: Budget, amount: number, what: string): Promise<void> | undefined {
    const hold = (): void => {
      // Taken after the response ended (its client left mid-body): nothing would give it back.
      if (this.#released) budget.release(amount);
      else this.#held.set(budget, (this.#held.get(budget) ?? 0) + amount);
    };
    if (budget.tryAcquire(amount)) {
      hold();
      return undefined;
    }
    return budget.acquire(amount, this.#signal(what), hold);
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    if (this.#waits !== undefined) {
      clearTimeout(this.#waits.timer);
      this.#waits.controller.abort(new Error('the request ended'));
    }
    for (const [budget, amount] of this.#held) budget.release(amount);
    this.#held.clear();
  }

  /** The signal waits listen to: made at the first wait, so a request that never waits arms no timer. */
  #signal(what: string): AbortSignal {
    if (this.#waits === undefined) {
      const controller = new AbortController();
      if (this.#released) controller.abort(new Error('the request ended'));
      const timer = setTimeout(() => {
        controller.abort(new ServerBusyError(what));
      }, Math.max(0, this.#waitUntil - Date.now())).unref();
      this.#waits = { controller, timer };
    }
    return this.#waits.controller.signal;
  }
}

/** A Content-Length value (Node's parser has refused any other before a handler sees it). */
const DECIMAL = /^\d{1,15}$/;

/**
 * Reads one JSON request body from `payload` under `limits`, holding its bytes as they arrive
 * and, once its shape is known, its values; resolves to the parsed JSON. Throws BodyTooLargeError, JsonShapeError,
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
  const { bytes, values } = holding.budgets;
  // Bytes are held as they arrive, in the lane of the size declared (a chunked body's is
  // unknown: large), so a body that trickles holds only what it sent.
  const lane = bytes.for(declared);
  const scanner = new JsonShapeScanner(limits);
  // A refused body of declared size is answered at once and read on to its end, unkept, so its
  // client (still sending) gets the answer rather than a reset.
  const scan = (chunk: Buffer): void => {
    try {
      scanner.feed(chunk);
    } catch (error) {
      // What was read is dropped: the room it held is free for others at once.
      holding.release();
      throw error;
    }
  };
  const body = await readChunks(payload, { maxBytes: limits.bodyBytes, drainRefused: declared !== undefined }, (chunk) => {
    const waiting = holding.take(lane, chunk.length, 'bytes');
    if (waiting === undefined) {
      scan(chunk);
      return undefined;
    }
    return waiting.then(() => {
      scan(chunk);
    });
  });
  if (body.length === 0) throw new InvalidReviewError('body is empty');
  await holding.take(values.for(scanner.values), scanner.values, 'JSON values');
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    throw new InvalidReviewError('body is not valid JSON');
  }
}

/**
 * The whole of `payload`, each chunk handed to `each` as it arrives (the stream pauses while
 * `each`'s promise is pending). A body `each` refuses is, with `drainRefused`, refused at once
 * and read on to its end and dropped; any other failure leaves the stream unread,
 * not destroyed, so the error can still be answered on its connection (which is then closed).
 */
function readChunks(payload: Readable, options: { readonly maxBytes: number; readonly drainRefused: boolean }, each: (chunk: Buffer) => Promise<void> | undefined): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    /** A chunk's `each` still pending: the body is complete only once it settles ('end' may come first). */
    let pending: Promise<void> | undefined;
    let ended = false;
    const detach = (): void => {
      payload.removeListener('data', onData);
      payload.removeListener('end', onEnd);
      payload.removeListener('error', onError);
    };
    function fail(error: unknown): void {
      detach();
      reject(error instanceof Error ? error : new Error(String(error)));
    }
    function refuse(error: unknown): void {
      if (!options.drainRefused) {
        fail(error);
        return;
      }
      detach();
      chunks.length = 0;
      void drain(payload);
      reject(error instanceof Error ? error : new Error(String(error)));
    }
    function onError(error: unknown): void {
      fail(new BodyNotReceivedError(error));
    }
    function onEnd(): void {
      ended = true;
      if (pending !== undefined) return;
      detach();
      resolve(Buffer.concat(chunks, received));
    }
    function onData(chunk: Buffer | string): void {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      received += bytes.length;
      if (received > options.maxBytes) {
        fail(new BodyTooLargeError(options.maxBytes));
        return;
      }
      chunks.push(bytes);
      try {
        pending = each(bytes);
      } catch (error) {
        refuse(error);
        return;
      }
      if (pending === undefined) return;
      payload.pause();
      pending.then(
        () => {
          pending = undefined;
          if (ended) onEnd();
          else payload.resume();
        },
        refuse,
      );
    }
    payload.on('data', onData);
    payload.on('end', onEnd);
    payload.on('error', onError);
  });
}

/** Reads `payload` to its end (or until it fails) and drops what it reads. */
function drain(payload: Readable): Promise<void> {
  return new Promise((resolve) => {
    if (payload.readableEnded || payload.destroyed) {
      resolve();
      return;
    }
    payload.once('end', resolve);
    payload.once('close', resolve);
    payload.once('error', () => {
      resolve();
    });
    payload.resume();
  });
}
