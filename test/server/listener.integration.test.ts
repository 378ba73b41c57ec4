/**
 * The listener's bounds over real TLS on loopback, with short limits: slow clients timed out,
 * connections capped (the oldest idle one makes room), bodies waiting for room, deep or huge
 * JSON refused with a clear 400, and shutdown closing what has no review in flight at once.
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { Agent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { skipList } from '../../src/admission/index.js';
import { generateCertificates } from '../../src/certs/index.js';
import { RegistryClient } from '../../src/registry/index.js';
import { Resolver } from '../../src/resolve/index.js';
import { buildApp } from '../../src/server/app.js';
import { SERVER_LIMITS, type ServerLimits } from '../../src/server/limits.js';
import { podReview } from '../support/webhook.js';

/** Timeouts no test reaches: a test that needs one sets it. */
const PATIENT: ServerLimits = { ...SERVER_LIMITS, handshakeTimeoutMs: 60_000, headersTimeoutMs: 60_000, requestTimeoutMs: 60_000, timeoutCheckIntervalMs: 100 };
/** A pinned image: admitted without any registry. */
const PINNED = `registry.example/app:v1@sha256:${'a'.repeat(64)}`;
/** An image whose credentials are looked up (where a test can hold its review) and whose registry refuses at once. */
const HELD = '127.0.0.1:1/held/app:v1';

const certs = await generateCertificates({ hosts: ['localhost', '127.0.0.1'], validDays: 1 });

interface Listener {
  readonly app: FastifyInstance;
  readonly port: number;
  /** POSTs a review (or a string body) on a fresh connection. */
  post(body: unknown, query?: string): Promise<{ status: number; text: string }>;
  /** Resolves once `count` reviews are held at their credential lookup. */
  held(count: number): Promise<void>;
  /** Lets every held review go on. */
  release(): void;
  close(): Promise<void>;
}

const open: Listener[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((l) => l.close()));
});

async function startListener(limits: ServerLimits): Promise<Listener> {
  const client = new RegistryClient({ env: {}, caFiles: [], insecureRegistries: ['127.0.0.1:1'], requestTimeoutMs: 2_000, userAgent: 'dp-listener-test' });
  const resolver = new Resolver({ source: client, cacheTtlMs: 60_000, cacheMax: 100, fetchTimeoutMs: 2_000 });
  let heldCount = 0;
  const arrivals: (() => void)[] = [];
  let releaseAll!: () => void;
  const gate = new Promise<void>((resolve) => (releaseAll = resolve));
  const app = buildApp(
    {
      mode: 'warn',
      deadlineMs: 8_000,
      resolver,
      credentials: async () => {
        heldCount += 1;
        for (const arrived of arrivals.splice(0)) arrived();
        await gate;
        return [undefined];
      },
      skip: skipList([]),
      dropTag: false,
      ready: () => true,
    },
    { https: { cert: certs.cert, key: certs.key }, limits },
  );
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const agents: Agent[] = [];
  const listener: Listener = {
    app,
    port,
    post: async (body, query = '') => {
      const agent = new Agent({ connect: { ca: certs.caCert }, connections: 1 });
      agents.push(agent);
      const response = await request(`https://127.0.0.1:${port}/mutate${query}`, {
        method: 'POST',
        dispatcher: agent,
        headers: { 'content-type': 'application/json' },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      return { status: response.statusCode, text: await response.body.text() };
    },
    held: async (count) => {
      while (heldCount < count) await new Promise<void>((resolve) => arrivals.push(resolve));
    },
    release: () => {
      releaseAll();
    },
    close: async () => {
      releaseAll();
      await app.close();
      // An agent whose request the server closed may be destroyed already.
      await Promise.all(agents.map((a) => a.destroy().catch(() => undefined)));
      await client.close();
    },
  };
  open.push(listener);
  return listener;
}

let uid = 0;
function review(images: readonly string[]): ReturnType<typeof podReview> {
  uid += 1;
  return podReview(images, { uid: `uid-${uid}`, namespace: 'team-a', name: `p${uid}` });
}

/** A raw client: TCP only, or TLS with the handshake done; collects what the server sends until it closes. */
interface RawClient {
  readonly socket: Socket;
  readonly closed: Promise<string>;
}

function tcpOnly(port: number): Promise<RawClient> {
  return new Promise((resolve) => {
    const socket = tcpConnect(port, '127.0.0.1', () => {
      resolve({ socket, closed: collect(socket) });
    });
  });
}

function tlsIdle(port: number): Promise<RawClient & { readonly socket: TLSSocket }> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ port, host: '127.0.0.1', ca: certs.caCert, servername: 'localhost' }, () => {
      resolve({ socket, closed: collect(socket) });
    });
    socket.once('error', reject);
  });
}

function collect(socket: Socket): Promise<string> {
  let received = '';
  socket.on('data', (data: Buffer) => (received += data.toString('latin1')));
  socket.on('error', () => undefined);
  return new Promise((resolve) => socket.once('close', () => { resolve(received); }));
}

describe('slow clients are timed out', () => {
  const quick: ServerLimits = { ...PATIENT, handshakeTimeoutMs: 300, headersTimeoutMs: 300, requestTimeoutMs: 600 };

  it('closes a TCP connection that never sends a ClientHello', async () => {
    const listener = await startListener(quick);
    const client = await tcpOnly(listener.port);
    expect(await client.closed).toBe('');
  });

  it('answers 408 and closes a TLS connection that sends nothing, half its headers, or trickles its body', async () => {
    const listener = await startListener(quick);
    const silent = await tlsIdle(listener.port);
    const halfHeaders = await tlsIdle(listener.port);
    halfHeaders.socket.write('POST /mutate HTTP/1.1\r\nHost: x\r\n');
    const trickle = await tlsIdle(listener.port);
    trickle.socket.write('POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n[');
    const drip = setInterval(() => trickle.socket.write('1,'), 50);
    const chunked = await tlsIdle(listener.port);
    chunked.socket.write('POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n[\r\n');
    try {
      for (const client of [silent, halfHeaders, trickle, chunked]) expect(await client.closed).toMatch(/^HTTP\/1\.1 408 /);
    } finally {
      clearInterval(drip);
    }
  });
});

describe('connections are capped', () => {
  it('makes room for a new connection by closing the oldest one without a review in flight', async () => {
    const listener = await startListener({ ...PATIENT, maxConnections: 3 });
    const idle = [await tcpOnly(listener.port), await tlsIdle(listener.port), await tlsIdle(listener.port)];
    const answer = await listener.post(review([PINNED]));
    expect(answer.status).toBe(200);
    expect(await idle[0]?.closed).toBe('');
    expect(idle[1]?.socket.destroyed).toBe(false);
  });

  it('closes a connection that never completed a request before an older kept-alive one that did', async () => {
    const listener = await startListener({ ...PATIENT, maxConnections: 3 });
    const keptAlive = await tlsIdle(listener.port);
    const answered = new Promise<string>((resolve) => keptAlive.socket.once('data', (data: Buffer) => { resolve(data.toString('latin1')); }));
    keptAlive.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(await answered).toMatch(/^HTTP\/1\.1 200 /);
    const silent = [await tcpOnly(listener.port), await tcpOnly(listener.port)];
    expect((await listener.post(review([PINNED]))).status).toBe(200);
    expect(await silent[0]?.closed).toBe('');
    expect(keptAlive.socket.destroyed).toBe(false);
    expect(silent[1]?.socket.destroyed).toBe(false);
  });

  it('closes a new connection when every place holds a review in flight, and serves again once they end', async () => {
    const listener = await startListener({ ...PATIENT, maxConnections: 2 });
    const inFlight = [listener.post(review([HELD])), listener.post(review([HELD]))];
    await listener.held(2);
    const refused = await tlsIdle(listener.port).then(
      (client) => client.closed,
      (error: unknown) => `refused: ${String(error)}`,
    );
    expect(refused).not.toMatch(/HTTP/);
    listener.release();
    for (const answer of await Promise.all(inFlight)) expect(answer.status).toBe(200);
    expect((await listener.post(review([PINNED]))).status).toBe(200);
  });
});

describe('shutdown', () => {
  it('closes at once every connection without a review in flight, answers the one in flight, and ends', async () => {
    const listener = await startListener(PATIENT);
    const noHello = await tcpOnly(listener.port);
    const silent = await tlsIdle(listener.port);
    const halfHeaders = await tlsIdle(listener.port);
    halfHeaders.socket.write('POST /mutate HTTP/1.1\r\nHost: x\r\n');
    const partialBody = await tlsIdle(listener.port);
    partialBody.socket.write('POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n[1,');
    const inFlight = listener.post(review([HELD]));
    await listener.held(1);
    const closing = listener.app.close();
    // None of these reaches a timeout (PATIENT): each is closed by close() itself, while the review is still held.
    await Promise.all([noHello.closed, silent.closed, halfHeaders.closed, partialBody.closed]);
    listener.release();
    const answer = await inFlight;
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.text)).toMatchObject({ response: { allowed: true } });
    await closing;
  });
});

describe('bodies', () => {
  it('refuses nested empty arrays past the value count and a deep nest past the depth, with a 400 that says why', async () => {
    const listener = await startListener(PATIENT);
    const bomb = `[${Array.from({ length: SERVER_LIMITS.jsonValues + 1 }, () => '[]').join(',')}]`;
    const refused = await listener.post(bomb);
    expect(refused.status).toBe(400);
    expect(JSON.parse(refused.text)).toEqual({ message: `invalid AdmissionReview: it holds more than ${SERVER_LIMITS.jsonValues} JSON values, which no Kubernetes object does` });
    const deep = JSON.stringify(review([PINNED])).replace('"spec":{', `"spec":{"imagePullSecrets":${'['.repeat(5_000)}${']'.repeat(5_000)},`);
    const tooDeep = await listener.post(deep);
    expect(tooDeep.status).toBe(400);
    expect(tooDeep.text).toContain(`nests deeper than ${SERVER_LIMITS.jsonDepth} levels`);
    expect((await listener.post(review([PINNED]))).status).toBe(200);
  });

  it('makes a body wait while others hold the bytes in flight, and answers 503 when its time to wait passes', async () => {
    const first = JSON.stringify(review([HELD]));
    const later = JSON.stringify(review([PINNED]));
    // Room for either body, not for two.
    const listener = await startListener({ ...PATIENT, ordinaryBodyBytesInFlight: Math.max(first.length, later.length) + 100 });
    const held = listener.post(first);
    await listener.held(1);
    // The second does not fit beside the first; ?timeout=2s gives it a 1 s deadline, half of it to wait in.
    const second = await listener.post(later, '?timeout=2s');
    expect(second.status).toBe(503);
    expect(JSON.parse(second.text)).toEqual({ message: expect.stringContaining('the webhook is busy') as unknown });
    const third = listener.post(later);
    listener.release();
    expect((await held).status).toBe(200);
    expect((await third).status).toBe(200);
  });
});

describe('deep JSON anywhere in a review', () => {
  it('never becomes an internal error: admitted, or refused with a 400 naming the problem', async () => {
    const listener = await startListener(PATIENT);
    const deepValue = fc.integer({ min: 1, max: 3 * SERVER_LIMITS.jsonDepth }).chain((depth) =>
      fc.constantFrom(['[', ']'], ['{"a":', '}']).map(([open, close]) => JSON.parse(`${open.repeat(depth)}1${close.repeat(depth)}`) as unknown),
    );
    const places = ['imagePullSecrets', 'containers', 'serviceAccountName', 'metadata', 'kind', 'uid', 'oldObject'] as const;
    await fc.assert(
      fc.asyncProperty(deepValue, fc.constantFrom(...places), async (value, place) => {
        const body = review([PINNED]);
        const spec = body.request.object.spec as Record<string, unknown>;
        if (place === 'imagePullSecrets' || place === 'serviceAccountName') spec[place] = value;
        else if (place === 'containers') spec.containers = [{ name: 'deep', image: PINNED, env: value }];
        else if (place === 'metadata') (body.request.object.metadata as Record<string, unknown>).labels = value;
        else (body.request as Record<string, unknown>)[place] = value;
        const answer = await listener.app.inject({ method: 'POST', url: '/mutate', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });
        expect([200, 400]).toContain(answer.statusCode);
        expect(answer.body).not.toContain('internal error');
        if (answer.statusCode === 400) expect(answer.json<{ message: string }>().message).toMatch(/^invalid AdmissionReview: /);
      }),
      { numRuns: 60 },
    );
  });
});
