/**
 * Defect 5 of issue 13: slow clients were never timed out, and connections were not capped. At
 * 3290712 a trickled body, or a chunked body never ended, was held for minutes; enough of them
 * against a small file-descriptor limit made every new connection (reviews, /healthz) fail, and
 * at a pod's usual limit memory was the bound (each idle TLS connection keeps its buffers). Here
 * a flood of slow clients of every kind is held open while ordinary reviews go on.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import '../helpers/registry-types.js';
import { SERVER_LIMITS } from '../../src/server/limits.js';
import { OrdinaryReviews } from './ordinary.js';
import { openSlowClients, type SlowClient } from './raw-clients.js';
import { latencyBound, MEMORY_LIMIT_BYTES, startWebhookProcess, type WebhookProcess } from './webhook-process.js';

const run = promisify(execFile);
const registries = inject('registries');
const { basic } = registries;

/** The file-descriptor limit the issue measured with. */
const FD_LIMIT = 1_024;
/** More slow clients than that limit allows. */
const FLOOD = 1_100;
/** Enough idle TLS connections to take the process past its memory limit at 3290712 (docs/security.md). */
const IDLE_TLS_FLOOD = 6_000;
/** Opening the floods, and waiting for the server to close them, takes a while on a shared machine. */
const FLOOD_TEST_TIMEOUT_MS = 180_000;
/**
 * Every slow client must have been closed by the server this soon after the flood: the longest
 * of its timeouts (a whole request), checked up to one interval late, twice over.
 */
const ALL_CLOSED_WITHIN_MS = 2 * (SERVER_LIMITS.requestTimeoutMs + SERVER_LIMITS.timeoutCheckIntervalMs);

let ordinary: OrdinaryReviews;
let webhook: WebhookProcess | undefined;
let flood: SlowClient[] = [];

beforeAll(async () => {
  ordinary = await OrdinaryReviews.prepare(basic, 'hostile/slow-clients', 20);
}, 120_000);

afterEach(async () => {
  for (const client of flood) client.destroy();
  flood = [];
  await webhook?.stop();
  webhook = undefined;
});

async function healthz(url: string): Promise<number | string> {
  const dispatcher = new Agent({ connect: { rejectUnauthorized: false } });
  try {
    const response = await request(`${url}/healthz`, { dispatcher, signal: AbortSignal.timeout(10_000) });
    await response.body.dump();
    return response.statusCode;
  } catch (error) {
    return String(error);
  } finally {
    await dispatcher.destroy();
  }
}

/** Ordinary reviews beside the flood, cold and cached in turn: each pinned, and within `bound` (ms). */
async function ordinaryReviews(count: number, bound: number): Promise<void> {
  for (let i = 0; i < count; i += 1) {
    const review = await ordinary.send(i % 2 === 0 ? 'cold' : 'cached', webhook ?? fail());
    expect(review.ms).toBeLessThan(bound);
  }
}

function fail(): never {
  throw new Error('no webhook running');
}

/** How many of `clients` are still open after `ms` (waiting no longer once all are closed). */
async function openAfter(clients: readonly SlowClient[], ms: number): Promise<number> {
  await Promise.race([Promise.all(clients.map((c) => c.closed)), sleep(ms)]);
  return clients.filter((c) => !c.isClosed()).length;
}

describe('slow clients', () => {
  it(`${FLOOD} of every kind against a ${FD_LIMIT}-descriptor limit: reviews and /healthz are answered, and every slow client is closed`, async () => {
    webhook = await startWebhookProcess(registries);
    await run('prlimit', ['--pid', String(webhook.pid), `--nofile=${FD_LIMIT}:${FD_LIMIT}`]);
    const bound = latencyBound(await ordinary.baseline(webhook));

    const port = Number(new URL(webhook.url).port);
    ({ clients: flood } = await openSlowClients(port, FLOOD));
    await ordinaryReviews(4, bound);
    expect(await healthz(webhook.url)).toBe(200);
    expect(webhook.alive(), await webhook.log()).toBe(true);
    expect(await webhook.peakRss()).toBeLessThan(MEMORY_LIMIT_BYTES);

    expect(await openAfter(flood, ALL_CLOSED_WITHIN_MS)).toBe(0);
    for (const client of flood) expect(['', 'HTTP/1.1 408'], client.kind).toContain((await client.closed).slice(0, 12));
    await ordinaryReviews(2, bound);
  }, FLOOD_TEST_TIMEOUT_MS);

  it(`${IDLE_TLS_FLOOD} idle TLS connections at the usual descriptor limit: memory stays bounded and reviews are answered`, async () => {
    webhook = await startWebhookProcess(registries);
    const bound = latencyBound(await ordinary.baseline(webhook));

    const port = Number(new URL(webhook.url).port);
    const { clients, refused } = await openSlowClients(port, IDLE_TLS_FLOOD, 64, ['silent-tls']);
    flood = clients;
    expect(refused).toBe(0);
    await ordinaryReviews(4, bound);
    expect(webhook.alive(), await webhook.log()).toBe(true);
    expect(await webhook.peakRss()).toBeLessThan(MEMORY_LIMIT_BYTES);
    // The cap: the oldest idle connections were closed to make room for newer ones.
    expect(flood.filter((c) => !c.isClosed()).length).toBeLessThanOrEqual(SERVER_LIMITS.maxConnections);
  }, FLOOD_TEST_TIMEOUT_MS);
});
