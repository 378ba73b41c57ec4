/**
 * The rotation protocol under interleavings: replicas run planStep as SelfManagedCertificates
 * does (read the webhook configuration, then the Secret, plan, write with the version read;
 * a watch hands each replica the Secret's versions in order, late), with delays, lost races,
 * replicas dying and new ones starting, and a kube-apiserver that uses the configuration's
 * caBundle some time after it changes (less than the propagation delay). Certificates are
 * modelled by name. What must hold at every moment: each ready replica serves an unexpired
 * certificate from a CA in the caBundle kube-apiserver uses.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planStep, timingProblems, type Step, type Timing } from '../../src/certs/plan.js';
import { bundleFingerprint, type CaInfo, type CertificateView, type Published, type ReplicaRecord } from '../../src/certs/stored.js';

const TIMING: Timing = {
  caValidityMs: 240_000,
  caRenewBeforeMs: 150_000,
  certValidityMs: 120_000,
  certRenewBeforeMs: 60_000,
  propagationMs: 5_000,
  replicaTimeoutMs: 30_000,
};
const HOSTS = ['127.0.0.1'];
/** Simulated time: five CA lifetimes. */
const DURATION_MS = 5 * TIMING.caValidityMs;

interface Leaf {
  readonly fingerprint: string;
  readonly issuer: string;
  readonly notAfter: number;
}

interface SecretModel {
  readonly version: number;
  readonly bundle: readonly CaInfo[];
  readonly signer: string;
  readonly leaf: Leaf;
  readonly published: Published | undefined;
  readonly replicas: Readonly<Record<string, ReplicaRecord>>;
}

interface Replica {
  readonly identity: string;
  alive: boolean;
  serving: string | undefined;
  recorded: boolean;
  busy: boolean;
  again: boolean;
  /** The one pending wake-up (SelfManagedCertificates keeps one timer). */
  wakeAt: number;
  /** When the watch last delivered: versions arrive in order. */
  deliveredAt: number;
  /** The most this replica's watch lags. */
  readonly watchLagMs: number;
  readonly startedAt: number;
}

type Event =
  | { readonly at: number; readonly kind: 'round' | 'wake'; readonly replica: Replica }
  | { readonly at: number; readonly kind: 'read-secret'; readonly replica: Replica; readonly webhook: { version: number; bundle: readonly string[] } }
  | { readonly at: number; readonly kind: 'write'; readonly replica: Replica; readonly step: Exclude<Step, { kind: 'wait' }>; readonly secret: SecretModel; readonly webhookVersion: number }
  | { readonly at: number; readonly kind: 'deliver'; readonly replica: Replica; readonly secret: SecretModel }
  | { readonly at: number; readonly kind: 'churn' };

/** The delays of one run, drawn from `random`. */
interface Delays {
  /** Reading the configuration, then the Secret. */
  readonly read: () => number;
  /** Planning to writing: key generation and a request. */
  readonly write: () => number;
  /** The watch of one replica: some lag far behind the others (a replica starved of CPU). */
  readonly watch: (replica: Replica) => number;
  readonly apiserverLagMs: number;
  readonly churnEveryMs: number;
}

class World {
  now = 0;
  secret: SecretModel;
  webhook: { version: number; bundle: readonly string[] };
  /** The configuration's caBundles over time. */
  readonly history: { at: number; bundle: readonly string[] }[] = [];
  readonly leaves = new Map<string, Leaf>();
  readonly replicas: Replica[] = [];
  readonly violations: string[] = [];
  readonly steps = new Map<string, number>();
  #events: Event[] = [];
  #names = 0;

  /**
   * `readyOnOwnWrite`: a replica turns ready once it has written its record, whatever the
   * Secret's certificate then (the rule SelfManagedCertificates does not follow), to show the test catches it.
   */
  constructor(readonly delays: Delays, readonly random: () => number, readonly timing: Timing = TIMING, readonly readyOnOwnWrite = false) {
    const ca: CaInfo = { fingerprint: this.name('ca'), notAfter: timing.caValidityMs };
    const leaf: Leaf = { fingerprint: this.name('leaf'), issuer: ca.fingerprint, notAfter: timing.certValidityMs };
    this.leaves.set(leaf.fingerprint, leaf);
    const bundle = bundleFingerprint([ca.fingerprint]);
    this.secret = { version: 1, bundle: [ca], signer: ca.fingerprint, leaf, published: { bundle, at: -60_000 }, replicas: {} };
    this.webhook = { version: 1, bundle: [ca.fingerprint] };
    this.history.push({ at: -60_000, bundle: [ca.fingerprint] });
    for (let i = 0; i < 2; i += 1) this.startReplica(leaf.fingerprint);
    this.schedule({ at: delays.churnEveryMs, kind: 'churn' });
  }

  name(prefix: string): string {
    this.#names += 1;
    return `${prefix}${this.#names}`;
  }

  /** Keeps the queue in time order; events at the same time run in the order scheduled. */
  schedule(event: Event): void {
    let low = 0;
    let high = this.#events.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if ((this.#events[middle]?.at ?? 0) <= event.at) low = middle + 1;
      else high = middle;
    }
    this.#events.splice(low, 0, event);
  }

  startReplica(serving: string | undefined): void {
    const replica: Replica = { identity: this.name('replica'), alive: true, serving, recorded: false, busy: false, again: false, wakeAt: Infinity, deliveredAt: this.now, watchLagMs: this.random() < 0.5 ? 2_000 : 15_000, startedAt: this.now };
    this.replicas.push(replica);
    if (serving === undefined) this.deliver(replica, this.secret);
    else this.poke(replica);
  }

  poke(replica: Replica): void {
    if (!replica.alive) return;
    if (replica.busy) replica.again = true;
    else this.schedule({ at: this.now, kind: 'round', replica });
  }

  deliver(replica: Replica, secret: SecretModel): void {
    replica.deliveredAt = Math.max(replica.deliveredAt, this.now + this.delays.watch(replica));
    this.schedule({ at: replica.deliveredAt, kind: 'deliver', replica, secret });
  }

  run(untilMs = DURATION_MS): void {
    while (this.now < untilMs) {
      const event = this.#events.shift();
      if (event === undefined) break;
      this.now = event.at;
      this.handle(event);
      this.check();
    }
  }

  handle(event: Event): void {
    if (event.kind === 'churn') {
      this.churn();
      return;
    }
    const { replica } = event;
    if (!replica.alive) return;
    switch (event.kind) {
      case 'wake':
        if (event.at === replica.wakeAt) this.poke(replica);
        return;
      case 'round':
        if (replica.busy) {
          replica.again = true;
          return;
        }
        replica.busy = true;
        this.schedule({ at: this.now + this.delays.read(), kind: 'read-secret', replica, webhook: this.webhook });
        return;
      case 'read-secret':
        this.plan(replica, event.webhook);
        return;
      case 'write':
        this.write(event);
        return;
      case 'deliver':
        this.seen(replica, event.secret);
    }
  }

  /** SelfManagedCertificates.#step: plan from what was read; wait, or write later. */
  plan(replica: Replica, webhook: { version: number; bundle: readonly string[] }): void {
    const secret = this.secret;
    const view: CertificateView = {
      bundle: secret.bundle,
      bundleFingerprint: bundleFingerprint(secret.bundle.map((ca) => ca.fingerprint)),
      signer: secret.signer,
      leaf: { ...secret.leaf, hosts: HOSTS, missingHosts: [] },
      published: secret.published,
      replicas: secret.replicas,
    };
    const step = planStep({
      now: this.now,
      view,
      webhook: { bundle: webhook.bundle.length === 0 ? undefined : bundleFingerprint(webhook.bundle) },
      self: { identity: replica.identity, serving: replica.serving },
      hosts: HOSTS,
    }, this.timing);
    if (step.kind === 'wait') {
      replica.wakeAt = step.until;
      if (Number.isFinite(step.until)) this.schedule({ at: step.until, kind: 'wake', replica });
      this.done(replica);
      return;
    }
    this.schedule({ at: this.now + this.delays.write(), kind: 'write', replica, step, secret, webhookVersion: webhook.version });
  }

  /** The write, with the version read: it loses when someone wrote since. */
  write(event: Extract<Event, { kind: 'write' }>): void {
    const { replica, step, secret } = event;
    if (step.kind === 'publish-bundle') {
      if (this.webhook.version === event.webhookVersion) {
        this.webhook = { version: this.webhook.version + 1, bundle: secret.bundle.map((ca) => ca.fingerprint) };
        this.history.push({ at: this.now, bundle: this.webhook.bundle });
        this.count(step.kind);
      }
    } else if (this.secret.version === secret.version) {
      this.secret = { ...this.apply(secret, step, replica), version: secret.version + 1 };
      this.count(step.kind);
      if (this.readyOnOwnWrite && step.kind === 'heartbeat' && step.cert === replica.serving) replica.recorded = true;
      for (const other of this.replicas) if (other.alive) this.deliver(other, this.secret);
    }
    this.done(replica);
    this.poke(replica);
  }

  apply(secret: SecretModel, step: Exclude<Step, { kind: 'wait' | 'publish-bundle' }>, replica: Replica): SecretModel {
    switch (step.kind) {
      case 'create-ca': {
        const ca: CaInfo = { fingerprint: this.name('ca'), notAfter: step.notAfter };
        return { ...secret, bundle: [...secret.bundle.filter((c) => step.keep.includes(c.fingerprint)), ca], signer: ca.fingerprint };
      }
      case 'issue-cert': {
        const leaf: Leaf = { fingerprint: this.name('leaf'), issuer: step.signer, notAfter: step.notAfter };
        this.leaves.set(leaf.fingerprint, leaf);
        return { ...secret, leaf };
      }
      case 'drop-cas':
        return { ...secret, bundle: secret.bundle.filter((c) => step.keep.includes(c.fingerprint)) };
      case 'mark-published':
        return { ...secret, published: step.bundle === undefined ? undefined : { bundle: step.bundle, at: this.now } };
      case 'heartbeat': {
        const replicas = Object.fromEntries(Object.entries(secret.replicas).filter(([id]) => !step.forget.includes(id)));
        return { ...secret, replicas: { ...replicas, [replica.identity]: { cert: step.cert, seen: this.now } } };
      }
    }
  }

  /** SelfManagedCertificates.#seen: serve the version's certificate; ready once that version records it. */
  seen(replica: Replica, secret: SecretModel): void {
    replica.serving = secret.leaf.fingerprint;
    if (secret.replicas[replica.identity]?.cert === replica.serving) replica.recorded = true;
    this.poke(replica);
  }

  done(replica: Replica): void {
    replica.busy = false;
    if (replica.again) {
      replica.again = false;
      this.poke(replica);
    }
  }

  /** A new replica starts now and then; from the third on, one of those running dies. */
  churn(): void {
    const alive = this.replicas.filter((r) => r.alive);
    const victim = alive[Math.floor(this.random() * alive.length)];
    if (victim !== undefined && alive.length > 2) victim.alive = false;
    this.startReplica(undefined);
    this.schedule({ at: this.now + this.delays.churnEveryMs, kind: 'churn' });
  }

  count(kind: string): void {
    this.steps.set(kind, (this.steps.get(kind) ?? 0) + 1);
  }

  /** The caBundle kube-apiserver uses now: the configuration's as of apiserverLagMs ago. */
  apiserverBundle(): readonly string[] {
    const seenAt = this.now - this.delays.apiserverLagMs;
    return this.history.filter((entry) => entry.at <= seenAt).at(-1)?.bundle ?? [];
  }

  check(): void {
    const trusted = this.apiserverBundle();
    for (const replica of this.replicas) {
      if (!replica.alive || !replica.recorded || replica.serving === undefined) continue;
      const leaf = this.leaves.get(replica.serving);
      if (leaf === undefined) continue;
      if (!trusted.includes(leaf.issuer)) this.violations.push(`${this.now}: ${replica.identity} serves ${leaf.fingerprint} from ${leaf.issuer}; kube-apiserver trusts ${trusted.join(',')}`);
      if (leaf.notAfter <= this.now) this.violations.push(`${this.now}: ${replica.identity} serves ${leaf.fingerprint}, expired`);
    }
  }
}

/** mulberry32: a small seeded generator, so a failing run can be replayed from its seed. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

describe('the rotation protocol', () => {
  it('uses timings that fit together', () => {
    expect(timingProblems(TIMING)).toEqual([]);
  });

  it('never leaves a ready replica serving a certificate kube-apiserver does not trust, and rotates every CA', () => {
    fc.assert(
      fc.property(
        fc.integer(),
        fc.integer({ min: 0, max: TIMING.propagationMs - 1 }),
        fc.integer({ min: 5_000, max: 120_000 }),
        (seed, apiserverLagMs, churnEveryMs) => {
          const random = seeded(seed);
          const world = new World({
            read: () => random() * 200,
            write: () => random() * 1_500,
            watch: (replica) => random() * replica.watchLagMs,
            apiserverLagMs,
            churnEveryMs,
          }, random);
          world.run();
          expect(world.violations).toEqual([]);
          // A CA lives caValidityMs and is replaced caRenewBeforeMs before it expires.
          expect(world.steps.get('create-ca') ?? 0).toBeGreaterThanOrEqual(Math.floor(DURATION_MS / (TIMING.caValidityMs - TIMING.caRenewBeforeMs)) - 1);
          expect(world.steps.get('drop-cas') ?? 0).toBeGreaterThanOrEqual((world.steps.get('create-ca') ?? 0) - 1);
        },
      ),
      { numRuns: 15 },
    );
  });

  it('catches a plan that does not wait for kube-apiserver: with no propagation delay, certificates from a CA it does not use yet', () => {
    const world = new World({ read: () => 0, write: () => 0, watch: () => 100, apiserverLagMs: 2_000, churnEveryMs: 1e9 }, seeded(1), { ...TIMING, propagationMs: 0 });
    world.run(150_000);
    expect(world.violations[0]).toMatch(/kube-apiserver trusts/);
  });

  it('catches a replica that turns ready on its own record of a certificate the Secret has moved past', () => {
    // A replica starts just before the first switch to a new CA's certificate, and its watch is slow.
    const slowNewcomers = (replica: Replica): number => (replica.startedAt > 0 ? 15_000 : 500);
    const world = new World({ read: () => 0, write: () => 100, watch: slowNewcomers, apiserverLagMs: 0, churnEveryMs: 93_000 }, seeded(1), TIMING, true);
    world.run(150_000);
    expect(world.violations[0]).toMatch(/kube-apiserver trusts/);
    const safe = new World({ read: () => 0, write: () => 100, watch: slowNewcomers, apiserverLagMs: 0, churnEveryMs: 93_000 }, seeded(1), TIMING);
    safe.run(150_000);
    expect(safe.violations).toEqual([]);
  });
});
