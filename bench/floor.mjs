/**
 * The floor under the webhook: the framework and server options of src/server/app.ts
 * (fastify, the JSON body, one pino line per review through the same batched sink),
 * answering every review with the webhook's patch and doing no admission work at all.
 * run.mjs runs it bundled (dist/bench/floor.js) with the container image's flags, like
 * the webhook: floor / baseline is what fastify and the log line cost, webhook / floor
 * what the admission itself costs. Started with BENCH_CERT, BENCH_KEY and BENCH_PATCH;
 * reports its port over IPC. Keep its options in step with buildApp's.
 */
import { readFileSync } from 'node:fs';
import process from 'node:process';
import Fastify, { LogController } from 'fastify';
import { BatchedLines } from '../src/server/log-lines.js';

const patch = process.env.BENCH_PATCH ?? '';
const logLines = new BatchedLines(process.stdout);
const app = Fastify({
  https: { cert: readFileSync(process.env.BENCH_CERT ?? ''), key: readFileSync(process.env.BENCH_KEY ?? '') },
  logger: { level: 'info', base: { service: 'digest-pinner' }, stream: logLines },
  bodyLimit: 6 * 1024 * 1024,
  onProtoPoisoning: 'ignore',
  onConstructorPoisoning: 'ignore',
  logController: new LogController({ disableRequestLogging: true }),
  childLoggerFactory: (logger) => logger,
  keepAliveTimeout: 120_000,
  return503OnClosing: true,
  forceCloseConnections: 'idle',
});
let closing = false;
app.addHook('preClose', (done) => {
  closing = true;
  done();
});
app.addHook('onSend', (_request, reply, payload, done) => {
  if (closing) void reply.header('connection', 'close');
  done(null, payload);
});
app.removeContentTypeParser('text/plain');
app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => {
  try {
    done(null, JSON.parse(String(body)));
  } catch {
    done(new Error('body is not valid JSON'), undefined);
  }
});
app.post('/mutate', async (request, reply) => {
  const started = process.hrtime.bigint();
  const review = request.body.request;
  request.log.info(
    {
      uid: review.uid,
      kind: review.kind.kind,
      operation: review.operation,
      subResource: review.subResource,
      namespace: review.namespace,
      name: review.name,
      dryRun: review.dryRun,
      mode: 'warn',
      outcome: 'pinned',
      pinned: 0,
      failures: [],
      ms: Math.round(Number(process.hrtime.bigint() - started) / 1e6),
    },
    'admission',
  );
  return reply
    .type('application/json; charset=utf-8')
    .send(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":${JSON.stringify(review.uid)},"allowed":true,"patchType":"JSONPatch","patch":"${patch}"}}`);
});
await app.listen({ port: 0, host: '127.0.0.1' });
process.send?.({ port: app.server.address().port });
process.on('SIGTERM', () => void app.close().then(() => { logLines.flush(); process.exit(0); }));
