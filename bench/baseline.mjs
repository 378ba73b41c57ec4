/**
 * The benchmark's yardstick: a bare node:https server that parses each
 * AdmissionReview and answers with a fixed patch. No routing, no resolution,
 * no logging. Started by run.mjs with BENCH_CERT, BENCH_KEY and BENCH_PATCH;
 * reports its port over IPC.
 */
import { Buffer } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import process from 'node:process';

const patch = process.env.BENCH_PATCH ?? '';

const server = createServer(
  { cert: readFileSync(process.env.BENCH_CERT ?? ''), key: readFileSync(process.env.BENCH_KEY ?? ''), keepAliveTimeout: 120_000 },
  (request, response) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      const review = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      const body = JSON.stringify({
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        response: { uid: review.request.uid, allowed: true, patchType: 'JSONPatch', patch },
      });
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      response.end(body);
    });
  },
);

server.listen(0, '127.0.0.1', () => {
  process.send?.({ port: server.address().port });
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
