/**
 * NO_PROXY read as Go's golang.org/x/net/http/httpproxy reads it: each row is a
 * NO_PROXY value, a request URL and whether the request goes around the proxy.
 */
import { describe, expect, it } from 'vitest';
import { bypassesProxy, parseNoProxy } from '../../src/registry/no-proxy.js';

/** [NO_PROXY, request URL, bypasses the proxy] */
type Row = readonly [string, string, boolean];

const TABLE: readonly Row[] = [
  // Nothing listed: everything is proxied, except localhost and loopback literals (Go's special case).
  ['', 'https://registry.example.com/', false],
  ['', 'https://10.1.2.3:5000/', false],
  ['', 'https://localhost:5000/', true],
  ['', 'https://127.0.0.1:5000/', true],
  ['', 'https://127.200.0.1/', true],
  ['', 'https://[::1]:5000/', true],
  ['', 'https://[::ffff:127.0.0.1]/', true],
  ['', 'https://localhost.example.com/', false],
  // `*` alone, or among others, exempts every host.
  ['*', 'https://registry.example.com/', true],
  ['*', 'https://10.1.2.3/', true],
  ['example.com, *', 'https://other.example.org/', true],
  // `*` inside an entry is no wildcard.
  ['*example.com', 'https://registry.example.com/', false],
  // A name matches itself and the names under it, not a name that merely ends like it.
  ['example.com', 'https://example.com/', true],
  ['example.com', 'https://registry.example.com/', true],
  ['example.com', 'https://a.b.example.com:5000/', true],
  ['example.com', 'https://notexample.com/', false],
  ['example.com', 'https://example.com.evil.org/', false],
  // A leading dot, or `*.`, matches only the names under it.
  ['.example.com', 'https://example.com/', false],
  ['.example.com', 'https://registry.example.com/', true],
  ['*.example.com', 'https://example.com/', false],
  ['*.example.com', 'https://registry.example.com/', true],
  // Case and spaces around entries do not matter; empty entries are skipped.
  [' Registry.Example.COM ,, ', 'https://registry.example.com/', true],
  // A port in the entry must be the request's, the scheme's default when the URL has none.
  ['example.com:5000', 'https://registry.example.com:5000/', true],
  ['example.com:5000', 'https://registry.example.com:5001/', false],
  ['example.com:443', 'https://registry.example.com/', true],
  ['example.com:80', 'https://registry.example.com/', false],
  ['example.com:80', 'http://registry.example.com/', true],
  // IP addresses, with or without a port; IPv6 in brackets when it has one.
  ['10.1.2.3', 'https://10.1.2.3/', true],
  ['10.1.2.3', 'https://10.1.2.4/', false],
  ['10.1.2.3:5000', 'https://10.1.2.3:5000/', true],
  ['10.1.2.3:5000', 'https://10.1.2.3/', false],
  ['2001:db8::1', 'https://[2001:db8::1]:5000/', true],
  ['[2001:db8::1]:5000', 'https://[2001:db8::1]:5000/', true],
  ['[2001:db8::1]:5000', 'https://[2001:db8::1]:5001/', false],
  // An IPv4 entry and the IPv4-mapped IPv6 form of the address are one address (Go's IP.Equal).
  ['10.1.2.3', 'https://[::ffff:10.1.2.3]/', true],
  // CIDR ranges: the pod and service ranges clusters list.
  ['10.0.0.0/8', 'https://10.96.0.10/', true],
  ['10.0.0.0/8', 'https://11.0.0.1/', false],
  ['10.96.0.0/12', 'https://10.111.255.255:5000/', true],
  ['10.96.0.0/12', 'https://10.112.0.0/', false],
  ['172.16.0.0/12,192.168.0.0/16', 'https://192.168.49.2:5000/', true],
  ['fd00::/8', 'https://[fd12:3456::1]/', true],
  ['fd00::/8', 'https://[fe80::1]/', false],
  ['0.0.0.0/0', 'https://203.0.113.7/', true],
  // IP entries match only IP literals, names only names: nothing is resolved to compare.
  ['10.0.0.0/8', 'https://registry.internal/', false],
  ['10.1.2.3', 'https://registry.internal/', false],
  ['registry.internal', 'https://10.1.2.3/', false],
  // Entries that fit no form are ignored, and the others still count.
  ['10.0.0.0/33, example.com', 'https://10.0.0.1/', false],
  ['10.0.0.0/33, example.com', 'https://example.com/', true],
  [':5000, example.com', 'https://registry.example.com:5000/', true],
  // Internationalised names are compared in their ASCII form, as URLs carry them.
  ['bücher.example', 'https://shop.xn--bcher-kva.example/', true],
  ['.bücher.example', 'https://Shop.Bücher.example/', true],
];

describe('bypassesProxy', () => {
  it.each(TABLE)('NO_PROXY=%j, %s → bypass %s', (noProxy, url, bypass) => {
    expect(bypassesProxy(parseNoProxy(noProxy), new URL(url))).toBe(bypass);
  });
});

describe('parseNoProxy', () => {
  it('keeps one entry per usable item, and only `*` when it is listed', () => {
    expect(parseNoProxy('a.example, 10.0.0.0/8, 10.1.2.3:80, , bad/99').entries.map((entry) => entry.kind)).toEqual(['name', 'ip', 'ip', 'name']);
    expect(parseNoProxy('a.example, *, 10.0.0.0/8').entries).toEqual([{ kind: 'all' }]);
  });
});
