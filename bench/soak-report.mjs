/**
 * The soak's criteria and its report (bench/soak-results.md): what every answer was, the
 * latency of ordinary reviews, what the slow clients and the flapping registry saw, memory
 * every second, and how the process ended.
 */
import { quantile } from './load.mjs';

/** Memory in the soak's last RSS_WINDOW_S seconds must stay within RSS_TOLERANCE of its value RSS_WINDOW_S seconds in. */
const RSS_WINDOW_S = 30;
const RSS_TOLERANCE = 0.1;
/**
 * The longest the server may hold a slow client: kube-apiserver's longest webhook timeout
 * (timeoutSeconds at most 30), and it sends a whole review at once.
 */
const SLOW_CLIENT_LIMIT_S = 30;
const ORDINARY_KINDS = ['warm', 'cold', 'flapping-warm', 'flapping-cold', 'absent', 'unreachable'];
const OUTCOMES = ['pinned', 'warned', 'denied', 'silent', 'wrong pin', '4xx', '5xx', 'no answer'];
const MiB = 1024 * 1024;
/** pino's numeric levels: error and fatal. */
const ERROR_LEVEL = 50;

const fmt = (value, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : '–');
const sorted = (values) => [...values].sort((a, b) => a - b);
const count = (records, predicate) => records.filter(predicate).length;
const verdict = (ok) => (ok ? 'met' : '**NOT MET**');

/** `records` by `key(record)`, in first-seen order (Object.groupBy is not in Node 20). */
function groupBy(records, key) {
  const groups = new Map();
  for (const record of records) groups.set(key(record), [...(groups.get(key(record)) ?? []), record]);
  return [...groups];
}

function latencies(records) {
  const ms = sorted(records.map((r) => r.ms));
  return { p50: quantile(ms, 0.5), p99: quantile(ms, 0.99), max: ms[ms.length - 1] };
}

/** `{ value: n, … }` as "value ×n, …". */
function tally(values) {
  const counts = new Map();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  return [...counts].map(([value, n]) => `${value} ×${n}`).join(', ') || '–';
}

function memory(samples, soakSeconds) {
  const at = samples.reduce((best, s) => (best === undefined || Math.abs(s.t - RSS_WINDOW_S) < Math.abs(best.t - RSS_WINDOW_S) ? s : best), undefined);
  const last = samples.filter((s) => s.t >= soakSeconds - RSS_WINDOW_S);
  const lastRss = last.map((s) => s.rssMiB);
  const judged = soakSeconds >= 2 * RSS_WINDOW_S && at !== undefined && last.length > 0;
  const low = Math.min(...lastRss);
  const high = Math.max(...lastRss);
  const within = judged && low >= at.rssMiB * (1 - RSS_TOLERANCE) && high <= at.rssMiB * (1 + RSS_TOLERANCE);
  const cpu = samples.length > 1 ? (samples[samples.length - 1].cpuSeconds - samples[0].cpuSeconds) / (samples[samples.length - 1].t - samples[0].t) : Number.NaN;
  return {
    atWindow: at?.rssMiB,
    low,
    high,
    judged,
    within,
    peakMiB: Math.max(...samples.map((s) => s.peakMiB)),
    cpuCores: cpu,
    maxFds: Math.max(...samples.map((s) => s.fds)),
    load: samples.map((s) => s.load),
  };
}

function slowSummary(slow) {
  const during = slow.closed.filter((c) => c.duringSoak);
  const longestHeld = Math.max(0, ...during.map((c) => c.heldSeconds));
  const oldestOpen = Math.max(0, ...slow.openAtStop.map((c) => c.ageSeconds));
  return { during, longestHeld, oldestOpen, ok: longestHeld <= SLOW_CLIENT_LIMIT_S && oldestOpen <= SLOW_CLIENT_LIMIT_S };
}

function logSummary(log) {
  const errors = [];
  for (const line of (log ?? '').split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const entry = JSON.parse(line);
      if (entry.level >= ERROR_LEVEL) errors.push(entry.msg);
    } catch {
      // a line cut short by a crash
    }
  }
  return errors;
}

/** The criteria: `[what, result, met]`. */
function criteria(r, mem, slow) {
  const { ordinary, fanOut, bodies, shutdown, settings } = r;
  const all = [...ordinary.records, ...fanOut];
  const fiveHundreds = count(all, (x) => x.outcome === '5xx') + count(bodies, (b) => typeof b.status === 'number' && b.status >= 500);
  const unanswered = count(ordinary.records, (x) => x.outcome === 'no answer');
  const silent = count(all, (x) => x.outcome === 'silent' || x.outcome === 'wrong pin');
  const steady = ordinary.records.filter((x) => x.steady);
  const steadyPinned = count(steady, (x) => x.outcome === 'pinned');
  const fanOutOk = count(fanOut, (x) => x.outcome === (x.strict ? 'denied' : 'warned'));
  const limitMiB = settings.memoryLimitBytes / MiB;
  const exit = shutdown.crashed ? `crashed (${shutdown.exit})` : `exit ${shutdown.exit} after ${fmt(shutdown.ms / 1000)} s (grace ${shutdown.graceMs / 1000} s)`;
  return [
    ['the webhook process stays up', r.crashedAt === undefined ? 'up throughout' : `exited at ${fmt(r.crashedAt)} s`, r.crashedAt === undefined],
    [`peak RSS (VmHWM) under limits.memory (${limitMiB} MiB)`, `${fmt(mem.peakMiB)} MiB`, mem.peakMiB < limitMiB],
    [
      `RSS in the last ${RSS_WINDOW_S} s within ${RSS_TOLERANCE * 100}% of RSS at ${RSS_WINDOW_S} s`,
      mem.judged ? `${fmt(mem.low)}–${fmt(mem.high)} MiB against ${fmt(mem.atWindow)} MiB` : `not judged: a run of ${fmt(r.soakSeconds)} s (at least ${2 * RSS_WINDOW_S} s needed)`,
      mem.within,
    ],
    ['0 answers 5xx', String(fiveHundreds), fiveHundreds === 0],
    ['every ordinary review answered within its deadline', `${unanswered} of ${ordinary.records.length} unanswered`, unanswered === 0 && ordinary.records.length > 0],
    ['0 admissions allowed with an image neither pinned (to its digest) nor warned about', String(silent), silent === 0],
    ['images on registries that stay up pinned', `${steadyPinned} of ${steady.length}`, steadyPinned === steady.length && steady.length > 0],
    ['fan-out reviews warned (warn) or denied (strict), at once', `${fanOutOk} of ${fanOut.length}`, fanOutOk === fanOut.length && fanOut.length > 0],
    ['hostile bodies refused with a 4xx (one declared past the size limit: or its connection closed)', `${count(bodies, (b) => b.refused)} of ${bodies.length}`, bodies.length > 0 && bodies.every((b) => b.refused)],
    [
      `slow clients closed by the server within ${SLOW_CLIENT_LIMIT_S} s`,
      `longest held ${fmt(slow.longestHeld)} s; oldest still open at the end ${fmt(slow.oldestOpen)} s`,
      slow.ok,
    ],
    ['SIGTERM with slow clients open: exit 0 within the manifests\' grace', exit, !shutdown.crashed && shutdown.exitedWithinGrace && shutdown.exit === 0],
  ];
}

function ordinaryTable(records) {
  const row = (name, rs) => {
    const l = latencies(rs);
    return `| ${name} | ${rs.length} | ${OUTCOMES.map((o) => count(rs, (x) => x.outcome === o)).join(' | ')} | ${fmt(l.p50)} | ${fmt(l.p99)} | ${fmt(l.max)} |`;
  };
  return [
    `| kind | sent | ${OUTCOMES.join(' | ')} | p50 ms | p99 ms | max ms |`,
    `| --- | ---: | ${OUTCOMES.map(() => '---:').join(' | ')} | ---: | ---: | ---: |`,
    ...ORDINARY_KINDS.map((kind) => row(kind, records.filter((x) => x.kind === kind))),
    row('strict (all kinds)', records.filter((x) => x.strict)),
    row('**all**', records),
  ];
}

function rssRows(samples) {
  const rows = [];
  for (let first = 0; first < samples.length; first += 10) {
    const chunk = samples.slice(first, first + 10);
    const scraped = chunk.filter((s) => s.metrics !== undefined).at(-1)?.metrics;
    rows.push(
      `| ${fmt(chunk[0].t, 0)}–${fmt(chunk[chunk.length - 1].t, 0)} | ${chunk.map((s) => fmt(s.rssMiB)).join(' ')} | ${fmt(Math.max(...chunk.map((s) => s.peakMiB)))} | ${fmt(scraped?.heapUsedMiB)} | ${fmt(scraped?.cacheEntries, 0)} | ${fmt(chunk[0].load)} |`,
    );
  }
  return rows;
}

/** The report as Markdown, and whether every criterion was met. */
export function report(r) {
  const mem = memory(r.samples, r.soakSeconds);
  const slow = slowSummary(r.slow);
  const table = criteria(r, mem, slow);
  const met = table.every(([, , ok]) => ok);
  const { machine: m, settings: s, ordinary, fanOut, bodies, flapping, shutdown } = r;
  const o = latencies(ordinary.records);
  const violations = ordinary.records.filter((x) => ['silent', 'wrong pin', '4xx', '5xx', 'no answer'].includes(x.outcome) || (x.steady && x.outcome !== 'pinned'));
  const downs = flapping.events.filter((e) => e.state === 'down').length;
  const flappingCold = ordinary.records.filter((x) => x.kind === 'flapping-cold');
  const fanWarned = fanOut.filter((x) => !x.strict && x.outcome === 'warned');
  const errors = logSummary(shutdown.log);
  const lines = [
    '# Soak results',
    '',
    `Machine: ${m.cpus} CPUs (${m.model}), ${m.memoryGiB} GiB, ${m.kernel}, the soak on Node.js ${m.node}; load average (1 min) ${fmt(m.loadBefore)} at the start, ${fmt(m.loadAfter)} at the end, ${fmt(Math.min(...mem.load))}–${fmt(Math.max(...mem.load))} during the soak. ${new Date().toISOString().slice(0, 10)}.`,
    '',
    `\`npm run soak\` (bench/soak.mjs): ${fmt(r.soakSeconds, 0)} s of ${s.rate} ordinary reviews/s. The webhook is \`${s.dist}/main.js serve\` on Node.js ${s.node}, as the image and manifests/ run it with \`--cache-ttl ${s.cacheTtl}\` (node flags ${s.runtime.nodeFlags.join(' ')}, ${Object.entries(s.runtime.env).map(([k, v]) => `${k}=${v}`).join(' ')}; limits.memory ${s.memoryLimitBytes / MiB} MiB). At the same time: a registry stopped and started again (its process ended, ${s.downMs / 1000} s down, ${s.upMs / 1000} s up), a client sending reviews that name 9,000 distinct tags back to back, one sending hostile bodies, and slow clients kept open. Process: ${fmt(mem.cpuCores, 2)} cores on average, at most ${mem.maxFds} open files.`,
    '',
    '## Criteria',
    '',
    '| criterion | result | |',
    '| --- | --- | --- |',
    ...table.map(([what, result, ok]) => `| ${what} | ${result} | ${verdict(ok)} |`),
    '',
    `## Ordinary reviews: p50 ${fmt(o.p50)} ms, p99 ${fmt(o.p99)} ms, max ${fmt(o.max)} ms`,
    '',
    `A Pod of the two cached images (warm), of a tag on a registry that stays up and past the cache TTL (cold), of an image on the flapping registry (cached, or a tag past the TTL), of a tag the registry does not have (absent), of a registry nothing listens for (unreachable); every seventh in strict mode. The cold, absent and unreachable tags come from pools cycled through every ${s.cycleSeconds} s, as a cluster has a bounded set of images. Latency from sending to the end of the answer, over keep-alive HTTPS with a 10 s deadline; the open-loop sender fell behind its schedule by at most ` +
      `${fmt(ordinary.maxLagMs)} ms, and the soak's own event loop was delayed by up to ${fmt(r.clientLoop.maxMs)} ms (p99 ${fmt(r.clientLoop.p99Ms)} ms): that much of the tail is the client's.`,
    '',
    ...ordinaryTable(ordinary.records),
    '',
    `Cold tags on the flapping registry, by its state when sent: ${['up', 'down', 'starting'].map((state) => `${state}: ${tally(flappingCold.filter((x) => x.state === state).map((x) => x.outcome))}`).join('; ')}.`,
    '',
    ...(violations.length === 0 ? [] : ['Ordinary reviews that broke a criterion (the first ten):', '', ...violations.slice(0, 10).map((x) => `- ${fmt(x.t)} s, ${x.kind}${x.strict ? ' (strict)' : ''}: ${x.outcome}${x.detail === undefined ? '' : ` — ${String(x.detail).slice(0, 300)}`}`), '']),
    '## Hostile traffic',
    '',
    `- **Fan-out**: ${fanOut.length} reviews of 9,000 distinct images (128 existing tags from a pool of 1,024 and 128 absent ones from a pool of 3,072, all looked up; the rest absent, the same each round, not looked up): ${tally(fanOut.map((x) => `${x.strict ? 'strict ' : ''}${x.outcome}`))}; latency p50 ${fmt(latencies(fanOut).p50)} ms, max ${fmt(latencies(fanOut).max)} ms; images pinned per warned review ${fmt(Math.min(...fanWarned.map((x) => x.pinned)), 0)}–${fmt(Math.max(...fanWarned.map((x) => x.pinned)), 0)}.`,
    ...groupBy(bodies, (b) => b.shape).map(
      ([shape, rs]) => `- **Body ${shape}** (${fmt(rs[0].bytes / MiB, 2)} MiB): ${tally(rs.map((b) => b.status))}; answered within ${fmt(latencies(rs).max, 0)} ms${rs.some((b) => !b.refused) ? `; not refused: ${rs.find((b) => !b.refused).detail}` : ''}.`,
    ),
    `- **Slow clients** (test/hostile/raw-clients.ts; a replacement opened when one is closed): ${slow.during.length} closed by the server during the soak (${groupBy(slow.during, (c) => c.kind).map(([kind, cs]) => `${kind} ×${cs.length}, held up to ${fmt(Math.max(...cs.map((c) => c.heldSeconds)))} s, answered ${tally(cs.map((c) => c.answer))}`).join('; ') || 'none'}); ${r.slow.openAtStop.length} open at the end (${tally(r.slow.openAtStop.map((c) => c.kind))}), the oldest ${fmt(slow.oldestOpen)} s; ${r.slow.failedToOpen} could not connect.`,
    `- **Flapping registry**: stopped ${downs} times${flapping.restartFailures > 0 ? `, ${flapping.restartFailures} restarts failed and were tried again` : ''}.`,
    '',
    '## Shutdown',
    '',
    shutdown.crashed
      ? `The process had exited during the soak (${shutdown.exit}). The end of its log:\n\n\`\`\`\n${(shutdown.log ?? '').trimEnd().split('\n').slice(-20).join('\n')}\n\`\`\``
      : `SIGTERM with ${shutdown.openSlow.length} slow clients and the review clients' idle keep-alive connections open: ${shutdown.exitedWithinGrace ? `exited (${shutdown.exit}) after ${fmt(shutdown.ms / 1000, 2)} s` : `still running after the manifests' ${shutdown.graceMs / 1000} s (terminationGracePeriodSeconds less the preStop sleep), where the kubelet would kill it; here SIGTERM again, then SIGKILL after 10 s: ended by ${shutdown.exit}`}.`,
    '',
    `Log lines at error level or above: ${errors.length}${errors.length === 0 ? '' : ` (${tally(errors.map((e) => String(e).slice(0, 120)))})`}.`,
    '',
    `## Memory every second (VmRSS, MiB)`,
    '',
    `RSS at ${RSS_WINDOW_S} s: ${fmt(mem.atWindow)} MiB; in the last ${RSS_WINDOW_S} s: ${fmt(mem.low)}–${fmt(mem.high)} MiB; peak (VmHWM): ${fmt(mem.peakMiB)} MiB.`,
    '',
    'VmHWM is the peak so far; heap used (V8) and cache entries (the resolver\'s) as the webhook\'s /metrics said at the last scrape of the row (every 5 s); load is the machine\'s, at the start of the row.',
    '',
    '| seconds | RSS each second | VmHWM | heap used | cache entries | load |',
    '| --- | --- | ---: | ---: | ---: | ---: |',
    ...rssRows(r.samples),
    '',
  ];
  return { text: lines.join('\n'), met };
}
