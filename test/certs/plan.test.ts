/** The self-managed certificate plan: one step at a time, from data, with the clock given. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_TIMING, planStep, timingProblems, type PlanInput, type Timing } from '../../src/certs/plan.js';
import { bundleFingerprint, type CaInfo, type CertificateView, type LeafInfo } from '../../src/certs/stored.js';

const MINUTE = 60_000;
/** Short timings, as the e2e runs them. */
const TIMING: Timing = {
  caValidityMs: 240 * 1000,
  caRenewBeforeMs: 150 * 1000,
  certValidityMs: 120 * 1000,
  certRenewBeforeMs: 60 * 1000,
  propagationMs: 5 * 1000,
  replicaTimeoutMs: 30 * 1000,
};
const NOW = Date.UTC(2030, 0, 1);
const HOSTS = ['127.0.0.1'];

const ca = (name: string, notAfter: number): CaInfo => ({ fingerprint: name, notAfter });
const leaf = (name: string, issuer: string | undefined, notAfter: number, extra: Partial<LeafInfo> = {}): LeafInfo =>
  ({ fingerprint: name, issuer, notAfter, hosts: HOSTS, missingHosts: [], ...extra });

function view(parts: Partial<CertificateView> & { bundle: readonly CaInfo[] }): CertificateView {
  return { signer: undefined, leaf: undefined, published: undefined, replicas: {}, ...parts, bundleFingerprint: bundleFingerprint(parts.bundle.map((c) => c.fingerprint)) };
}

/** The steady state: one CA, its certificate, published long ago, this replica recorded serving it. */
function steady(overrides: Partial<PlanInput> = {}): PlanInput {
  const v = view({ bundle: [ca('ca1', NOW + 200_000)], signer: 'ca1', leaf: leaf('leaf1', 'ca1', NOW + 100_000) });
  return {
    now: NOW,
    view: { ...v, published: { bundle: v.bundleFingerprint, at: NOW - MINUTE }, replicas: { me: { cert: 'leaf1', seen: NOW - 1_000 } } },
    webhook: { bundle: v.bundleFingerprint },
    self: { identity: 'me', serving: 'leaf1' },
    hosts: HOSTS,
    ...overrides,
  };
}

/** Mid-rotation: ca2 joined and signs; the webhooks hold both CAs since `publishedAt`; leaf1 (from ca1) is served. */
function rotating(publishedAt: number, overrides: Partial<PlanInput> = {}): PlanInput {
  const v = view({ bundle: [ca('ca1', NOW + 140_000), ca('ca2', NOW + 240_000)], signer: 'ca2', leaf: leaf('leaf1', 'ca1', NOW + 100_000) });
  return {
    now: NOW,
    view: { ...v, published: { bundle: v.bundleFingerprint, at: publishedAt }, replicas: { me: { cert: 'leaf1', seen: NOW - 1_000 } } },
    webhook: { bundle: v.bundleFingerprint },
    self: { identity: 'me', serving: 'leaf1' },
    hosts: HOSTS,
    ...overrides,
  };
}

/** After the switch: ca1 and ca2 in the caBundle, leaf2 from ca2 in the Secret. */
function switched(replicas: CertificateView['replicas'], serving = 'leaf2'): PlanInput {
  const v = view({ bundle: [ca('ca1', NOW + 140_000), ca('ca2', NOW + 240_000)], signer: 'ca2', leaf: leaf('leaf2', 'ca2', NOW + 120_000) });
  return {
    now: NOW,
    view: { ...v, published: { bundle: v.bundleFingerprint, at: NOW - MINUTE }, replicas },
    webhook: { bundle: v.bundleFingerprint },
    self: { identity: 'me', serving },
    hosts: HOSTS,
  };
}

describe('timingProblems', () => {
  it('accepts the defaults and the e2e timings', () => {
    expect(timingProblems(DEFAULT_TIMING)).toEqual([]);
    expect(timingProblems(TIMING)).toEqual([]);
  });

  it('names each contradiction', () => {
    expect(timingProblems({ ...TIMING, caRenewBeforeMs: TIMING.caValidityMs })).toEqual(['the CA renewal threshold must be shorter than the CA validity']);
    expect(timingProblems({ ...TIMING, certRenewBeforeMs: TIMING.certValidityMs, caRenewBeforeMs: 200_000 })).toEqual([
      'the certificate renewal threshold must be shorter than the certificate validity',
    ]);
    expect(timingProblems({ ...TIMING, propagationMs: 30_000 })).toEqual(['the certificate renewal threshold must exceed twice the propagation delay']);
    expect(timingProblems({ ...TIMING, replicaTimeoutMs: 90_000 })).toEqual([
      'the CA renewal threshold must be at least the certificate renewal threshold plus the propagation delay plus the replica timeout',
    ]);
  });
});

describe('planStep: a new Secret', () => {
  it('creates a CA first, valid for caValidityMs', () => {
    const step = planStep({ ...steady(), view: view({ bundle: [] }), webhook: { bundle: undefined }, self: { identity: 'me', serving: undefined } }, TIMING);
    expect(step).toEqual({ kind: 'create-ca', keep: [], notAfter: NOW + TIMING.caValidityMs, reason: 'no CA to sign with' });
  });

  it('then issues a certificate at once, before the webhooks hold the CA (nothing is served yet, so no trust can break)', () => {
    const v = view({ bundle: [ca('ca1', NOW + 240_000)], signer: 'ca1' });
    const step = planStep({ ...steady(), view: v, webhook: { bundle: undefined }, self: { identity: 'me', serving: undefined } }, TIMING);
    expect(step).toEqual({ kind: 'issue-cert', signer: 'ca1', hosts: HOSTS, notAfter: NOW + TIMING.certValidityMs, reason: 'no serving certificate' });
  });

  it('then publishes the caBundle, then records since when the webhooks hold it', () => {
    const v = view({ bundle: [ca('ca1', NOW + 240_000)], signer: 'ca1', leaf: leaf('leaf1', 'ca1', NOW + 120_000) });
    const input = { ...steady(), view: v, self: { identity: 'me', serving: 'leaf1' } };
    expect(planStep({ ...input, webhook: { bundle: undefined } }, TIMING).kind).toBe('publish-bundle');
    expect(planStep({ ...input, webhook: { bundle: v.bundleFingerprint } }, TIMING)).toEqual({ kind: 'mark-published', bundle: v.bundleFingerprint, reason: 'the webhooks hold the caBundle' });
  });

  it('issues a certificate even when the webhook configuration cannot be read, but does not publish', () => {
    const v = view({ bundle: [ca('ca1', NOW + 240_000)], signer: 'ca1' });
    expect(planStep({ ...steady(), view: v, webhook: undefined, self: { identity: 'me', serving: undefined } }, TIMING).kind).toBe('issue-cert');
    const served = view({ bundle: [ca('ca1', NOW + 240_000)], signer: 'ca1', leaf: leaf('leaf1', 'ca1', NOW + 120_000) });
    expect(planStep({ ...steady(), view: served, webhook: undefined, self: { identity: 'me', serving: undefined } }, TIMING).kind).toBe('wait');
  });
});

describe('planStep: the steady state', () => {
  it('waits for the earliest of certificate renewal, CA renewal and heartbeat', () => {
    expect(planStep(steady(), TIMING)).toEqual({ kind: 'wait', until: NOW - 1_000 + TIMING.replicaTimeoutMs / 3, reason: 'heartbeat' });
    const quiet = steady({ self: { identity: 'me', serving: undefined } });
    expect(planStep(quiet, TIMING)).toEqual({ kind: 'wait', until: NOW + 40_000, reason: 'certificate renewal' });
  });

  it('records what this replica serves when it has no record, when it serves another certificate, and every third of the replica timeout', () => {
    const base = steady();
    expect(planStep({ ...base, view: { ...base.view, replicas: {} } }, TIMING)).toMatchObject({ kind: 'heartbeat', cert: 'leaf1', forget: [] });
    expect(planStep({ ...base, view: { ...base.view, replicas: { me: { cert: 'leaf0', seen: NOW } } } }, TIMING)).toMatchObject({ kind: 'heartbeat', cert: 'leaf1' });
    expect(planStep({ ...base, now: NOW - 1_000 + TIMING.replicaTimeoutMs / 3 }, TIMING)).toMatchObject({ kind: 'heartbeat', reason: 'still serving the same certificate' });
  });

  it('forgets replicas not seen for the replica timeout when it writes its own record', () => {
    const base = steady();
    const replicas = { me: { cert: 'leaf1', seen: NOW - 20_000 }, gone: { cert: 'leaf1', seen: NOW - 30_000 }, alive: { cert: 'leaf1', seen: NOW - 29_999 } };
    expect(planStep({ ...base, view: { ...base.view, replicas } }, TIMING)).toMatchObject({ kind: 'heartbeat', forget: ['gone'] });
  });

  it('renews the certificate from the same CA at once when it expires within certRenewBeforeMs', () => {
    const base = steady({ now: NOW + 40_000 });
    expect(planStep(base, TIMING)).toEqual({
      kind: 'issue-cert', signer: 'ca1', hosts: HOSTS, notAfter: NOW + 40_000 + TIMING.certValidityMs, reason: `the serving certificate expires at ${new Date(NOW + 100_000).toISOString()}`,
    });
    expect(planStep(steady({ now: NOW + 39_999 }), TIMING).kind).not.toBe('issue-cert');
  });

  it('never issues a certificate valid past its CA', () => {
    const long = { ...TIMING, certValidityMs: 1_000_000 };
    expect(planStep(steady({ now: NOW + 40_000 }), long)).toMatchObject({ kind: 'issue-cert', notAfter: NOW + 200_000 });
  });

  it('renews for a host the certificate lacks, keeping the names it has so differently configured replicas settle', () => {
    const base = steady({ hosts: ['127.0.0.1', 'dp.ns.svc'] });
    const v = { ...base.view, leaf: leaf('leaf1', 'ca1', NOW + 100_000, { hosts: ['127.0.0.1', 'old.ns.svc'], missingHosts: ['dp.ns.svc'] }) };
    expect(planStep({ ...base, view: v }, TIMING)).toMatchObject({ kind: 'issue-cert', hosts: ['127.0.0.1', 'dp.ns.svc', 'old.ns.svc'], reason: 'the serving certificate is not valid for dp.ns.svc' });
  });

  it('republishes a caBundle someone replaced, first withdrawing the record that the webhooks hold it', () => {
    const base = steady({ webhook: { bundle: 'someone-else' } });
    expect(planStep(base, TIMING)).toEqual({ kind: 'mark-published', bundle: undefined, reason: 'the webhooks no longer hold the caBundle' });
    expect(planStep({ ...base, view: { ...base.view, published: undefined } }, TIMING)).toEqual({ kind: 'publish-bundle', reason: 'the webhooks hold another caBundle' });
  });
});

describe('planStep: a CA rotation', () => {
  it('starts caRenewBeforeMs before the signing CA expires: a new CA joins, expired CAs leave, the certificate stays', () => {
    const base = steady();
    const v = view({ bundle: [ca('ca0', NOW - 1), ca('ca1', NOW + 150_000)], signer: 'ca1', leaf: leaf('leaf1', 'ca1', NOW + 100_000) });
    expect(planStep({ ...base, view: { ...v, published: { bundle: v.bundleFingerprint, at: 0 } }, webhook: { bundle: v.bundleFingerprint } }, TIMING)).toEqual({
      kind: 'create-ca', keep: ['ca1'], notAfter: NOW + TIMING.caValidityMs, reason: `the CA expires at ${new Date(NOW + 150_000).toISOString()}`,
    });
    expect(planStep({ ...base, now: NOW + 49_999 }, TIMING).kind).not.toBe('create-ca');
    expect(planStep({ ...base, now: NOW + 50_000 }, TIMING).kind).toBe('create-ca');
  });

  it('publishes the caBundle with both CAs before any certificate from the new CA', () => {
    const input = rotating(0);
    const before = { ...input, view: { ...input.view, published: { bundle: 'ca1 only', at: NOW - MINUTE } } };
    expect(planStep({ ...before, webhook: { bundle: 'ca1 only' } }, TIMING).kind).toBe('publish-bundle');
    expect(planStep(before, TIMING)).toEqual({ kind: 'mark-published', bundle: input.view.bundleFingerprint, reason: 'the webhooks hold the caBundle' });
  });

  it('switches to a certificate from the new CA only propagationMs after the webhooks were seen holding it', () => {
    const publishedAt = NOW - 3_000;
    expect(planStep(rotating(publishedAt), TIMING)).toEqual({
      kind: 'wait', until: publishedAt + TIMING.propagationMs, reason: 'the serving certificate is not from the signing CA; waiting for kube-apiserver to use the caBundle',
    });
    expect(planStep({ ...rotating(publishedAt), now: publishedAt + TIMING.propagationMs }, TIMING)).toMatchObject({ kind: 'issue-cert', signer: 'ca2' });
  });

  it('does not switch while the webhooks do not hold the caBundle, or cannot be read', () => {
    const input = rotating(NOW - MINUTE);
    expect(planStep({ ...input, webhook: undefined }, TIMING).kind).toBe('wait');
  });

  it('drops the old CA once every live replica records the new certificate, this one included', () => {
    const fresh = { me: { cert: 'leaf2', seen: NOW }, other: { cert: 'leaf2', seen: NOW - 1_000 } };
    expect(planStep(switched(fresh), TIMING)).toEqual({ kind: 'drop-cas', keep: ['ca2'], reason: 'every live replica serves a certificate from the signing CA' });
  });

  it('keeps the old CA while a live replica serves the old certificate, until it is taken for dead', () => {
    const replicas = { me: { cert: 'leaf2', seen: NOW }, other: { cert: 'leaf1', seen: NOW - 25_000 } };
    expect(planStep(switched(replicas), TIMING)).toEqual({ kind: 'wait', until: NOW + 5_000, reason: 'replicas other still serve an older certificate' });
    const later = { ...switched(replicas), now: NOW + 5_000 };
    expect(planStep(later, TIMING).kind).toBe('drop-cas');
  });

  it('keeps the old CA while this replica still serves the old certificate, whatever its record says', () => {
    const replicas = { me: { cert: 'leaf2', seen: NOW }, other: { cert: 'leaf2', seen: NOW } };
    expect(planStep(switched(replicas, 'leaf1'), TIMING)).toMatchObject({ kind: 'heartbeat', cert: 'leaf1' });
  });
});

describe('planStep: an expired certificate', () => {
  it('is replaced at once, even from a CA the webhooks may not use yet: it fails either way', () => {
    const input = rotating(NOW - 1_000);
    const expired = { ...input, view: { ...input.view, leaf: leaf('leaf1', 'ca1', NOW - 1) } };
    expect(planStep(expired, TIMING)).toMatchObject({ kind: 'issue-cert', signer: 'ca2', reason: `the serving certificate expired at ${new Date(NOW - 1).toISOString()}` });
  });
});
