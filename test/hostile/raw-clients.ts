/**
 * Hostile clients of the webhook's port, on raw sockets: one that opens TCP and sends no
 * ClientHello, one that finishes the TLS handshake and sends nothing, one that sends half its
 * headers, one that trickles its body, one whose chunked body never ends. Each records when
 * the server closed it. None verifies the server's certificate (an attacker need not).
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { connect as tlsConnect } from 'node:tls';

export type SlowKind = 'no-client-hello' | 'silent-tls' | 'half-headers' | 'trickled-body' | 'unended-chunked-body';

export const SLOW_KINDS: readonly SlowKind[] = ['no-client-hello', 'silent-tls', 'half-headers', 'trickled-body', 'unended-chunked-body'];

/** How often a trickling client sends its next byte (the figure). */
export const TRICKLE_EVERY_MS = 5_000;

export interface SlowClient {
  readonly kind: SlowKind;
  /** Resolves when the connection is closed (by the server, or by `destroy()`), with what the server sent. */
  readonly closed: Promise<string>;
  /** Whether the connection is closed. */
  isClosed(): boolean;
  destroy(): void;
}

const HEADERS = 'POST /mutate HTTP/1.1\r\nHost: webhook\r\nContent-Type: application/json\r\n';

/** Opens one slow client of `kind` to 127.0.0.1:`port`; resolves once it is connected (and, but for `no-client-hello`, handshaken). */
export function openSlowClient(port: number, kind: SlowKind): Promise<SlowClient> {
  return new Promise((resolve, reject) => {
    const onConnected = (socket: Socket): void => {
      socket.removeListener('error', reject);
      let received = '';
      let closed = false;
      socket.on('data', (data: Buffer) => (received += data.toString('latin1')));
      socket.on('error', () => undefined);
      const drip = kind === 'trickled-body' ? setInterval(() => socket.write('1'), TRICKLE_EVERY_MS) : undefined;
      const closedPromise = new Promise<string>((done) =>
        socket.once('close', () => {
          closed = true;
          clearInterval(drip);
          done(received);
        }),
      );
      if (kind === 'half-headers') socket.write(HEADERS);
      if (kind === 'trickled-body') socket.write(`${HEADERS}Content-Length: 1000000\r\n\r\n[`);
      if (kind === 'unended-chunked-body') socket.write(`${HEADERS}Transfer-Encoding: chunked\r\n\r\n1\r\n[\r\n`);
      resolve({ kind, closed: closedPromise, isClosed: () => closed, destroy: () => socket.destroy() });
    };
    if (kind === 'no-client-hello') {
      const socket = tcpConnect(port, '127.0.0.1', () => {
        onConnected(socket);
      });
      socket.once('error', reject);
    } else {
      const socket = tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false }, () => {
        onConnected(socket);
      });
      socket.once('error', reject);
    }
  });
}

/**
 * Opens `count` slow clients, `kinds` in turn, `parallel` at a time. A connection the server
 * closes before it is set up (the webhook at its cap, or out of file descriptors) is counted
 * in `refused`, not returned.
 */
export async function openSlowClients(
  port: number,
  count: number,
  parallel = 32,
  kinds: readonly SlowKind[] = SLOW_KINDS,
): Promise<{ clients: SlowClient[]; refused: number; ms: number }> {
  const started = performance.now();
  const clients: SlowClient[] = [];
  let refused = 0;
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < count; i = next++) {
      try {
        clients.push(await openSlowClient(port, kinds[i % kinds.length] ?? 'silent-tls'));
      } catch {
        refused += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return { clients, refused, ms: performance.now() - started };
}
