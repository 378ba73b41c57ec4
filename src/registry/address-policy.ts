/**
 * Addresses the webhook never connects to, whatever an image, a token challenge
 * or a redirect names: link-local and cloud-metadata addresses, and the
 * unspecified address (0.0.0.0 reaches the local host on Linux). Checked on the
 * address a socket is about to connect to — in the DNS lookup of undici's
 * connector, and on IP literals before connecting — so DNS rebinding cannot slip
 * past a check made earlier on the name. Loopback and private ranges stay
 * allowed: registries on 127.0.0.1 or inside the cluster are ordinary.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { buildConnector } from 'undici';
import { DigestPinnerError } from '../errors.js';

/** A connection refused because of the address it would reach. */
export class AddressBlockedError extends DigestPinnerError {
  readonly code = 'DP_ERR_ADDRESS_BLOCKED';
  /** The host as named (DNS name or literal). */
  readonly host: string;
  /** The address it resolved to. */
  readonly address: string;

  constructor(host: string, address: string, why: string) {
    const resolved = host === address ? '' : ` (resolves to ${address})`;
    super(`${host}${resolved} is a ${why} address, which digest-pinner never contacts`);
    this.host = host;
    this.address = address;
  }
}

interface BlockedRange {
  readonly address: string;
  readonly prefix: number;
  readonly why: string;
}

/** IPv4 ranges; their IPv4-mapped, IPv4-translated, NAT64 and IPv4-compatible IPv6 forms are blocked too. */
const BLOCKED_V4: readonly BlockedRange[] = [
  { address: '169.254.0.0', prefix: 16, why: 'link-local (cloud metadata)' },
  { address: '0.0.0.0', prefix: 8, why: 'unspecified ("this host")' },
  { address: '100.100.100.200', prefix: 32, why: 'cloud metadata (Alibaba Cloud)' },
  { address: '192.0.0.192', prefix: 32, why: 'cloud metadata (Oracle Cloud)' },
];

const BLOCKED_V6: readonly BlockedRange[] = [
  { address: 'fe80::', prefix: 10, why: 'link-local' },
  { address: 'fd00:ec2::254', prefix: 128, why: 'cloud metadata (AWS)' },
  { address: '::', prefix: 128, why: 'unspecified ("this host")' },
];

/** IPv6 prefixes that embed an IPv4 address in their last 32 bits. */
const EMBEDDING_PREFIXES: readonly string[] = ['::ffff:0:', '64:ff9b::', '::'];

/** Which addresses are refused, and why. */
export class AddressPolicy {
  readonly #ranges: readonly { readonly list: BlockList; readonly why: string }[];

  constructor() {
    this.#ranges = [
      ...BLOCKED_V4.map((range) => ({ list: v4List(range), why: range.why })),
      ...BLOCKED_V6.map((range) => {
        const list = new BlockList();
        list.addSubnet(range.address, range.prefix, 'ipv6');
        return { list, why: range.why };
      }),
    ];
  }

  /** Why `address` (an IP literal, brackets allowed) is refused; undefined when it may be contacted or is not an IP. */
  blocked(address: string): string | undefined {
    const ip = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
    const family = isIP(ip);
    if (family === 0) return undefined;
    const type = family === 4 ? 'ipv4' : 'ipv6';
    return this.#ranges.find((range) => range.list.check(ip, type))?.why;
  }
}

/** One BlockList for an IPv4 range and each IPv6 form that embeds it (`::ffff:a.b.c.d` is checked natively by BlockList). */
function v4List(range: BlockedRange): BlockList {
  const list = new BlockList();
  list.addSubnet(range.address, range.prefix, 'ipv4');
  for (const prefix of EMBEDDING_PREFIXES) {
    // `::0.0.0.1` is how `::1` (loopback) reads as IPv4-compatible: leave 0.0.0.0/8 out of that form.
    if (prefix === '::' && range.address === '0.0.0.0') continue;
    list.addSubnet(`${prefix}${range.address}`, 96 + range.prefix, 'ipv6');
  }
  return list;
}

/**
 * A DNS lookup for net/tls connect that fails with AddressBlockedError when any
 * address the name resolves to is refused (a name that also resolves to a
 * metadata address is not trusted with the others).
 */
export function guardedLookup(policy: AddressPolicy, lookup: LookupFunction = dnsLookup): LookupFunction {
  return (hostname, options, callback) => {
    lookup(hostname, options, (error, address, family) => {
      if (error !== null) {
        callback(error, address, family);
        return;
      }
      const addresses: readonly LookupAddress[] = typeof address === 'string' ? [{ address, family: family ?? 4 }] : address;
      for (const candidate of addresses) {
        const why = policy.blocked(candidate.address);
        if (why !== undefined) {
          callback(new AddressBlockedError(hostname, candidate.address, why), address, family);
          return;
        }
      }
      callback(null, address, family);
    });
  };
}

/** How the guarded connector builds its TLS and TCP connections. */
export interface GuardedConnectorOptions {
  readonly policy: AddressPolicy;
  /** DNS lookup under the guard (default dns.lookup). */
  readonly lookup?: LookupFunction;
  /** Connect timeout in ms. */
  readonly timeoutMs: number;
  /** Connection options for `host[:port]` (TLS trust, client certificate); the same object for hosts that share them. */
  readonly connectOptionsFor: (host: string) => buildConnector.BuildOptions;
}

/**
 * undici's connector with the address policy in front: an IP literal is checked
 * before any socket exists, a name on every address its lookup returns.
 */
export function guardedConnector(options: GuardedConnectorOptions): buildConnector.connector {
  const lookup = guardedLookup(options.policy, options.lookup);
  const connectors = new Map<buildConnector.BuildOptions, buildConnector.connector>();
  return (connect, callback) => {
    const why = options.policy.blocked(connect.hostname);
    if (why !== undefined) {
      callback(new AddressBlockedError(connect.hostname, connect.hostname, why), null);
      return;
    }
    const connectOptions = options.connectOptionsFor((connect.host ?? connect.hostname).toLowerCase());
    let connector = connectors.get(connectOptions);
    if (connector === undefined) {
      connector = buildConnector({ ...connectOptions, lookup, timeout: options.timeoutMs });
      connectors.set(connectOptions, connector);
    }
    connector(connect, callback);
  };
}
