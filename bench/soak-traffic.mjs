/**
 * The soak's traffic: ordinary reviews at a steady rate (open loop), a client sending reviews
 * that name thousands of distinct tags, one sending hostile bodies, and a population of slow
 * clients kept open. Every answer is classified; what each image in it became is checked
 * against what it should have become.
 */
import { Buffer } from 'node:buffer';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * The ordinary reviews' kinds, in a repeating pattern so that every run sends the same mix:
 * 7 warm, 4 cold, 3 cold on the flapping registry, 2 cached from it, 2 absent tags and 2
 * unreachable registries in 20.
 */
const PATTERN = [
  'warm', 'cold', 'warm', 'flapping-cold', 'absent', 'warm', 'cold', 'flapping-warm', 'warm', 'unreachable',
  'warm', 'cold', 'flapping-cold', 'warm', 'absent', 'cold', 'warm', 'flapping-warm', 'flapping-cold', 'unreachable',
];
/** Every STRICT_EVERY-th ordinary review goes to /mutate/strict (coprime with the pattern's length, so every kind gets its share). */
const STRICT_EVERY = 7;
/** Warnings that count image fields instead of naming them: not looked up, or past kube-apiserver's warning budget. */
const COUNTED_WARNING = /^digest-pinner: (\d+) (?:image fields? not pinned|more warnings? about images omitted)/;

/**
 * What an answer did with each image the review named: `images` are `{ ref, digest }`, with
 * `digest` undefined for an image that cannot be pinned. Outcomes: `pinned` (every image, to
 * its digest), `warned` (allowed; each image not pinned is named in a warning or counted in
 * one), `denied`, and what must never happen: `silent` (allowed with an image neither pinned
 * nor warned about), `wrong pin` (pinned to another digest, or pinned when it cannot be),
 * `4xx`, `5xx`, `no answer`.
 */
export function classify(review, images, pinnedImages) {
  if (review.status === 'error') return { outcome: 'no answer', detail: review.error };
  if (review.status >= 500) return { outcome: '5xx', detail: `${review.status} ${review.body.slice(0, 200)}` };
  if (review.status !== 200) return { outcome: '4xx', detail: `${review.status} ${review.body.slice(0, 200)}` };
  const { response } = review.answer;
  if (response.allowed === false) return { outcome: 'denied', detail: response.status?.message };
  const pinned = new Set(pinnedImages(review.answer));
  const pinnedRefs = new Set([...pinned].map((value) => value.slice(0, value.lastIndexOf('@'))));
  const warnings = response.warnings ?? [];
  let counted = warnings.reduce((sum, warning) => sum + Number(COUNTED_WARNING.exec(warning)?.[1] ?? 0), 0);
  let notPinned = 0;
  for (const { ref, digest } of images) {
    if (digest !== undefined && pinned.has(`${ref}@${digest}`)) continue;
    if (pinnedRefs.has(ref)) return { outcome: 'wrong pin', detail: [...pinned].find((value) => value.startsWith(`${ref}@`)) };
    notPinned += 1;
    if (warnings.some((warning) => warning.includes(`"${ref}" not pinned`))) continue;
    if (counted > 0) {
      counted -= 1;
      continue;
    }
    return { outcome: 'silent', detail: `${ref}: allowed, neither pinned nor named or counted in a warning (${JSON.stringify(warnings).slice(0, 300)})` };
  }
  return { outcome: notPinned === 0 ? 'pinned' : 'warned' };
}

/**
 * The ordinary review of kind `kind`: its images (`{ ref, digest }`) and whether each is on a
 * registry that stays up (then it must be pinned). `images` holds the soak's images:
 * `warm` (cached), `flappingWarm` (cached, on the flapping registry), and `cold()`,
 * `flappingCold()`, `absent()`, `unreachable()`, each the next reference of a pool cycled
 * through (bench/soak.mjs).
 */
function ordinaryImages(kind, images) {
  switch (kind) {
    case 'warm':
      return { steady: true, images: images.warm };
    case 'cold':
      return { steady: true, images: [images.cold()] };
    case 'flapping-warm':
      return { steady: false, images: [images.flappingWarm] };
    case 'flapping-cold':
      return { steady: false, images: [images.flappingCold()] };
    case 'absent':
      return { steady: false, images: [images.absent()] };
    case 'unreachable':
      return { steady: false, images: [images.unreachable()] };
    default:
      throw new Error(`unknown kind ${kind}`);
  }
}

/** The outcomes an ordinary review must never have; a review on a registry that stays up must also be pinned. */
export function ordinaryViolation(record) {
  if (['silent', 'wrong pin', '4xx', '5xx', 'no answer'].includes(record.outcome)) return true;
  return record.steady && record.outcome !== 'pinned';
}

/**
 * Sends ordinary reviews at `rate` per second, each on schedule whatever the earlier ones are
 * doing, until `stop` is aborted; resolves with a record per review once all are answered.
 * `clock()` is seconds since the soak began; `flapping()` the flapping registry's state now.
 */
export async function ordinaryLoad({ client, rate, stop, images, clock, flapping, podReview, pinnedImages }) {
  const records = [];
  const inFlight = new Set();
  const started = performance.now();
  let maxLagMs = 0;
  for (let i = 0; !stop.aborted; i += 1) {
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    else maxLagMs = Math.max(maxLagMs, -wait);
    if (stop.aborted) break;
    const kind = PATTERN[i % PATTERN.length];
    const strict = i % STRICT_EVERY === 0;
    const { steady, images: named } = ordinaryImages(kind, images);
    const uid = `soak-${i}`;
    const record = { kind, strict, steady, t: clock(), state: kind.startsWith('flapping') ? flapping() : undefined };
    const sent = client
      .review(podReview(named.map((image) => image.ref), { uid, namespace: 'tenant', name: uid }), { path: strict ? '/mutate/strict' : '/mutate' })
      .then((review) => {
        records.push({ ...record, ms: review.ms, ...classify(review, named, pinnedImages) });
      });
    inFlight.add(sent);
    void sent.finally(() => inFlight.delete(sent));
  }
  await Promise.all(inFlight);
  return { records, maxLagMs };
}

/** Distinct images one fan-out review names (about half a MiB of Pod, as the issue's). */
export const FAN_OUT_IMAGES = 9_000;
/** Of them, this many are existing tags (from the pool, rotating), the rest tags no registry has. */
const FAN_OUT_EXISTING = 128;
/**
 * Absent tags right after the existing ones, which the webhook looks up too (it looks up the
 * first 256 distinct images of a review): drawn in turn from FAN_OUT_ABSENT_POOL names, so
 * the cache holds a bounded set of them, each usually past its negative TTL by the time it
 * comes round again. The absent tags after them, never looked up, are the same every round.
 */
const FAN_OUT_LOOKED_UP_ABSENT = 128;
const FAN_OUT_ABSENT_POOL = 3_072;
/** Every FAN_OUT_STRICT_EVERY-th fan-out review goes to /mutate/strict. */
const FAN_OUT_STRICT_EVERY = 5;

/**
 * Sends reviews naming FAN_OUT_IMAGES distinct tags back to back on one connection until
 * `stop` is aborted: `pool` existing tags (`{ ref, digest }`) in turn, then absent ones (bounded sets too).
 * Records each answer: warned (allowed, what was looked up pinned, the rest counted) or
 * denied (strict), and never anything else.
 */
export async function fanOut({ client, stop, pool, absentRef, clock, podReview, pinnedImages }) {
  const records = [];
  for (let round = 0; !stop.aborted; round += 1) {
    const existing = Array.from({ length: FAN_OUT_EXISTING }, (_, i) => pool[(round * FAN_OUT_EXISTING + i) % pool.length]);
    const absent = Array.from({ length: FAN_OUT_IMAGES - FAN_OUT_EXISTING }, (_, i) => ({
      ref: absentRef(i < FAN_OUT_LOOKED_UP_ABSENT ? `fan-${(round * FAN_OUT_LOOKED_UP_ABSENT + i) % FAN_OUT_ABSENT_POOL}` : `fan-rest-${i}`),
      digest: undefined,
    }));
    const images = [...existing, ...absent];
    const strict = round % FAN_OUT_STRICT_EVERY === FAN_OUT_STRICT_EVERY - 1;
    const t = clock();
    const review = await client.review(podReview(images.map((image) => image.ref), { uid: `fan-out-${round}`, namespace: 'attacker', name: 'fan-out' }), {
      path: strict ? '/mutate/strict' : '/mutate',
    });
    const classified = classify(review, images, pinnedImages);
    records.push({ round, strict, t, ms: review.ms, pinned: review.answer === undefined ? 0 : pinnedImages(review.answer).length, ...classified });
  }
  return records;
}

const MiB = 1024 * 1024;
/** Past the webhook's body limit (6 MiB: an UPDATE review carries object and oldObject). */
const OVERSIZED_BYTES = 7 * MiB;
/** Nesting of the deep body (the stack overflow took about 5,000). */
const DEEP_NESTING = 10_000;
/** Empty arrays in the many-values body: about 5.5 MiB, within the body limit. */
const MANY_VALUES = 1_900_000;
/** Pause between hostile bodies. */
const BODY_PAUSE_MS = 1_000;
/** A hostile body's client gives up after this long (kube-apiserver's longest webhook timeout). */
const BODY_TIMEOUT_MS = 30_000;

/**
 * Hostile bodies, each an otherwise pinnable review of `image` (so an answer other than 4xx
 * means the body was taken in): past the size limit; `imagePullSecrets` nested
 * DEEP_NESTING deep; a field of MANY_VALUES empty arrays; and JSON cut in half.
 */
export function hostileBodies(image, podReview) {
  const review = podReview([image], { uid: 'hostile-body', namespace: 'attacker', name: 'body' });
  const withField = (field, placeholder) => {
    const text = JSON.stringify({ ...review, request: { ...review.request, object: { ...review.request.object, spec: { ...review.request.object.spec, [field]: '@' } } } });
    return text.replace('"@"', placeholder);
  };
  const oversized = JSON.stringify({
    ...review,
    request: { ...review.request, object: { ...review.request.object, metadata: { ...review.request.object.metadata, annotations: { filler: 'x'.repeat(OVERSIZED_BYTES) } } } },
  });
  const ordinary = JSON.stringify(review);
  return {
    oversized,
    deep: withField('imagePullSecrets', `${'['.repeat(DEEP_NESTING)}${']'.repeat(DEEP_NESTING)}`),
    'many values': withField('volumes', `[${Array.from({ length: MANY_VALUES }, () => '[]').join(',')}]`),
    'cut short': ordinary.slice(0, Math.floor(ordinary.length / 2)),
  };
}

/** The client's write failed because the server closed the connection (undici's error codes). */
const CLOSED_WHILE_SENDING = /^(?:EPIPE|ECONNRESET|UND_ERR_SOCKET)\b/;

/**
 * Sends `bodies` in turn on one connection until `stop` is aborted; each must be refused with
 * a 4xx. A body whose declared size is past the limit may instead have its connection closed
 * while it is still being sent: no server can be asked to read a body of any declared size
 * to the end in order to answer it.
 */
export async function bodySender({ client, stop, bodies, clock }) {
  const records = [];
  const shapes = Object.entries(bodies);
  for (let i = 0; !stop.aborted; i += 1) {
    const [shape, body] = shapes[i % shapes.length];
    const t = clock();
    const review = await client.review(body, { timeoutMs: BODY_TIMEOUT_MS });
    const closed = shape === 'oversized' && review.status === 'error' && CLOSED_WHILE_SENDING.test(review.error ?? '');
    const refused = closed || (typeof review.status === 'number' && review.status >= 400 && review.status < 500);
    const status = closed ? 'closed while sending' : review.status;
    records.push({ shape, t, ms: review.ms, bytes: Buffer.byteLength(body), status, refused, detail: review.error ?? review.body.slice(0, 120) });
    await sleep(BODY_PAUSE_MS, undefined, { signal: stop }).catch(() => undefined);
  }
  return records;
}

/** Slow clients kept open at once, by kind (test/hostile/raw-clients.ts). */
export const SLOW_POPULATION = { 'trickled-body': 6, 'silent-tls': 6, 'no-client-hello': 2, 'half-headers': 2, 'unended-chunked-body': 2 };
/** A slow client the server closed is replaced after this pause. */
const REOPEN_PAUSE_MS = 1_000;

/**
 * Keeps SLOW_POPULATION slow clients open against 127.0.0.1:`port` until `stop` is aborted:
 * each one the server closes is recorded (how long it was held, the first line of what the
 * server sent) and, during the soak, replaced. `open` holds those open now (`{ kind,
 * openedAt, client }`), and `done` resolves once all have closed.
 */
export function slowClients({ port, stop, clock, openSlowClient }) {
  const closed = [];
  const open = new Set();
  let failedToOpen = 0;
  const keep = async (kind) => {
    while (!stop.aborted) {
      const openedAt = clock();
      const client = await openSlowClient(port, kind).catch(() => undefined);
      if (client === undefined) {
        failedToOpen += 1;
        await sleep(REOPEN_PAUSE_MS);
        continue;
      }
      const entry = { kind, openedAt, client };
      open.add(entry);
      const received = await client.closed;
      open.delete(entry);
      closed.push({ kind, openedAt, heldSeconds: clock() - openedAt, answer: received.split('\r\n')[0] || '(nothing)', duringSoak: !stop.aborted });
      if (!stop.aborted) await sleep(REOPEN_PAUSE_MS);
    }
  };
  const keepers = Object.entries(SLOW_POPULATION).flatMap(([kind, count]) => Array.from({ length: count }, () => keep(kind)));
  return {
    closed,
    open,
    failedToOpen: () => failedToOpen,
    /** Resolves once every client has closed (the server's doing, or destroyed). */
    done: Promise.all(keepers),
  };
}
