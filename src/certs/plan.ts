/**
 * The next step of self-managed certificates, decided from what the Secret and the webhook
 * configuration hold now. Every replica runs the same plan; their writes to the Secret carry
 * its resourceVersion, so when two replicas take a step at once one write wins and the other
 * plans again from what won. Pure: the clock and the cluster come in as data.
 *
 * A CA is rotated with an overlap, so kube-apiserver never holds a caBundle without the CA
 * of a certificate some replica serves:
 *   1. create-ca: a new CA joins the caBundle and signs from now on; the serving certificate stays.
 *   2. publish-bundle: the webhook configuration gets the caBundle (old and new CA).
 *   3. mark-published: the Secret records that it did, and when.
 *   4. issue-cert: once `propagationMs` has passed (kube-apiserver reads the configuration
 *      through a watch), a serving certificate from the new CA.
 *   5. heartbeat: each replica records the certificate it serves.
 *   6. drop-cas: once every live replica serves the new certificate, the old CA leaves the caBundle;
 *      publish-bundle and mark-published follow. A replica not seen for `replicaTimeoutMs` is dead.
 */
import type { KeyPair } from './generate.js';
import { bundleWith, type CaInfo, type CertificateView, type LeafInfo, type StoredCertificates } from './stored.js';

/** Validity periods and thresholds, in ms. */
export interface Timing {
  readonly caValidityMs: number;
  /** A new CA is created when the signing CA expires within this. */
  readonly caRenewBeforeMs: number;
  readonly certValidityMs: number;
  /** A serving certificate is renewed when it expires within this. */
  readonly certRenewBeforeMs: number;
  /** How long kube-apiserver may take to use a caBundle after the webhook configuration holds it. */
  readonly propagationMs: number;
  /** A replica that has not written for this long is taken for dead; live ones write every third of it. */
  readonly replicaTimeoutMs: number;
}

export const DEFAULT_TIMING: Timing = {
  caValidityMs: 730 * 24 * 3_600_000,
  caRenewBeforeMs: 90 * 24 * 3_600_000,
  certValidityMs: 90 * 24 * 3_600_000,
  certRenewBeforeMs: 30 * 24 * 3_600_000,
  propagationMs: 60_000,
  replicaTimeoutMs: 5 * 60_000,
};

/** What the plan is given. */
export interface PlanInput {
  readonly now: number;
  readonly view: CertificateView;
  /** What the webhook configuration holds: the fingerprint of the caBundle every webhook has (undefined when they differ or have none); undefined when it could not be read. */
  readonly webhook: { readonly bundle: string | undefined } | undefined;
  /** This replica, and the fingerprint of the certificate it serves (undefined before it serves one). */
  readonly self: { readonly identity: string; readonly serving: string | undefined };
  /** DNS names and IP addresses the serving certificate must be valid for. */
  readonly hosts: readonly string[];
}

/** One change, or nothing to do until `until` (ms since the epoch; Infinity: until something changes). */
export type Step =
  | { readonly kind: 'create-ca'; readonly keep: readonly string[]; readonly notAfter: number; readonly reason: string }
  | { readonly kind: 'publish-bundle'; readonly reason: string }
  /** Records since when the webhooks hold caBundle `bundle`; undefined: that they do not. */
  | { readonly kind: 'mark-published'; readonly bundle: string | undefined; readonly reason: string }
  /** A serving certificate signed by the caBundle CA with fingerprint `signer`. */
  | { readonly kind: 'issue-cert'; readonly signer: string; readonly hosts: readonly string[]; readonly notAfter: number; readonly reason: string }
  | { readonly kind: 'drop-cas'; readonly keep: readonly string[]; readonly reason: string }
  | { readonly kind: 'heartbeat'; readonly cert: string; readonly forget: readonly string[]; readonly reason: string }
  | { readonly kind: 'wait'; readonly until: number; readonly reason: string };

export type StepKind = Step['kind'];

/** A step to take now, or the time from which one is due. */
type Rule = Exclude<Step, { kind: 'wait' }> | { readonly kind: 'wait'; readonly until: number; readonly reason: string } | undefined;

/** Contradictions between the timings, each a sentence; empty when they fit together. */
export function timingProblems(timing: Timing): string[] {
  const problems: string[] = [];
  const { caValidityMs, caRenewBeforeMs, certValidityMs, certRenewBeforeMs, propagationMs, replicaTimeoutMs } = timing;
  if (caRenewBeforeMs >= caValidityMs) problems.push('the CA renewal threshold must be shorter than the CA validity');
  if (certRenewBeforeMs >= certValidityMs) problems.push('the certificate renewal threshold must be shorter than the certificate validity');
  // A serving certificate is renewed without waiting only while its CA has been trusted for propagationMs.
  if (certRenewBeforeMs <= 2 * propagationMs) problems.push('the certificate renewal threshold must exceed twice the propagation delay');
  // The old CA must outlive the whole rotation: a new CA, its propagation, the switch, and dead replicas timing out.
  if (caRenewBeforeMs < certRenewBeforeMs + propagationMs + replicaTimeoutMs) {
    problems.push('the CA renewal threshold must be at least the certificate renewal threshold plus the propagation delay plus the replica timeout');
  }
  return problems;
}

/** The next step for this replica. */
export function planStep(input: PlanInput, timing: Timing): Step {
  const waits: { until: number; reason: string }[] = [];
  const rules = [createCa, urgentCert, publishBundle, markPublished, renewCert, dropCas, heartbeat];
  for (const rule of rules) {
    const step = rule(input, timing);
    if (step === undefined) continue;
    if (step.kind !== 'wait') return step;
    waits.push(step);
  }
  const next = waits.reduce((soonest, wait) => (wait.until < soonest.until ? wait : soonest), { until: Number.POSITIVE_INFINITY, reason: 'nothing to do' });
  return { kind: 'wait', ...next };
}

/** The signing CA expires within caRenewBeforeMs, or there is none: a new one joins the caBundle (expired CAs leave it). */
function createCa({ now, view }: PlanInput, timing: Timing): Rule {
  const signer = signerOf(view);
  const reason = signer === undefined ? 'no CA to sign with' : `the CA expires at ${iso(signer.notAfter)}`;
  const due = signer === undefined ? now : signer.notAfter - timing.caRenewBeforeMs;
  if (now < due) return { kind: 'wait', until: due, reason: 'CA renewal' };
  const keep = view.bundle.filter((ca) => ca.notAfter > now).map((ca) => ca.fingerprint);
  return { kind: 'create-ca', keep, notAfter: now + timing.caValidityMs, reason };
}

/** Nothing valid is served: a certificate at once, as there is no trust to break. */
function urgentCert({ now, view, hosts }: PlanInput, timing: Timing): Rule {
  const signer = signerOf(view);
  if (signer === undefined) return undefined;
  const leaf = view.leaf;
  if (leaf !== undefined && leaf.notAfter > now) return undefined;
  return issue(signer, hosts, leaf === undefined ? 'no serving certificate' : `the serving certificate expired at ${iso(leaf.notAfter)}`, { now, timing });
}

/**
 * The webhook configuration does not hold the Secret's caBundle: it gets it, after the
 * Secret stops saying it has it (someone replaced it), so that the wait for kube-apiserver starts over.
 */
function publishBundle({ view, webhook }: PlanInput): Rule {
  if (webhook === undefined || webhook.bundle === view.bundleFingerprint) return undefined;
  if (view.published?.bundle === view.bundleFingerprint) return { kind: 'mark-published', bundle: undefined, reason: 'the webhooks no longer hold the caBundle' };
  return { kind: 'publish-bundle', reason: webhook.bundle === undefined ? 'the webhooks hold no common caBundle' : 'the webhooks hold another caBundle' };
}

/** The webhook configuration holds the caBundle, and the Secret does not say since when. */
function markPublished({ view, webhook }: PlanInput): Rule {
  if (webhook?.bundle !== view.bundleFingerprint || view.published?.bundle === view.bundleFingerprint) return undefined;
  return { kind: 'mark-published', bundle: view.bundleFingerprint, reason: 'the webhooks hold the caBundle' };
}

/**
 * The serving certificate is due (near expiry, not from the signing CA, or missing a host).
 * From the CA that signed the one served, trust does not change: a new one at once. From a
 * new CA: once kube-apiserver has had propagationMs to use the caBundle holding it.
 */
function renewCert({ now, view, webhook, hosts }: PlanInput, timing: Timing): Rule {
  const signer = signerOf(view);
  const leaf = view.leaf;
  if (signer === undefined || leaf === undefined || leaf.notAfter <= now) return undefined;
  const renewAt = leaf.notAfter - timing.certRenewBeforeMs;
  const reason = dueReason(now, leaf, signer.fingerprint, renewAt);
  if (reason === undefined) return { kind: 'wait', until: renewAt, reason: 'certificate renewal' };
  if (leaf.issuer === signer.fingerprint) {
    // Only hosts missing: keep the names it has, so replicas configured apart during a rollout do not take turns.
    return issue(signer, now < renewAt ? union(hosts, leaf.hosts) : hosts, reason, { now, timing });
  }
  if (webhook?.bundle !== view.bundleFingerprint || view.published?.bundle !== view.bundleFingerprint) return undefined;
  const trustedAt = view.published.at + timing.propagationMs;
  if (now < trustedAt) return { kind: 'wait', until: trustedAt, reason: `${reason}; waiting for kube-apiserver to use the caBundle` };
  return issue(signer, hosts, reason, { now, timing });
}

/** Why the serving certificate is due, or undefined when it is not. */
function dueReason(now: number, leaf: LeafInfo, signer: string, renewAt: number): string | undefined {
  if (leaf.issuer !== signer) return 'the serving certificate is not from the signing CA';
  if (now >= renewAt) return `the serving certificate expires at ${iso(leaf.notAfter)}`;
  if (leaf.missingHosts.length > 0) return `the serving certificate is not valid for ${leaf.missingHosts.join(', ')}`;
  return undefined;
}

/**
 * CAs other than the signing one are in the caBundle and the Secret's certificate is from
 * the signing CA: they leave once every live replica serves that certificate.
 */
function dropCas({ now, view, self }: PlanInput, timing: Timing): Rule {
  const signer = signerOf(view);
  const leaf = view.leaf;
  if (signer === undefined || leaf?.issuer !== signer.fingerprint || view.bundle.length === 1) return undefined;
  if (self.serving !== leaf.fingerprint) return undefined;
  const lagging = Object.entries(view.replicas).filter(([id, record]) => id !== self.identity && now - record.seen < timing.replicaTimeoutMs && record.cert !== leaf.fingerprint);
  if (lagging.length > 0) {
    const until = Math.min(...lagging.map(([, record]) => record.seen + timing.replicaTimeoutMs));
    return { kind: 'wait', until, reason: `replicas ${lagging.map(([id]) => id).join(', ')} still serve an older certificate` };
  }
  return { kind: 'drop-cas', keep: [signer.fingerprint], reason: 'every live replica serves a certificate from the signing CA' };
}

/** This replica records what it serves when that changed, or every third of replicaTimeoutMs; dead replicas are forgotten then. */
function heartbeat({ now, view, self }: PlanInput, timing: Timing): Rule {
  if (self.serving === undefined) return undefined;
  const own = view.replicas[self.identity];
  const dueAt = own === undefined || own.cert !== self.serving ? now : own.seen + timing.replicaTimeoutMs / 3;
  if (now < dueAt) return { kind: 'wait', until: dueAt, reason: 'heartbeat' };
  const forget = Object.entries(view.replicas).filter(([id, record]) => id !== self.identity && now - record.seen >= timing.replicaTimeoutMs).map(([id]) => id);
  return { kind: 'heartbeat', cert: self.serving, forget, reason: own?.cert === self.serving ? 'still serving the same certificate' : 'serving another certificate' };
}

function issue(signer: CaInfo, hosts: readonly string[], reason: string, at: { readonly now: number; readonly timing: Timing }): Rule {
  // Never valid past its CA, whose rotation starts caRenewBeforeMs before then.
  return { kind: 'issue-cert', signer: signer.fingerprint, hosts, notAfter: Math.min(at.now + at.timing.certValidityMs, signer.notAfter), reason };
}

function signerOf(view: CertificateView): CaInfo | undefined {
  return view.bundle.find((ca) => ca.fingerprint === view.signer);
}

function union(first: readonly string[], second: readonly string[]): string[] {
  return [...new Set([...first, ...second])];
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** New key material a step needs: a CA for create-ca, a serving pair for issue-cert. */
export interface StepMaterial {
  readonly ca?: KeyPair;
  readonly serving?: KeyPair;
}

/** The Secret's content after `step`, taken by replica `identity` at `now`. */
export function applyStep(stored: StoredCertificates, step: Step, material: StepMaterial, context: { readonly now: number; readonly identity: string }): StoredCertificates {
  switch (step.kind) {
    case 'create-ca': {
      if (material.ca === undefined) throw new Error('create-ca needs a CA');
      return { ...stored, bundle: [...bundleWith(stored.bundle, step.keep), material.ca.cert], caKey: material.ca.key };
    }
    case 'issue-cert': {
      if (material.serving === undefined) throw new Error('issue-cert needs a serving certificate');
      return { ...stored, cert: material.serving.cert, key: material.serving.key };
    }
    case 'drop-cas':
      return { ...stored, bundle: bundleWith(stored.bundle, step.keep) };
    case 'mark-published':
      return { ...stored, published: step.bundle === undefined ? undefined : { bundle: step.bundle, at: context.now } };
    case 'heartbeat': {
      const replicas = Object.fromEntries(Object.entries(stored.replicas).filter(([id]) => !step.forget.includes(id)));
      return { ...stored, replicas: { ...replicas, [context.identity]: { cert: step.cert, seen: context.now } } };
    }
    case 'publish-bundle':
    case 'wait':
      return stored;
  }
}
