/**
 * Defect 6 of issue 13: SIGTERM waited for connections that never sent a request. At 3290712 a
 * connection that finished its TLS handshake and sent nothing, a TCP connection without a
 * ClientHello, or half-sent headers kept the process alive past the time the manifests give it
 * after SIGTERM, so such a pod always ended in SIGKILL. Here such connections are open, with one
 * review in flight, when SIGTERM comes.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import '../helpers/registry-types.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { podReview } from '../support/webhook.js';
import { openSlowClients, type SlowClient } from './raw-clients.js';
import { startWebhookProcess, type WebhookProcess } from './webhook-process.js';

const registries = inject('registries');

/** What the manifests give the process after SIGTERM: the grace period less the preStop sleep. */
function graceAfterSigtermMs(): number {
  const deployment = readFileSync(new URL('../../manifests/deployment.yaml', import.meta.url), 'utf8');
  const grace = Number(/terminationGracePeriodSeconds: (\d+)/.exec(deployment)?.[1]);
  const preStop = Number(/preStop:[\s\S]*?seconds: (\d+)/.exec(deployment)?.[1]);
  expect(grace).toBeGreaterThan(preStop);
  return (grace - preStop) * 1_000;
}

/** The in-flight review's deadline: its registry never answers, so it is answered when this passes. */
const DEADLINE = '3s';

let proxy: FaultProxy;
let webhook: WebhookProcess;
let clients: SlowClient[] = [];

beforeAll(async () => {
  proxy = await startFaultProxy({ upstream: registries.plain.host });
  await proxy.set({ kind: 'hang' });
  webhook = await startWebhookProcess(registries, { args: ['--deadline', DEADLINE, '--insecure-registry', proxy.host] });
}, 120_000);

afterAll(async () => {
  for (const client of clients) client.destroy();
  await webhook.stop();
  await proxy.close();
});

describe('SIGTERM', () => {
  it('closes at once the connections without a request in flight, answers the review in flight, and exits before the grace period ends', async () => {
    const graceMs = graceAfterSigtermMs();
    const port = Number(new URL(webhook.url).port);
    const opened = await openSlowClients(port, 40, 8, ['no-client-hello', 'silent-tls', 'half-headers', 'trickled-body']);
    clients = opened.clients;
    expect(opened.refused).toBe(0);
    const image = `${proxy.host}/hang/app:v1`;
    const inFlight = webhook.review(podReview([image], { uid: 'in-flight', namespace: 'tenant', name: 'in-flight' }));
    while (proxy.stats.connections === 0) await sleep(20);

    const sent = performance.now();
    process.kill(webhook.pid, 'SIGTERM');
    let answeredAt = Number.POSITIVE_INFINITY;
    const answered = inFlight.then((review) => {
      answeredAt = performance.now() - sent;
      return review;
    });
    const closedAt = clients.map(() => Number.POSITIVE_INFINITY);
    const closing = clients.map((client: SlowClient, i) =>
      client.closed.then(() => {
        closedAt[i] = performance.now() - sent;
      }),
    );
    // Nothing here waits past the grace period: a process still running then is one kubelet would kill.
    await Promise.race([Promise.all([answered, ...closing]), sleep(graceMs)]);
    while (webhook.alive() && performance.now() - sent < graceMs) await sleep(50);
    const exitedAfter = performance.now() - sent;

    expect(webhook.alive(), `still running ${Math.round(exitedAfter)} ms after SIGTERM`).toBe(false);
    expect((await webhook.stop()).exit).toBe(0);
    const answer = await answered;
    expect(answer.status, answer.error ?? answer.body).toBe(200);
    expect(answer.answer?.response.allowed).toBe(true);
    expect(answer.answer?.response.warnings?.[0]).toContain(`"${image}" not pinned`);
    // Closed by SIGTERM itself, not by a timeout: before the review in flight was answered (at its deadline).
    expect(Math.max(...closedAt)).toBeLessThan(answeredAt);
  });
});
