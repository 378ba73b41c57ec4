/**
 * How registry and token-service requests leave the process: directly through the
 * guarded connector, or tunnelled (HTTP CONNECT) through the proxy HTTPS_PROXY or
 * HTTP_PROXY names unless NO_PROXY exempts the host (proxy-settings.ts). Plain-HTTP
 * registries are tunnelled too, so the proxy never reads their requests (credentials
 * included). The address policy holds on both paths (address-policy.ts), and so do
 * the connection bounds: one pool per origin either way, kept to `connectionsPerOrigin`.
 */
import type { LookupFunction } from 'node:net';
import { Agent, Pool, ProxyAgent, type buildConnector, type Dispatcher } from 'undici';
import { DigestPinnerError } from '../errors.js';
import { guardedConnector, guardedTunnel, type AddressPolicy } from './address-policy.js';
import { proxyRoute, shownProxy, type ProxySettings } from './proxy-settings.js';

/** A request the proxy settings forbid to send (HTTP_PROXY in a CGI environment). */
export class ProxyRefusedError extends DigestPinnerError {
  readonly code = 'DP_ERR_PROXY_REFUSED';
}

/** The proxy answered a CONNECT with something other than 200. */
export class ProxyTunnelError extends DigestPinnerError {
  readonly code = 'DP_ERR_PROXY_TUNNEL';
  readonly status: number;

  constructor(proxy: URL, target: string, status: number, options?: { cause?: unknown }) {
    const hint = status === 407 ? ': it wants credentials, given in the proxy URL as http://USER:PASSWORD@HOST:PORT' : '';
    super(`proxy ${shownProxy(proxy)} refused the tunnel to ${target} with HTTP ${status}${hint}`, options);
    this.status = status;
  }
}

/** What the egress needs to connect. */
export interface EgressOptions {
  readonly policy: AddressPolicy;
  /** DNS lookup under the guard (default dns.lookup). */
  readonly lookup?: LookupFunction | undefined;
  readonly proxy: ProxySettings;
  /** Bound on connecting, on response headers and on body gaps. */
  readonly timeoutMs: number;
  /** Connections kept to one origin; requests beyond them wait in undici's queue. */
  readonly connectionsPerOrigin: number;
  /** Connections being opened to a proxy at once (each carries one CONNECT). */
  readonly connectionsToProxy: number;
  /** Longest an idle connection is kept. */
  readonly keepAliveMaxTimeoutMs: number;
  /** TLS (trust, client certificate) of `host[:port]`; the same object for hosts that share them. */
  readonly connectOptionsFor: (host: string) => buildConnector.BuildOptions;
  /** TLS to an https:// proxy. */
  readonly proxyTls: buildConnector.BuildOptions;
}

/** undici's message for a CONNECT not answered 200 (lib/dispatcher/proxy-agent.js). */
const TUNNEL_REFUSED = /^Proxy response \((\d{3})\) !== 200/;

/** The dispatchers that carry registry traffic, chosen per request origin. */
export class Egress {
  /** What the transport sends through. */
  readonly dispatcher: Dispatcher;
  readonly #direct: Agent;
  /** One ProxyAgent per proxy and per TLS setting of the hosts behind it (ProxyAgent takes one). */
  readonly #tunnels = new Map<buildConnector.BuildOptions, Map<string, ProxyAgent>>();
  readonly #options: EgressOptions;

  constructor(options: EgressOptions) {
    this.#options = options;
    this.#direct = new Agent({
      connect: guardedConnector({
        policy: options.policy,
        ...(options.lookup === undefined ? {} : { lookup: options.lookup }),
        timeoutMs: options.timeoutMs,
        connectOptionsFor: options.connectOptionsFor,
      }),
      ...this.#poolBounds(),
    });
    this.dispatcher = this.#direct.compose((direct) => (request, handler) => {
      const url = new URL(String(request.origin));
      const route = proxyRoute(options.proxy, url);
      if (route.kind === 'direct') return direct(request, handler);
      if (route.kind === 'refused') throw new ProxyRefusedError(route.reason);
      return this.#tunnel(route.proxy, url.host.toLowerCase()).dispatch(request, handler);
    });
  }

  /** Closes every connection, direct and tunnelled. */
  async close(): Promise<void> {
    const tunnels = [...this.#tunnels.values()].flatMap((byProxy) => [...byProxy.values()]);
    await Promise.all([this.#direct.close(), ...tunnels.map((tunnel) => tunnel.close())]);
  }

  #poolBounds(): { connections: number; headersTimeout: number; bodyTimeout: number; keepAliveMaxTimeout: number } {
    const { connectionsPerOrigin, timeoutMs, keepAliveMaxTimeoutMs } = this.#options;
    return { connections: connectionsPerOrigin, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, keepAliveMaxTimeout: keepAliveMaxTimeoutMs };
  }

  /** The ProxyAgent reaching `host` through `proxy`. */
  #tunnel(proxy: URL, host: string): ProxyAgent {
    const tls = this.#options.connectOptionsFor(host);
    let byProxy = this.#tunnels.get(tls);
    if (byProxy === undefined) {
      byProxy = new Map();
      this.#tunnels.set(tls, byProxy);
    }
    let tunnel = byProxy.get(proxy.href);
    if (tunnel === undefined) {
      tunnel = this.#proxyAgent(proxy, tls);
      byProxy.set(proxy.href, tunnel);
    }
    return tunnel;
  }

  #proxyAgent(proxy: URL, tls: buildConnector.BuildOptions): ProxyAgent {
    const { policy, lookup, timeoutMs } = this.#options;
    const bounds = this.#poolBounds();
    const toProxy = guardedConnector({
      policy,
      ...(lookup === undefined ? {} : { lookup }),
      timeoutMs,
      connectOptionsFor: () => this.#options.proxyTls,
    });
    return new ProxyAgent({
      // Credentials in the URL become its Proxy-Authorization.
      uri: proxy.href,
      requestTls: { ...tls, timeout: timeoutMs },
      // Plain-HTTP registries are tunnelled too (undici would otherwise send their requests, credentials and all, to the proxy).
      proxyTunnel: true,
      clientFactory: (origin) =>
        new Pool(origin, { connect: toProxy, connections: this.#options.connectionsToProxy, headersTimeout: timeoutMs, bodyTimeout: timeoutMs }),
      // Each origin's pool: its connections are tunnels, opened only past the address policy.
      factory: (origin, agentOptions) => new Pool(origin, { ...bounds, connect: refusalsExplained(proxy, guardedTunnel(policy, lookup, tunnelOf(agentOptions))) }),
      ...bounds,
    });
  }
}

/** The connector ProxyAgent hands its per-origin pools: the one that sends the CONNECT. */
function tunnelOf(agentOptions: object): buildConnector.connector {
  const connect: unknown = (agentOptions as { connect?: unknown }).connect;
  if (typeof connect !== 'function') throw new TypeError('undici ProxyAgent gave its pools no connector');
  return connect as buildConnector.connector;
}

/** The tunnel's failures, with a CONNECT the proxy refused told as ProxyTunnelError. */
function refusalsExplained(proxy: URL, tunnel: buildConnector.connector): buildConnector.connector {
  return (connect, callback) => {
    tunnel(connect, (...result) => {
      const [error] = result;
      const status = error === null ? undefined : TUNNEL_REFUSED.exec(error.message)?.[1];
      if (status === undefined) callback(...result);
      else callback(new ProxyTunnelError(proxy, connect.host ?? connect.hostname, Number(status), { cause: error }), null);
    });
  };
}
