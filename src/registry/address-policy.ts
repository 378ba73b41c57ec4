/**
 * Addresses the webhook never connects to, whatever an image, a token challenge
 * or a redirect names: link-local and cloud-metadata addresses, and the
 * unspecified address (0.0.0.0 reaches the local host on Linux), in IPv4 and in
 * every IPv6 form that carries an IPv4 address (mapped, translated, compatible,
 * NAT64, 6to4). Checked on the address a socket is about to connect to — in the
 * DNS lookup of undici's connector, and on IP literals before connecting — so DNS
 * rebinding cannot slip past a check made earlier on the name. Loopback and
 * private ranges stay allowed: registries on 127.0.0.1 or inside the cluster are
 * ordinary.
 *
 * The connector also refuses a host name no DNS name can have (RFC 1035: at most
 * 253 characters, labels of at most 63): OpenSSL refuses such a name as TLS SNI,
 * and the error it leaves behind fails an unrelated connection of the process
 * (docs/upstream/openssl-sni-error-queue.md).
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { buildConnector } from 'undici';
import { DigestPinnerError } from '../errors.js';
import { truncate } from '../text.js';

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

/** A connection refused because its host name is one no DNS name can be. */
export class InvalidHostNameError extends DigestPinnerError {
  readonly code = 'DP_ERR_INVALID_HOST_NAME';
  /** The host name's length, in characters. */
  readonly length: number;

  constructor(hostname: string, problem: string) {
    // The name itself may be a megabyte: only its start is quoted.
    super(`host name ${JSON.stringify(truncate(hostname, QUOTED_NAME_LENGTH))} ${problem}`);
    this.length = hostname.length;
  }
}

/** Longest DNS name, without its trailing dot, and longest label (RFC 1035). */
export const MAX_HOST_NAME_LENGTH = 253;
export const MAX_LABEL_LENGTH = 63;
/** How much of a refused host name a message quotes, `…` included. */
const QUOTED_NAME_LENGTH = 41;

/** Why `hostname` (no port; brackets allowed around an IPv6 literal) cannot be a DNS name; undefined when it can, or is an IP literal. */
export function hostNameProblem(hostname: string): string | undefined {
  if (isIP(unbracketed(hostname)) !== 0) return undefined;
  const name = hostname.endsWith('.') ? hostname.slice(0, -1) : hostname;
  if (name.length > MAX_HOST_NAME_LENGTH) return `is ${name.length} characters long; no DNS name is longer than ${MAX_HOST_NAME_LENGTH}`;
  let start = 0;
  for (let dot = name.indexOf('.'); ; dot = name.indexOf('.', start)) {
    const end = dot < 0 ? name.length : dot;
    if (end - start > MAX_LABEL_LENGTH) return `has a label of ${end - start} characters; no DNS label is longer than ${MAX_LABEL_LENGTH}`;
    if (dot < 0) return undefined;
    start = dot + 1;
  }
}

/** The refusal of a registry named `host[:port]` (as images name it) whose host no DNS name can be; undefined when it can be. */
export function invalidRegistryHost(domain: string): InvalidHostNameError | undefined {
  const hostname = domain.startsWith('[') ? domain.slice(0, domain.indexOf(']') + 1) : domain.replace(/:\d+$/, '');
  const problem = hostNameProblem(hostname);
  return problem === undefined ? undefined : new InvalidHostNameError(hostname, problem);
}

function unbracketed(address: string): string {
  return address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
}

interface BlockedRange {
  readonly address: string;
  readonly prefix: number;
  readonly why: string;
}

/** IPv4 ranges; an IPv6 address carrying one of these in any form below is refused too. */
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

/** An IPv6 form that carries an IPv4 address: the prefix it starts with, and the bytes that hold the IPv4 address. */
interface EmbeddingForm {
  readonly name: string;
  readonly prefix: readonly number[];
  readonly v4: readonly number[];
  /**
   * Those bytes are zero in addresses that carry no IPv4 address at all (`::1`; the other
   * placements of a NAT64 prefix): 0.0.0.0/8 read there is not refused.
   */
  readonly zeroMeansNone?: true;
}

const LAST_FOUR = [12, 13, 14, 15];
/**
 * The forms, by the bytes they start with. The local-use NAT64 prefix (RFC 8215) is
 * operated with a prefix of any length from its own up (RFC 6052 places the IPv4
 * address differently for each, around byte 8): every placement is checked.
 */
const EMBEDDING_FORMS: readonly EmbeddingForm[] = [
  { name: 'IPv4-mapped', prefix: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff], v4: LAST_FOUR },
  { name: 'IPv4-translated', prefix: [0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0], v4: LAST_FOUR },
  { name: 'IPv4-compatible', prefix: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], v4: LAST_FOUR, zeroMeansNone: true },
  { name: 'NAT64', prefix: [0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0], v4: LAST_FOUR },
  { name: '6to4', prefix: [0x20, 0x02], v4: [2, 3, 4, 5] },
  ...[[6, 7, 9, 10], [7, 9, 10, 11], [9, 10, 11, 12], LAST_FOUR].map(
    (v4) => ({ name: 'local-use NAT64', prefix: [0, 0x64, 0xff, 0x9b, 0, 1], v4, zeroMeansNone: true }) as const,
  ),
];

/** Which addresses are refused, and why. */
export class AddressPolicy {
  readonly #v4: readonly { readonly list: BlockList; readonly why: string }[];
  readonly #v6: readonly { readonly list: BlockList; readonly why: string }[];

  constructor() {
    this.#v4 = BLOCKED_V4.map((range) => ({ list: subnet(range, 'ipv4'), why: range.why }));
    this.#v6 = BLOCKED_V6.map((range) => ({ list: subnet(range, 'ipv6'), why: range.why }));
  }

  /** Why `address` (an IP literal, brackets allowed) is refused; undefined when it may be contacted or is not an IP. */
  blocked(address: string): string | undefined {
    const ip = unbracketed(address);
    const family = isIP(ip);
    if (family === 4) return this.#blockedV4(ip);
    if (family !== 6) return undefined;
    const own = this.#v6.find((range) => range.list.check(ip, 'ipv6'))?.why;
    if (own !== undefined) return own;
    const bytes = ipv6Bytes(ip);
    for (const form of EMBEDDING_FORMS) {
      if (!form.prefix.every((byte, i) => bytes[i] === byte)) continue;
      const v4 = form.v4.map((i) => bytes[i] ?? 0).join('.');
      if (form.zeroMeansNone === true && v4.startsWith('0.')) continue;
      const why = this.#blockedV4(v4);
      if (why !== undefined) return `${form.name} address of ${v4}, a ${why}`;
    }
    return undefined;
  }

  #blockedV4(ip: string): string | undefined {
    return this.#v4.find((range) => range.list.check(ip, 'ipv4'))?.why;
  }
}

function subnet(range: BlockedRange, type: 'ipv4' | 'ipv6'): BlockList {
  const list = new BlockList();
  list.addSubnet(range.address, range.prefix, type);
  return list;
}

/** The 16 bytes of an IPv6 literal (as net.isIP accepts it: compressed, dotted IPv4 tail, zone). */
function ipv6Bytes(ip: string): number[] {
  let text = ip.split('%')[0] ?? '';
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    const [a = 0, b = 0, c = 0, d = 0] = tail.split('.').map(Number);
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const groups = (part: string): number[] => (part === '' ? [] : part.split(':').map((group) => Number.parseInt(group, 16)));
  const [left = '', right] = text.split('::');
  const head = groups(left);
  const rest = right === undefined ? [] : groups(right);
  const words = right === undefined ? head : [...head, ...new Array<number>(8 - head.length - rest.length).fill(0), ...rest];
  return words.flatMap((word) => [word >> 8, word & 0xff]);
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
 * Why a connection to `hostname` (no port) is refused before any DNS lookup: a host
 * name no DNS name can be, or a blocked IP literal; undefined when it may go on.
 */
export function refusalBeforeLookup(policy: AddressPolicy, hostname: string): InvalidHostNameError | AddressBlockedError | undefined {
  const problem = hostNameProblem(hostname);
  if (problem !== undefined) return new InvalidHostNameError(hostname, problem);
  const why = policy.blocked(hostname);
  if (why !== undefined) return new AddressBlockedError(hostname, hostname, why);
  return undefined;
}

/**
 * undici's connector with the address policy in front: a host name no DNS name can
 * be and an IP literal are refused before any socket exists, a name is checked on
 * every address its lookup returns.
 */
export function guardedConnector(options: GuardedConnectorOptions): buildConnector.connector {
  const lookup = guardedLookup(options.policy, options.lookup);
  const connectors = new Map<buildConnector.BuildOptions, buildConnector.connector>();
  return (connect, callback) => {
    const refusal = refusalBeforeLookup(options.policy, connect.hostname);
    if (refusal !== undefined) {
      callback(refusal, null);
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

/**
 * The address policy in front of a connector that tunnels through a proxy (`tunnel`
 * sends the CONNECT), where the proxy, not this process, resolves the name. Refused
 * before any CONNECT: what refusalBeforeLookup refuses, and a name that resolves here
 * to a blocked address. A name that does not resolve here is forwarded: only the
 * proxy can resolve it, and it resolves it again for itself in any case.
 */
export function guardedTunnel(policy: AddressPolicy, lookup: LookupFunction | undefined, tunnel: buildConnector.connector): buildConnector.connector {
  const guarded = guardedLookup(policy, lookup);
  return (connect, callback) => {
    const refusal = refusalBeforeLookup(policy, connect.hostname);
    if (refusal !== undefined) {
      callback(refusal, null);
      return;
    }
    if (isIP(unbracketed(connect.hostname)) !== 0) {
      tunnel(connect, callback);
      return;
    }
    guarded(connect.hostname, { all: true }, (error) => {
      if (error instanceof AddressBlockedError) callback(error, null);
      else tunnel(connect, callback);
    });
  };
}
