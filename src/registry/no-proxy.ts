/**
 * NO_PROXY as Go programs read it (golang.org/x/net/http/httpproxy, which net/http's
 * ProxyFromEnvironment uses): comma-separated entries, trimmed and lower-cased, each
 * one of
 *   `*`                    every host (the whole list then means "never proxy");
 *   `10.0.0.0/8`, `fd00::/8` an IP range in CIDR notation;
 *   `10.1.2.3`, `::1`      an IP address, optionally with a port (`10.1.2.3:5000`, `[::1]:5000`);
 *   `example.com`          that name and every name under it, optionally with a port;
 *   `.example.com`, `*.example.com` only the names under it.
 * IP entries match only hosts written as IP literals and name entries only host names:
 * a name is never resolved to compare it with an address. `localhost` and loopback
 * literals are never proxied, whatever the list says. Entries that fit no form are
 * ignored, as Go ignores them.
 */
import { BlockList, isIP } from 'node:net';
import { domainToASCII } from 'node:url';

/** One NO_PROXY entry. */
export type NoProxyEntry =
  | { readonly kind: 'all' }
  /** An IP address or a CIDR range; `port` is empty for "any port" (a range never has one). */
  | { readonly kind: 'ip'; readonly range: BlockList; readonly port: string }
  /** `suffix` starts with a dot; `exact` also matches the name without it. */
  | { readonly kind: 'name'; readonly suffix: string; readonly exact: boolean; readonly port: string };

/** A parsed NO_PROXY list. */
export interface NoProxy {
  readonly entries: readonly NoProxyEntry[];
}

export const EMPTY_NO_PROXY: NoProxy = { entries: [] };

const ALL: NoProxyEntry = { kind: 'all' };
const CIDR = /^([^/]+)\/(\d{1,3})$/;
const NON_ASCII = /[^\p{ASCII}]/u;
const DEFAULT_PORTS: Readonly<Record<string, string>> = { 'https:': '443', 'http:': '80' };

/** The entries of a NO_PROXY value; a `*` entry makes the list match every host. */
export function parseNoProxy(value: string): NoProxy {
  const entries: NoProxyEntry[] = [];
  for (const raw of value.split(',')) {
    const text = raw.trim().toLowerCase();
    if (text === '') continue;
    if (text === '*') return { entries: [ALL] };
    const entry = parseEntry(text);
    if (entry !== undefined) entries.push(entry);
  }
  return { entries };
}

function parseEntry(text: string): NoProxyEntry | undefined {
  const cidr = parseCidr(text);
  if (cidr !== undefined) return cidr;
  const split = splitHostPort(text);
  const host = split?.host ?? text;
  const port = split?.port ?? '';
  if (host === '') return undefined;
  const family = ipFamily(host);
  if (family !== undefined) return { kind: 'ip', range: addressRange(host, family), port };
  const name = host.startsWith('*.') ? host.slice(1) : host;
  const exact = !name.startsWith('.');
  return { kind: 'name', suffix: asciiName(exact ? `.${name}` : name), exact, port };
}

function parseCidr(text: string): NoProxyEntry | undefined {
  const match = CIDR.exec(text);
  if (match === null) return undefined;
  const [, address = '', bits = ''] = match;
  const family = ipFamily(address);
  const prefix = Number(bits);
  if (family === undefined || prefix > (family === 'ipv4' ? 32 : 128)) return undefined;
  const range = new BlockList();
  range.addSubnet(address, prefix, family);
  return { kind: 'ip', range, port: '' };
}

function addressRange(address: string, family: 'ipv4' | 'ipv6'): BlockList {
  const range = new BlockList();
  range.addAddress(address, family);
  return range;
}

/** Go's net.SplitHostPort: `host:port` or `[host]:port`; undefined when `text` has no port or too many colons. */
function splitHostPort(text: string): { host: string; port: string } | undefined {
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || text[close + 1] !== ':') return undefined;
    return { host: text.slice(1, close), port: text.slice(close + 2) };
  }
  const colon = text.lastIndexOf(':');
  if (colon < 0) return undefined;
  const host = text.slice(0, colon);
  if (host.includes(':') || host.includes('[') || host.includes(']')) return undefined;
  return { host, port: text.slice(colon + 1) };
}

/** The family of an IP literal as Go's parsers take it (no IPv6 zone); undefined for anything else. */
function ipFamily(text: string): 'ipv4' | 'ipv6' | undefined {
  if (text.includes('%')) return undefined;
  const family = isIP(text);
  if (family === 4) return 'ipv4';
  if (family === 6) return 'ipv6';
  return undefined;
}

/** An internationalised name in its ASCII (punycode) form, as URLs carry host names. */
function asciiName(suffix: string): string {
  if (!NON_ASCII.test(suffix)) return suffix;
  const ascii = domainToASCII(suffix.slice(1));
  return ascii === '' ? suffix : `.${ascii}`;
}

/**
 * Whether a request to `url` goes around the proxy: its host is `localhost` or a
 * loopback literal, or an entry matches its host and port (the scheme's default
 * port when the URL names none).
 */
export function bypassesProxy(noProxy: NoProxy, url: URL): boolean {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port === '' ? (DEFAULT_PORTS[url.protocol] ?? '') : url.port;
  const family = ipFamily(host);
  if (host === 'localhost' || (family !== undefined && isLoopback(host, family))) return true;
  return noProxy.entries.some((entry) => entryMatches(entry, host, port, family));
}

function entryMatches(entry: NoProxyEntry, host: string, port: string, family: 'ipv4' | 'ipv6' | undefined): boolean {
  switch (entry.kind) {
    case 'all':
      return true;
    case 'ip':
      return family !== undefined && entry.range.check(host, family) && portMatches(entry.port, port);
    case 'name':
      return family === undefined && (host.endsWith(entry.suffix) || (entry.exact && host === entry.suffix.slice(1))) && portMatches(entry.port, port);
  }
}

function portMatches(wanted: string, port: string): boolean {
  return wanted === '' || wanted === port;
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** 127.0.0.0/8 and ::1, and an IPv4-mapped IPv6 form of 127.0.0.0/8 (as Go's IP.IsLoopback). */
function isLoopback(host: string, family: 'ipv4' | 'ipv6'): boolean {
  return LOOPBACK.check(host, family);
}
