/** The self-managed Secret's content: reading, writing, what its certificates say, and a step applied to it. */
import { X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { createCa, issueServingCertificate, type KeyPair } from '../../src/certs/generate.js';
import { applyStep } from '../../src/certs/plan.js';
import {
  bundleFingerprint,
  bundlePem,
  EMPTY_STORED,
  fingerprintOfPem,
  pemBundleFingerprint,
  PUBLISHED_ANNOTATION,
  readStored,
  REPLICAS_ANNOTATION,
  servingPairInfo,
  storedAnnotations,
  storedData,
  viewOf,
  type StoredCertificates,
} from '../../src/certs/stored.js';

const NOW = Date.now();
const HOUR = 3_600_000;
let ca1: KeyPair;
let ca2: KeyPair;
let leaf1: KeyPair;
let leaf2: KeyPair;

beforeAll(async () => {
  [ca1, ca2] = await Promise.all([createCa({ now: NOW, notAfter: NOW + 10 * HOUR }), createCa({ now: NOW, notAfter: NOW + 20 * HOUR })]);
  [leaf1, leaf2] = await Promise.all([
    issueServingCertificate({ ca: ca1, hosts: ['dp.ns.svc', '127.0.0.1'], now: NOW, notAfter: NOW + HOUR }),
    issueServingCertificate({ ca: ca2, hosts: ['dp.ns.svc'], now: NOW, notAfter: NOW + 2 * HOUR }),
  ]);
});

const fp = (pem: string): string => fingerprintOfPem(pem) ?? 'not a certificate';
const stored = (parts: Partial<StoredCertificates>): StoredCertificates => ({ ...EMPTY_STORED, ...parts });

describe('createCa and issueServingCertificate', () => {
  it('make CAs told apart by name and a certificate for DNS names and IP addresses, valid until the time asked', () => {
    const first = new X509Certificate(ca1.cert);
    expect(first.ca).toBe(true);
    expect(first.subject).toMatch(/^CN=digest-pinner CA \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    const serving = new X509Certificate(leaf1.cert);
    expect(serving.ca).toBe(false);
    expect(serving.subjectAltName).toBe('DNS:dp.ns.svc, IP Address:127.0.0.1');
    expect(serving.verify(first.publicKey)).toBe(true);
    expect(Date.parse(serving.validTo)).toBe(Math.floor((NOW + HOUR) / 1000) * 1000);
  });
});

describe('readStored and storedData/storedAnnotations', () => {
  it('round-trip the certificates and both annotations', () => {
    const original = stored({
      bundle: [ca1.cert, ca2.cert],
      caKey: ca2.key,
      cert: leaf2.cert,
      key: leaf2.key,
      published: { bundle: 'abc', at: Date.UTC(2030, 0, 1) },
      replicas: { 'pod-a_1f2e': { cert: fp(leaf2.cert), seen: Date.UTC(2030, 0, 1, 0, 1) } },
    });
    const annotations = storedAnnotations(original);
    expect(JSON.parse(annotations[PUBLISHED_ANNOTATION] ?? '')).toEqual({ bundle: 'abc', at: '2030-01-01T00:00:00.000Z' });
    expect(JSON.parse(annotations[REPLICAS_ANNOTATION] ?? '')).toEqual({ 'pod-a_1f2e': { cert: fp(leaf2.cert), seen: '2030-01-01T00:01:00.000Z' } });
    const data = storedData(original);
    expect(data['ca.crt']).toBe(bundlePem([ca1.cert, ca2.cert]));
    const read = readStored(data, annotations);
    expect(read.problems).toEqual([]);
    expect(read.stored).toEqual({ ...original, bundle: [ca1.cert.trim(), ca2.cert.trim()] });
  });

  it('reads an empty Secret (empty tls.crt and tls.key included) as no certificates', () => {
    expect(readStored({ 'tls.crt': '', 'tls.key': '' }, {})).toEqual({ stored: EMPTY_STORED, problems: [] });
  });

  it('leaves out annotations it cannot read, naming them', () => {
    const { stored: read, problems } = readStored({}, {
      [PUBLISHED_ANNOTATION]: '{"bundle": 1}',
      [REPLICAS_ANNOTATION]: '{"good": {"cert": "x", "seen": "2030-01-01T00:00:00Z"}, "bad": {"cert": "x"}}',
    });
    expect(read.published).toBeUndefined();
    expect(read.replicas).toEqual({ good: { cert: 'x', seen: Date.UTC(2030, 0, 1) } });
    expect(problems).toEqual([
      `annotation ${PUBLISHED_ANNOTATION} is not {"bundle": fingerprint, "at": time}`,
      `annotation ${REPLICAS_ANNOTATION}: replica "bad" is not {"cert": fingerprint, "seen": time}`,
    ]);
    expect(readStored({}, { [REPLICAS_ANNOTATION]: 'not json' }).problems).toEqual([`annotation ${REPLICAS_ANNOTATION} is not JSON`]);
  });
});

describe('viewOf', () => {
  it('finds the signing CA by its key, and the CA that signed the serving certificate', () => {
    const { view, problems } = viewOf(stored({ bundle: [ca1.cert, ca2.cert], caKey: ca2.key, cert: leaf1.cert, key: leaf1.key }), ['dp.ns.svc', '127.0.0.1', 'other.ns.svc']);
    expect(problems).toEqual([]);
    expect(view.bundle.map((ca) => ca.fingerprint)).toEqual([fp(ca1.cert), fp(ca2.cert)]);
    expect(view.bundle[1]?.notAfter).toBe(Date.parse(new X509Certificate(ca2.cert).validTo));
    expect(view.bundleFingerprint).toBe(bundleFingerprint([fp(ca2.cert), fp(ca1.cert)]));
    expect(view.signer).toBe(fp(ca2.cert));
    expect(view.leaf).toEqual({
      fingerprint: fp(leaf1.cert),
      notAfter: Date.parse(new X509Certificate(leaf1.cert).validTo),
      hosts: ['dp.ns.svc', '127.0.0.1'],
      missingHosts: ['other.ns.svc'],
      issuer: fp(ca1.cert),
    });
  });

  it('has no signer for a key of no CA in the caBundle, no issuer for a certificate from elsewhere, and no leaf for a key that does not match', () => {
    const noSigner = viewOf(stored({ bundle: [ca1.cert], caKey: ca2.key, cert: leaf2.cert, key: leaf2.key }), []);
    expect(noSigner.view.signer).toBeUndefined();
    expect(noSigner.view.leaf?.issuer).toBeUndefined();
    expect(noSigner.problems).toEqual(['ca.key is the key of no CA in ca.crt']);
    const mismatched = viewOf(stored({ bundle: [ca1.cert], caKey: ca1.key, cert: leaf1.cert, key: leaf2.key }), []);
    expect(mismatched.view.leaf).toBeUndefined();
    expect(mismatched.problems).toEqual(['tls.key is not the key of tls.crt']);
  });

  it('ignores a certificate that is not a CA in the caBundle', () => {
    const { view, problems } = viewOf(stored({ bundle: [leaf1.cert, ca1.cert] }), []);
    expect(view.bundle.map((ca) => ca.fingerprint)).toEqual([fp(ca1.cert)]);
    expect(problems).toEqual(['ca.crt certificate 1 is not a CA certificate']);
  });
});

describe('pemBundleFingerprint and servingPairInfo', () => {
  it('fingerprint a webhook caBundle as the Secret does, whatever the order', () => {
    expect(pemBundleFingerprint(bundlePem([ca2.cert, ca1.cert]))).toBe(viewOf(stored({ bundle: [ca1.cert, ca2.cert] }), []).view.bundleFingerprint);
  });

  it('describes a matching pair, and says what is wrong with others', () => {
    expect(servingPairInfo(leaf1.cert, leaf1.key)).toEqual({ fingerprint: fp(leaf1.cert), notAfter: Date.parse(new X509Certificate(leaf1.cert).validTo) });
    expect(servingPairInfo(leaf1.cert, leaf2.key)).toBe('tls.key is not the key of tls.crt');
    expect(servingPairInfo('junk', leaf2.key)).toBe('tls.crt is not a PEM certificate');
  });
});

describe('applyStep', () => {
  const context = { now: Date.UTC(2030, 0, 1), identity: 'me' };

  it('create-ca: keeps the CAs named, appends the new one and holds its key; the serving certificate stays', () => {
    const before = stored({ bundle: [ca1.cert], caKey: ca1.key, cert: leaf1.cert, key: leaf1.key });
    const after = applyStep(before, { kind: 'create-ca', keep: [fp(ca1.cert)], notAfter: 0, reason: '' }, { ca: ca2 }, context);
    expect(after).toEqual({ ...before, bundle: [ca1.cert, ca2.cert], caKey: ca2.key });
  });

  it('issue-cert, drop-cas, mark-published and heartbeat change only their part', () => {
    const before = stored({ bundle: [ca1.cert, ca2.cert], caKey: ca2.key, cert: leaf1.cert, key: leaf1.key, replicas: { gone: { cert: 'x', seen: 0 }, other: { cert: 'y', seen: 1 } } });
    expect(applyStep(before, { kind: 'issue-cert', signer: fp(ca2.cert), hosts: [], notAfter: 0, reason: '' }, { serving: leaf2 }, context)).toEqual({ ...before, cert: leaf2.cert, key: leaf2.key });
    expect(applyStep(before, { kind: 'drop-cas', keep: [fp(ca2.cert)], reason: '' }, {}, context)).toEqual({ ...before, bundle: [ca2.cert] });
    expect(applyStep(before, { kind: 'mark-published', bundle: 'b', reason: '' }, {}, context)).toEqual({ ...before, published: { bundle: 'b', at: context.now } });
    const withdrawn = applyStep({ ...before, published: { bundle: 'b', at: 0 } }, { kind: 'mark-published', bundle: undefined, reason: '' }, {}, context);
    expect(withdrawn.published).toBeUndefined();
    expect(applyStep(before, { kind: 'heartbeat', cert: 'z', forget: ['gone'], reason: '' }, {}, context).replicas).toEqual({ other: { cert: 'y', seen: 1 }, me: { cert: 'z', seen: context.now } });
  });

  it('refuses create-ca and issue-cert without their key material', () => {
    expect(() => applyStep(EMPTY_STORED, { kind: 'create-ca', keep: [], notAfter: 0, reason: '' }, {}, context)).toThrow('create-ca needs a CA');
    expect(() => applyStep(EMPTY_STORED, { kind: 'issue-cert', signer: '', hosts: [], notAfter: 0, reason: '' }, {}, context)).toThrow('issue-cert needs a serving certificate');
  });
});
