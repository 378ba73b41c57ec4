/** The transport's turn for a slot: a request waiting behind others is bounded by its caller, not by its timeout, and its wait says nothing about the host. */
import { Agent } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { RegistryFailure } from '../../src/registry/failure.js';
import { HostHealth } from '../../src/registry/host-health.js';
import { RequestSlots } from '../../src/registry/request-slots.js';
import { Transport } from '../../src/registry/transport.js';

const agent = new Agent();
afterAll(async () => {
  await agent.close();
});

describe('Transport with request slots', () => {
  it('a request waiting for a slot ends when its caller gives up: aborted, not counted against the host', async () => {
    const slots = new RequestSlots({ perOrigin: 1, total: 1 });
    const health = new HostHealth({ failureThreshold: 1, coolDownMs: 60_000 });
    const transport = new Transport(agent, { timeoutMs: 1, userAgent: 'test', health, slots });
    // Another request holds the only slot to this origin (nothing listens there: none is sent).
    const held = await slots.acquire('https://127.0.0.1:9', undefined, (reason) => new Error(String(reason)));
    const caller = new AbortController();
    const sent = transport.send({ url: new URL('https://127.0.0.1:9/v2/'), method: 'GET', headers: {}, signal: caller.signal });
    await new Promise((resolve) => setImmediate(resolve));
    expect(slots.waiting).toBe(1);
    caller.abort(new Error('admission deadline'));
    const failure = await sent.catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(RegistryFailure);
    expect(failure).toMatchObject({ kind: 'aborted', reason: 'request to 127.0.0.1:9 aborted by the caller while waiting for a connection (admission deadline)' });
    // A threshold of one failure: had the wait counted, the breaker would be open.
    expect(health.states().get('127.0.0.1:9')).toBeUndefined();
    expect(slots.waiting).toBe(0);
    held();
  });
});
