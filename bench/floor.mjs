/**
 * The floor under the webhook: the server src/server/app.ts runs its routes in
 * (webhookServer: fastify with the webhook's options, hooks and JSON body parsing) with
 * one route that writes the same pino line per review through the same batched sink and
 * answers every review with the webhook's patch, doing no admission work at all.
 * run.mjs runs it bundled (dist/bench/floor.js) with the container image's flags, like
 * the webhook: floor / baseline is what fastify and the log line cost, webhook / floor
 * what the admission itself costs. Started with BENCH_CERT, BENCH_KEY and BENCH_PATCH;
 * reports its port over IPC.
 */
import { readFileSync } from 'node:fs';
import process from 'node:process';
import { reviewJson, webhookServer } from '../src/server/app.js';
import { BatchedLines } from '../src/server/log-lines.js';

const patch = process.env.BENCH_PATCH ?? '';
const logLines = new BatchedLines(process.stdout);
const { app } = webhookServer({
  https: { cert: readFileSync(process.env.BENCH_CERT ?? ''), key: readFileSync(process.env.BENCH_KEY ?? '') },
  logger: { level: 'info', base: { service: 'digest-pinner' }, stream: logLines },
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
  return reply.type('application/json; charset=utf-8').send(reviewJson({ uid: review.uid, allowed: true, patchType: 'JSONPatch', patch }));
});
await app.listen({ port: 0, host: '127.0.0.1' });
process.send?.({ port: app.server.address().port });
process.on('SIGTERM', () => void app.close().then(() => { logLines.flush(); process.exit(0); }));
