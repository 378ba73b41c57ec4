/**
 * A fault-injecting proxy on 127.0.0.1 in front of a real registry or token
 * service. It passes everything through until told to misbehave:
 *
 * - `refuse`: the listener is closed, so connections are refused (a dead host);
 * - `hang`: connections are accepted and never answered (a black hole);
 * - `delay`: every request (HTTP) or connection (TCP) waits `ms` first (a slow host);
 * - `reset`: the next `connections` connections that get an answer are relayed
 *   raw and reset after `afterBytes` bytes of it (a connection dropped
 *   mid-response); a connection that asks nothing (a client reconnecting
 *   after an aborted request) does not use one up;
 * - `respond` (HTTP only): the next `count` requests are answered by the proxy
 *   itself with `status` and `headers` (429 with Retry-After, 5xx bursts), the
 *   rest pass through;
 * - `gather` (HTTP only): requests whose path includes `pathIncludes` are held
 *   until `count` of them are waiting, then all go through together, and later
 *   ones pass (requests sent one after another would wait forever); other
 *   requests pass.
 *
 * With `protocol: 'http'` (a plain-HTTP registry) requests are relayed one by
 * one with node:http, so request-level faults apply on kept-alive connections
 * too. With `protocol: 'tcp'` (a TLS service) bytes are relayed untouched and
 * only connection-level faults apply. Changing the fault drops every open
 * connection, so clients reconnect and meet the new behaviour.
 */
import { createServer as createHttpServer, request as httpRequest, Agent as HttpAgent, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export type Fault =
  | { readonly kind: 'pass' }
  | { readonly kind: 'refuse' }
  | { readonly kind: 'hang' }
  | { readonly kind: 'delay'; readonly ms: number }
  | { readonly kind: 'reset'; readonly afterBytes: number; readonly connections: number }
  | { readonly kind: 'respond'; readonly status: number; readonly count: number; readonly headers?: Readonly<Record<string, string>> }
  | { readonly kind: 'gather'; readonly count: number; readonly pathIncludes: string };

/** What the proxy has seen since it started. */
export interface FaultProxyStats {
  /** TCP connections accepted. */
  connections: number;
  /** HTTP requests read (HTTP protocol only). */
  requests: number;
  /** Requests or connections relayed to the upstream. */
  forwarded: number;
  /** Requests answered by the proxy itself (`respond`). */
  answered: number;
  /** Connections reset on purpose. */
  resets: number;
}

export interface FaultProxy {
  /** `127.0.0.1:PORT`: put it where the registry's host would go. */
  readonly host: string;
  readonly stats: Readonly<FaultProxyStats>;
  /** Switches behaviour; resolves once the listener is closed or open again as the fault requires. */
  set(fault: Fault): Promise<void>;
  close(): Promise<void>;
}

export interface FaultProxyOptions {
  /** `host:port` of the real service. */
  readonly upstream: string;
  /** `http` for a plain-HTTP registry (request-level faults), `tcp` for anything else (TLS). Default `http`. */
  readonly protocol?: 'http' | 'tcp';
}

const RESPONSE_BODY = JSON.stringify({ errors: [{ code: 'UNAVAILABLE', message: 'injected by the fault proxy: internal detail /srv/secret' }] });

class Proxy {
  fault: Fault = { kind: 'pass' };
  readonly stats: FaultProxyStats = { connections: 0, requests: 0, forwarded: 0, answered: 0, resets: 0 };
  readonly sockets = new Set<Socket>();
  /** Requests `gather` holds, each with the function that lets it through. */
  gathered: (() => void)[] = [];
  readonly server: Server;
  readonly http = createHttpServer({ keepAlive: true }, (req, res) => {
    this.onRequest(req, res);
  });
  agent = new HttpAgent({ keepAlive: true });
  readonly upstreamHost: string;
  readonly upstreamPort: number;
  port = 0;

  constructor(private readonly options: FaultProxyOptions) {
    const colon = options.upstream.lastIndexOf(':');
    this.upstreamHost = options.upstream.slice(0, colon);
    this.upstreamPort = Number(options.upstream.slice(colon + 1));
    this.server = createServer((socket) => {
      this.onConnection(socket);
    });
  }

  track(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
  }

  onConnection(socket: Socket): void {
    this.track(socket);
    this.stats.connections += 1;
    const fault = this.fault;
    if (fault.kind === 'hang') {
      socket.resume();
      return;
    }
    if (fault.kind === 'reset' && fault.connections > 0) {
      this.relay(socket, () => this.takeReset());
      return;
    }
    if (this.options.protocol === 'tcp') {
      const delayMs = fault.kind === 'delay' ? fault.ms : 0;
      void sleep(delayMs).then(() => {
        if (!socket.destroyed) this.relay(socket, () => Number.POSITIVE_INFINITY);
      });
      return;
    }
    this.http.emit('connection', socket);
  }

  /** One of the resets still to make: bytes of the answer to let through, or all of them once none is left. */
  takeReset(): number {
    const fault = this.fault;
    if (fault.kind !== 'reset' || fault.connections <= 0) return Number.POSITIVE_INFINITY;
    this.fault = fault.connections > 1 ? { ...fault, connections: fault.connections - 1 } : { kind: 'pass' };
    return fault.afterBytes;
  }

  /** Raw relay; the client is reset after `cutAfter()` bytes from upstream, asked when the answer starts. */
  relay(socket: Socket, cutAfter: () => number): void {
    this.stats.forwarded += 1;
    const upstream = connect(this.upstreamPort, this.upstreamHost);
    this.track(upstream);
    let sent = 0;
    let afterBytes: number | undefined;
    socket.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      afterBytes ??= cutAfter();
      if (sent + chunk.length <= afterBytes) {
        sent += chunk.length;
        socket.write(chunk);
        return;
      }
      socket.write(chunk.subarray(0, Math.max(0, afterBytes - sent)), () => {
        this.stats.resets += 1;
        socket.resetAndDestroy();
      });
      sent = afterBytes;
      upstream.destroy();
    });
    upstream.on('end', () => socket.end());
    upstream.on('error', () => socket.destroy());
    socket.on('close', () => upstream.destroy());
  }

  onRequest(req: IncomingMessage, res: ServerResponse): void {
    this.stats.requests += 1;
    const fault = this.fault;
    if (fault.kind === 'respond' && fault.count > 0) {
      this.fault = fault.count > 1 ? { ...fault, count: fault.count - 1 } : { kind: 'pass' };
      this.stats.answered += 1;
      req.resume();
      res.writeHead(fault.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(RESPONSE_BODY), ...fault.headers });
      res.end(req.method === 'HEAD' ? undefined : RESPONSE_BODY);
      return;
    }
    if (fault.kind === 'hang') return;
    if (fault.kind === 'gather' && req.url?.includes(fault.pathIncludes) === true) {
      this.gathered.push(() => {
        if (!res.destroyed) this.forward(req, res);
      });
      if (this.gathered.length < fault.count) return;
      this.fault = { kind: 'pass' };
      for (const go of this.gathered.splice(0)) go();
      return;
    }
    const delayMs = fault.kind === 'delay' ? fault.ms : 0;
    void sleep(delayMs).then(() => {
      if (!res.destroyed) this.forward(req, res);
    });
  }

  forward(req: IncomingMessage, res: ServerResponse): void {
    this.stats.forwarded += 1;
    const upstream = httpRequest(
      { host: this.upstreamHost, port: this.upstreamPort, method: req.method, path: req.url, headers: req.headers, agent: this.agent },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stopListening(): Promise<void> {
    if (!this.server.listening) return;
    await new Promise<void>((resolve) => this.server.close(() => {
      resolve();
    }));
  }

  dropConnections(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }
}

/** Starts a proxy to `options.upstream` on a free port of 127.0.0.1, passing everything through. */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const proxy = new Proxy(options);
  await proxy.listen();
  return {
    host: `127.0.0.1:${proxy.port}`,
    stats: proxy.stats,
    set: async (fault) => {
      if ((fault.kind === 'respond' || fault.kind === 'gather') && options.protocol === 'tcp') throw new Error(`${fault.kind} needs protocol http`);
      proxy.fault = fault;
      proxy.gathered = [];
      proxy.dropConnections();
      proxy.agent.destroy();
      proxy.agent = new HttpAgent({ keepAlive: true });
      if (fault.kind === 'refuse') await proxy.stopListening();
      else if (!proxy.server.listening) await proxy.listen();
    },
    close: async () => {
      proxy.dropConnections();
      proxy.agent.destroy();
      proxy.http.close();
      await proxy.stopListening();
    },
  };
}
