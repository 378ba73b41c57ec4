/**
 * The connections of one listener, from the TCP accept on (before any TLS handshake): capped,
 * and closed at once on shutdown unless a review is in flight on them. Neither Node's
 * `maxConnections` (which refuses new connections while idle ones hold every place) nor its
 * `closeIdleConnections()` (which knows only connections that finished a TLS handshake) does
 * either for a client that connects and sends nothing.
 */
import type { FastifyInstance } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from 'node:net';
import type { Socket } from 'node:net';
import type { ServerLimits } from './limits.js';

/** The options of a fastify listener that carry its bounds (boundedListener). */
export interface BoundedListenerOptions {
  /** For Node's server (fastify's `http` or `https`): the header timeout and how often it is checked. */
  readonly server: { readonly headersTimeout: number; readonly connectionsCheckingInterval: number };
  readonly requestTimeout: number;
  readonly keepAliveTimeout: number;
  readonly return503OnClosing: true;
  readonly forceCloseConnections: 'idle';
}

/**
 * fastify's options for a listener bounded by `limits`: header, request and keep-alive timeouts,
 * and a shutdown that answers 503 and closes idle connections. Every listener of the webhook
 * takes them, then boundConnections.
 */
export function boundedListener(limits: ServerLimits): BoundedListenerOptions {
  return {
    server: { headersTimeout: limits.headersTimeoutMs, connectionsCheckingInterval: limits.timeoutCheckIntervalMs },
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  };
}

/**
 * Caps `app`'s connections at `maxConnections` (ConnectionTable) and, once it begins closing,
 * closes those with no review in flight, also ones that sent nothing or not all of a request,
 * which Node would wait for. Returns whether it has begun closing.
 */
export function boundConnections(app: FastifyInstance, maxConnections: number): () => boolean {
  const connections = new ConnectionTable(maxConnections);
  connections.attach(app.server);
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    connections.closeIdle();
    done();
  });
  return () => closing;
}

interface Connection {
  readonly socket: Socket;
  /** Requests whose headers arrived and whose response has not ended. */
  readonly requests: Set<IncomingMessage>;
  /** Whether a response has ended on it: a client that sends whole requests, as kube-apiserver does. */
  served: boolean;
}

/**
 * A request is in flight once all of it has arrived: a connection whose request is still
 * arriving (kube-apiserver sends a review at once) is as idle as one that sent nothing.
 */
function inFlight(connection: Connection): boolean {
  for (const request of connection.requests) if (request.complete) return true;
  return false;
}

/**
 * The connections of a listener: at most `max` open. To make room, the oldest connection that
 * never completed a request is closed, else the oldest idle one: a flood of connections that
 * send nothing (or trickle) closes its own members, not kube-apiserver's kept-alive ones.
 */
class ConnectionTable {
  readonly #max: number;
  /** By remote address and port (the TCP socket and the TLS socket over it share them), oldest first. */
  readonly #connections = new Map<string, Connection>();

  constructor(max: number) {
    this.#max = max;
  }

  /** Connections open now. */
  get size(): number {
    return this.#connections.size;
  }

  /** Tracks `server`'s connections (`connection`: the TCP socket, even on a TLS server) and requests. */
  attach(server: Server): void {
    server.on('connection', (socket: Socket) => {
      this.#add(socket);
    });
    server.on('request', (request: IncomingMessage, response: ServerResponse) => {
      this.#track(request, response);
    });
  }

  /** Closes every connection without a request in flight (on shutdown); the others close after their response. */
  closeIdle(): void {
    for (const connection of this.#connections.values()) {
      if (!inFlight(connection)) connection.socket.destroy();
    }
  }

  #add(socket: Socket): void {
    const key = connectionKey(socket);
    if (key === undefined) return;
    if (this.#connections.size >= this.#max && !this.#evictOne()) {
      socket.destroy();
      return;
    }
    const connection: Connection = { socket, requests: new Set(), served: false };
    this.#connections.set(key, connection);
    socket.once('close', () => {
      if (this.#connections.get(key) === connection) this.#connections.delete(key);
    });
  }

  /** Closes the oldest connection that never served a request, else the oldest idle one; false when every one has a request in flight. */
  #evictOne(): boolean {
    return this.#evictFirst((c) => !c.served && !inFlight(c)) || this.#evictFirst((c) => !inFlight(c));
  }

  #evictFirst(evictable: (connection: Connection) => boolean): boolean {
    for (const [key, connection] of this.#connections) {
      if (!evictable(connection)) continue;
      this.#connections.delete(key);
      connection.socket.destroy();
      return true;
    }
    return false;
  }

  #track(request: IncomingMessage, response: ServerResponse): void {
    const key = connectionKey(request.socket);
    const connection = key === undefined ? undefined : this.#connections.get(key);
    if (connection === undefined) return;
    connection.requests.add(request);
    response.once('close', () => {
      connection.requests.delete(request);
      if (response.writableFinished) connection.served = true;
    });
  }
}

function connectionKey(socket: Socket): string | undefined {
  const { remoteAddress, remotePort } = socket;
  return remoteAddress === undefined || remotePort === undefined ? undefined : `[${remoteAddress}]:${remotePort}`;
}
