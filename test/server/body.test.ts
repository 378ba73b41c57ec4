/** Reading a body under bounds: size, shape, and the bytes and values all bodies hold at once. */
import { once } from 'node:events';
import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { BodyBudgets, BodyHolding, BodyNotReceivedError, BodyTooLargeError, readJsonBody, ServerBusyError } from '../../src/server/body.js';
import { JsonShapeError } from '../../src/server/json-shape.js';

const LIMITS = {
  bodyBytes: 1_000,
  jsonDepth: 10,
  jsonValues: 50,
  bodyBytesInFlight: 2_000,
  jsonValuesInFlight: 80,
  ordinaryBodyBytes: 100,
  ordinaryBodyBytesInFlight: 300,
  ordinaryJsonValues: 10,
  ordinaryJsonValuesInFlight: 30,
};
const never = new AbortController().signal;
/** A deadline no test reaches. */
const LATER = Date.now() + 3_600_000;

function chunks(...parts: string[]): Readable {
  return Readable.from(parts.map((p) => Buffer.from(p)));
}

describe('readJsonBody', () => {
  it('parses a body and holds its bytes and values until released', async () => {
    const budgets = new BodyBudgets(LIMITS);
    const holding = new BodyHolding(budgets, LATER);
    const text = JSON.stringify({ a: [1, 2, 3], b: 'x' });
    await expect(readJsonBody(chunks(text.slice(0, 5), text.slice(5)), String(text.length), holding, LIMITS)).resolves.toEqual({ a: [1, 2, 3], b: 'x' });
    expect(budgets.bytes.ordinary.used).toBe(text.length);
    expect(budgets.values.ordinary.used).toBe(6);
    holding.release();
    holding.release();
    expect(budgets.bytes.ordinary.used).toBe(0);
    expect(budgets.values.ordinary.used).toBe(0);
  });

  it('holds nothing for a body still arriving after its response ended (its client gone)', async () => {
    const budgets = new BodyBudgets(LIMITS);
    const holding = new BodyHolding(budgets, LATER);
    const payload = new PassThrough();
    const reading = readJsonBody(payload, '5', holding, LIMITS);
    payload.write('[1,');
    holding.release();
    payload.end('2]');
    await expect(reading).resolves.toEqual([1, 2]);
    expect(budgets.bytes.ordinary.used).toBe(0);
    expect(budgets.values.ordinary.used).toBe(0);
  });

  it('holds a body without Content-Length (chunked) as it arrives, as a large one (its size is unknown)', async () => {
    const budgets = new BodyBudgets(LIMITS);
    const holding = new BodyHolding(budgets, LATER);
    await expect(readJsonBody(chunks('[1,', '2]'), undefined, holding, LIMITS)).resolves.toEqual([1, 2]);
    expect(budgets.bytes.large.used).toBe(5);
    expect(budgets.bytes.ordinary.used).toBe(0);
  });

  it('reads an ordinary body at once while the largest hold all the room for large ones', async () => {
    const budgets = new BodyBudgets(LIMITS);
    await budgets.bytes.large.acquire(LIMITS.bodyBytesInFlight, never, () => undefined);
    await budgets.values.large.acquire(LIMITS.jsonValuesInFlight, never, () => undefined);
    await expect(readJsonBody(chunks('[1,2]'), '5', new BodyHolding(budgets, LATER), LIMITS)).resolves.toEqual([1, 2]);
  });

  it('refuses a declared size over the limit before reading a byte, and holds nothing', async () => {
    const budgets = new BodyBudgets(LIMITS);
    const payload = new PassThrough();
    await expect(readJsonBody(payload, '1001', new BodyHolding(budgets, LATER), LIMITS)).rejects.toThrow(BodyTooLargeError);
    expect(payload.readableFlowing).toBeNull();
    expect(budgets.bytes.large.used + budgets.bytes.ordinary.used).toBe(0);
  });

  it('refuses a chunked body once it passes the limit', async () => {
    const budgets = new BodyBudgets(LIMITS);
    await expect(readJsonBody(chunks(`"${'a'.repeat(600)}`, `${'a'.repeat(600)}"`), undefined, new BodyHolding(budgets, LATER), LIMITS)).rejects.toThrow(
      'request body is larger than 1000 bytes',
    );
  });

  it('refuses a body past the depth or value limits before JSON.parse, and never holds its values', async () => {
    const budgets = new BodyBudgets(LIMITS);
    const holding = new BodyHolding(budgets, LATER);
    const bomb = `[${Array.from({ length: 60 }, () => '[]').join(',')}]`;
    await expect(readJsonBody(chunks(bomb), String(bomb.length), holding, LIMITS)).rejects.toThrow(JsonShapeError);
    await expect(readJsonBody(chunks('['.repeat(11)), '11', holding, LIMITS)).rejects.toThrow('nests deeper than 10 levels');
    expect(budgets.values.large.used + budgets.values.ordinary.used).toBe(0);
  });

  it('refuses a body of declared size at once and reads the rest to its end, unkept, so its client gets the answer', async () => {
    const payload = new PassThrough();
    const reading = readJsonBody(payload, '40', new BodyHolding(new BodyBudgets(LIMITS), LATER), LIMITS);
    payload.write('['.repeat(11));
    await expect(reading).rejects.toThrow(JsonShapeError);
    // Still read after the refusal: the stream ends only if something consumes what follows.
    const ended = once(payload, 'end');
    payload.end(']'.repeat(11));
    await ended;
    expect(payload.listenerCount('data')).toBe(0);
  });

  it.each([
    ['empty', '', /body is empty/],
    ['malformed', '{"a":', /body is not valid JSON/],
  ])('answers an %s body with InvalidReviewError', async (_name, text, message) => {
    const holding = new BodyHolding(new BodyBudgets(LIMITS), LATER);
    await expect(readJsonBody(chunks(text), String(text.length), holding, LIMITS)).rejects.toThrow(message);
  });

  it('reports a body that stopped arriving (client gone) as not received, a client error', async () => {
    const payload = new PassThrough();
    const reading = readJsonBody(payload, '10', new BodyHolding(new BodyBudgets(LIMITS), LATER), LIMITS);
    payload.write('[1,');
    payload.destroy(new Error('aborted'));
    await expect(reading).rejects.toBeInstanceOf(BodyNotReceivedError);
    await expect(reading).rejects.toMatchObject({ statusCode: 400 });
  });

  it('makes a body wait while others hold the bytes, and reads it once they are given back', async () => {
    const budgets = new BodyBudgets(LIMITS);
    const first = new BodyHolding(budgets, LATER);
    const big = JSON.stringify('a'.repeat(1_500));
    await readJsonBody(chunks(big), String(big.length), first, { ...LIMITS, bodyBytes: 2_000 });
    const second = new BodyHolding(budgets, LATER);
    let read = false;
    // 600 bytes: a large body, and more than the 500 left beside the first.
    const next = JSON.stringify('b'.repeat(598));
    const reading = readJsonBody(chunks(next), String(next.length), second, LIMITS).finally(() => (read = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(read).toBe(false);
    expect(budgets.bytes.large.waiting).toBe(1);
    first.release();
    await expect(reading).resolves.toBe('b'.repeat(598));
  });

  it('gives up waiting at the review’s deadline with a 503 that says why', async () => {
    const budgets = new BodyBudgets(LIMITS);
    await budgets.bytes.ordinary.acquire(LIMITS.ordinaryBodyBytesInFlight, never, () => undefined);
    const past = new BodyHolding(budgets, Date.now() - 1);
    const reading = readJsonBody(chunks('[1]'), '3', past, LIMITS);
    await expect(reading).rejects.toBeInstanceOf(ServerBusyError);
    await expect(reading).rejects.toMatchObject({ statusCode: 503, code: 'DP_ERR_BUSY', message: expect.stringContaining('busy') as unknown });
    expect(budgets.bytes.ordinary.waiting).toBe(0);
  });

  it('ends a wait when its request ends (released), holding nothing afterwards', async () => {
    const budgets = new BodyBudgets(LIMITS);
    await budgets.bytes.ordinary.acquire(LIMITS.ordinaryBodyBytesInFlight, never, () => undefined);
    const holding = new BodyHolding(budgets, LATER);
    const reading = readJsonBody(chunks('[1]'), '3', holding, LIMITS);
    holding.release();
    await expect(reading).rejects.toThrow('the request ended');
    budgets.bytes.ordinary.release(LIMITS.ordinaryBodyBytesInFlight);
    expect(budgets.bytes.ordinary.used).toBe(0);
  });

  it('waits for JSON values too once the bytes are held (values held by others)', async () => {
    const budgets = new BodyBudgets(LIMITS);
    await budgets.values.ordinary.acquire(28, never, () => undefined);
    const holding = new BodyHolding(budgets, LATER);
    let read = false;
    const reading = readJsonBody(chunks('[1,2]'), '5', holding, LIMITS).finally(() => (read = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(read).toBe(false);
    expect(budgets.values.ordinary.waiting).toBe(1);
    budgets.values.ordinary.release(28);
    await expect(reading).resolves.toEqual([1, 2]);
    expect(budgets.values.ordinary.used).toBe(3);
  });
});
