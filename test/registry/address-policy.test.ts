/** The address policy: which addresses are never contacted, and the lookup and connector that enforce it. */
import type { LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { describe, expect, it } from 'vitest';
import { AddressBlockedError, AddressPolicy, guardedConnector, guardedLookup, hostNameProblem, InvalidHostNameError } from '../../src/registry/address-policy.js';

const policy = new AddressPolicy();

describe('AddressPolicy.blocked', () => {
  it.each([
    ['169.254.169.254', 'link-local (cloud metadata)'],
    ['169.254.0.1', 'link-local (cloud metadata)'],
    ['[169.254.169.254]', 'link-local (cloud metadata)'],
    ['0.0.0.0', 'unspecified ("this host")'],
    ['0.1.2.3', 'unspecified ("this host")'],
    ['100.100.100.200', 'cloud metadata (Alibaba Cloud)'],
    ['192.0.0.192', 'cloud metadata (Oracle Cloud)'],
    ['fe80::1', 'link-local'],
    ['FE80::abcd', 'link-local'],
    ['febf:ffff::1', 'link-local'],
    ['[fe80::1]', 'link-local'],
    ['fd00:ec2::254', 'cloud metadata (AWS)'],
    ['fd00:ec2:0:0:0:0:0:254', 'cloud metadata (AWS)'],
    ['::', 'unspecified ("this host")'],
  ])('refuses %s', (address, why) => {
    expect(policy.blocked(address)).toBe(why);
  });

  it.each([
    ['::ffff:169.254.169.254', 'IPv4-mapped, dotted'],
    ['::ffff:a9fe:a9fe', 'IPv4-mapped, hex'],
    ['0:0:0:0:0:ffff:a9fe:a9fe', 'IPv4-mapped, uncompressed'],
    ['::ffff:0:169.254.169.254', 'IPv4-translated (RFC 2765)'],
    ['64:ff9b::169.254.169.254', 'NAT64 well-known prefix'],
    ['64:ff9b::a9fe:a9fe', 'NAT64, hex'],
    ['::169.254.169.254', 'IPv4-compatible'],
    ['::ffff:0.0.0.0', 'IPv4-mapped unspecified'],
    ['[::ffff:169.254.169.254]', 'bracketed, as in a URL'],
    ['2002:a9fe:a9fe::1', '6to4'],
    ['2002:a9fe:a9fe:1234:5678:9abc:def0:1', '6to4, any subnet and interface'],
    ['2002::1', '6to4 of 0.0.0.0'],
    ['64:ff9b:1:a9fe:a9fe::', 'local-use NAT64, /48 placement'],
    ['64:ff9b:1:00a9:00fe:a9fe::', 'local-use NAT64, /56 placement'],
    ['64:ff9b:1:0:a9:fea9:fe00::', 'local-use NAT64, /64 placement'],
    ['64:ff9b:1::a9fe:a9fe', 'local-use NAT64, /96 placement'],
    ['64:ff9b:1:1234:5678::169.254.169.254', 'local-use NAT64, /96 placement with a subnet, dotted'],
  ])('refuses %s (%s)', (address) => {
    expect(policy.blocked(address)).toBeDefined();
  });

  it('says which form carried which refused IPv4 address', () => {
    expect(policy.blocked('2002:a9fe:a9fe::1')).toBe('6to4 address of 169.254.169.254, a link-local (cloud metadata)');
    expect(policy.blocked('64:ff9b:1::a9fe:a9fe')).toBe('local-use NAT64 address of 169.254.169.254, a link-local (cloud metadata)');
    expect(policy.blocked('::ffff:100.100.100.200')).toBe('IPv4-mapped address of 100.100.100.200, a cloud metadata (Alibaba Cloud)');
  });

  it.each([
    '127.0.0.1',
    '::1',
    '::ffff:127.0.0.1',
    '10.0.0.1',
    '192.168.1.1',
    '172.16.0.1',
    '100.64.0.1',
    '169.253.255.255',
    '169.255.0.0',
    'fec0::1',
    'fd00:ec2::253',
    '2001:db8::1',
    '8.8.8.8',
    '2002:0a00:0001::1',
    '2002:7f00:1::',
    '64:ff9b:1::a00:1',
    '64:ff9b:1:a00:1::',
    '64:ff9b::a00:1',
  ])('allows %s (loopback and private networks host ordinary registries, in any form)', (address) => {
    expect(policy.blocked(address)).toBeUndefined();
  });

  it.each(['registry.example.com', 'localhost', '', '169.254.169.254.nip.io'])('says nothing about the name %j (names are checked on the address they resolve to)', (name) => {
    expect(policy.blocked(name)).toBeUndefined();
  });
});

/** A lookup answering from a table, counting its calls, in the shape net.connect uses. */
function fakeLookup(table: Record<string, readonly string[]>): LookupFunction & { calls: string[] } {
  const calls: string[] = [];
  const lookup = ((hostname, options, callback) => {
    calls.push(hostname);
    const addresses = table[hostname];
    if (addresses === undefined) {
      const error: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${hostname}`);
      error.code = 'ENOTFOUND';
      callback(error, '', 0);
      return;
    }
    const all: LookupAddress[] = addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    if (options.all === true) callback(null, all);
    else callback(null, all[0]?.address ?? '', all[0]?.family ?? 4);
  }) as LookupFunction & { calls: string[] };
  lookup.calls = calls;
  return lookup;
}

function lookupWith(lookup: LookupFunction, hostname: string, all: boolean): Promise<{ error: Error | null; address: unknown }> {
  return new Promise((resolve) => {
    lookup(hostname, { all }, (error, address) => {
      resolve({ error, address });
    });
  });
}

describe('guardedLookup', () => {
  const dns = fakeLookup({
    'registry.test': ['127.0.0.1'],
    'metadata.test': ['169.254.169.254'],
    'mixed.test': ['127.0.0.1', 'fd00:ec2::254'],
    'mapped.test': ['::ffff:169.254.169.254'],
  });
  const guarded = guardedLookup(policy, dns);

  it.each([true, false])('passes a permitted address through (all: %s)', async (all) => {
    const { error, address } = await lookupWith(guarded, 'registry.test', all);
    expect(error).toBeNull();
    expect(address).toEqual(all ? [{ address: '127.0.0.1', family: 4 }] : '127.0.0.1');
  });

  it.each([
    ['metadata.test', '169.254.169.254'],
    ['mapped.test', '::ffff:169.254.169.254'],
    ['mixed.test', 'fd00:ec2::254'],
  ])('fails %s with AddressBlockedError naming the address', async (name, address) => {
    const { error } = await lookupWith(guarded, name, true);
    expect(error).toBeInstanceOf(AddressBlockedError);
    expect(error).toMatchObject({ code: 'DP_ERR_ADDRESS_BLOCKED', host: name, address });
    expect(error?.message).toContain(`${name} (resolves to ${address}) is a`);
  });

  it('passes DNS errors through unchanged', async () => {
    const { error } = await lookupWith(guarded, 'nowhere.test', false);
    expect(error).toMatchObject({ code: 'ENOTFOUND' });
  });
});

describe('hostNameProblem', () => {
  const labels = (count: number, size: number) => Array.from({ length: count }, () => 'a'.repeat(size)).join('.');

  it.each([
    ['registry.example.com'],
    [labels(4, 63).slice(0, 253)],
    [`${labels(4, 63).slice(0, 253)}.`],
    ['a'.repeat(63)],
    ['127.0.0.1'],
    ['[::1]'],
    ['localhost'],
  ])('accepts %s', (name) => {
    expect(hostNameProblem(name)).toBeUndefined();
  });

  it.each([
    [labels(5, 50), 'is 254 characters long; no DNS name is longer than 253'],
    [labels(6, 49), 'is 299 characters long; no DNS name is longer than 253'],
    [`${'a'.repeat(64)}.example.com`, 'has a label of 64 characters; no DNS label is longer than 63'],
    [`registry.${'b'.repeat(200)}`, 'has a label of 200 characters; no DNS label is longer than 63'],
    ['x'.repeat(1024 * 1024), 'is 1048576 characters long; no DNS name is longer than 253'],
  ])('refuses a name of %#', (name, problem) => {
    expect(hostNameProblem(name)).toBe(problem);
  });

  it('quotes only the start of a refused name', () => {
    const name = 'x'.repeat(1024 * 1024);
    const error = new InvalidHostNameError(name, hostNameProblem(name) ?? '');
    expect(error.message).toBe(`host name "${'x'.repeat(40)}…" is 1048576 characters long; no DNS name is longer than 253`);
    expect(error.code).toBe('DP_ERR_INVALID_HOST_NAME');
  });
});

describe('guardedConnector', () => {
  it('refuses a host name no DNS name can be before any lookup or socket', async () => {
    const dns = fakeLookup({});
    const connector = guardedConnector({ policy, lookup: dns, timeoutMs: 1_000, connectOptionsFor: () => ({}) });
    const hostname = `${'a'.repeat(60)}.`.repeat(5).slice(0, 280);
    const error = await new Promise<Error | null>((resolve) => {
      connector({ hostname, host: `${hostname}:443`, protocol: 'https:', port: '443', servername: hostname }, (...args) => {
        resolve(args[0]);
      });
    });
    expect(error).toBeInstanceOf(InvalidHostNameError);
    expect(error?.message).toContain('is 280 characters long; no DNS name is longer than 253');
    expect(dns.calls).toEqual([]);
  });

  it('refuses an IP literal before any lookup or socket', async () => {
    const dns = fakeLookup({});
    const connector = guardedConnector({ policy, lookup: dns, timeoutMs: 1_000, connectOptionsFor: () => ({}) });
    const error = await new Promise<Error | null>((resolve) => {
      connector({ hostname: '169.254.169.254', host: '169.254.169.254', protocol: 'http:', port: '80' }, (...args) => {
        resolve(args[0]);
      });
    });
    expect(error).toBeInstanceOf(AddressBlockedError);
    expect(error?.message).toBe('169.254.169.254 is a link-local (cloud metadata) address, which digest-pinner never contacts');
    expect(dns.calls).toEqual([]);
  });

  it('asks for the connect options of the host it connects to', async () => {
    const asked: string[] = [];
    const connector = guardedConnector({
      policy,
      lookup: fakeLookup({}),
      timeoutMs: 1_000,
      connectOptionsFor: (host) => {
        asked.push(host);
        return {};
      },
    });
    await new Promise<void>((resolve) => {
      connector({ hostname: 'nowhere.test', host: 'Nowhere.test:5000', protocol: 'http:', port: '5000' }, () => {
        resolve();
      });
    });
    expect(asked).toEqual(['nowhere.test:5000']);
  });
});
