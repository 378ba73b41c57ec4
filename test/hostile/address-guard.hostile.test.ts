/**
 * Defects in the address guard: 6to4 and local-use NAT64 addresses carrying a refused IPv4
 * address were contacted; and a tenant's warning said whether any `host:port` the webhook
 * can reach refused, timed out, spoke plain HTTP, had no DNS name or an untrusted
 * certificate — a map of the cluster network. Here images name such hosts; the operator's
 * log must keep what the tenant is not told.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import '../helpers/registry-types.js';
import { generateCertificates } from '../../src/certs/index.js';
import { freePort } from '../harness/registry-process.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { podReview } from '../support/webhook.js';
import { OrdinaryReviews } from './ordinary.js';
import { allowList, latencyBound, MEMORY_LIMIT_BYTES, startWebhookProcess, type TimedReview } from './webhook-process.js';

const registries = inject('registries');
/** Short registry timeouts, so a host that never answers is given up on well within the review's deadline. */
const TIMEOUT_ARGS = ['--registry-timeout', '1s'];

let dir: string;
let blackHole: FaultProxy;
let plainHttp: FaultProxy;
let untrusted: Server;
let ordinary: OrdinaryReviews;
/** Each private host and what only the operator's log may say about it. */
let hosts: { readonly name: string; readonly host: string; readonly detail: RegExp }[];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dp-guard-'));
  ordinary = await OrdinaryReviews.prepare(registries.basic, 'hostile/address-guard', 20);
  blackHole = await startFaultProxy({ upstream: registries.plain.host, protocol: 'tcp' });
  await blackHole.set({ kind: 'hang' });
  plainHttp = await startFaultProxy({ upstream: registries.plain.host });
  const certs = await generateCertificates({ hosts: ['127.0.0.1'], validDays: 1 });
  untrusted = createServer({ cert: certs.cert, key: certs.key }, (_request, response) => response.end('{}'));
  await new Promise<void>((resolve) => untrusted.listen(0, '127.0.0.1', resolve));
  hosts = [
    { name: 'refuses', host: `127.0.0.1:${await freePort()}`, detail: /connection refused \(ECONNREFUSED\)/ },
    // Its requests time out, one after another, until the fetch's budget runs out.
    { name: 'never answers', host: blackHole.host, detail: /did not answer within 1000 ms|registry fetch budget ran out/ },
    { name: 'speaks plain HTTP', host: plainHttp.host, detail: /answered HTTPS with plain HTTP/ },
    { name: 'has no DNS name', host: 'registry.nowhere.invalid:5000', detail: /DNS/ },
    { name: 'has an untrusted certificate', host: `127.0.0.1:${(untrusted.address() as AddressInfo).port}`, detail: /TLS certificate of .* is not trusted/ },
  ];
}, 120_000);

afterAll(async () => {
  await Promise.all([blackHole.close(), plainHttp.close(), new Promise((resolve) => untrusted.close(resolve))]);
  await rm(dir, { recursive: true, force: true });
});

interface LoggedFailure {
  readonly code: string;
  readonly reason: string;
  readonly detail?: string;
}

/** The first failure the admission log line of `uid` records. */
function loggedFailure(log: string, uid: string): LoggedFailure | undefined {
  const line = log.split('\n').find((text) => text.includes(`"uid":"${uid}"`) && text.includes('"admission"'));
  const failures = line === undefined ? [] : (JSON.parse(line) as { failures?: LoggedFailure[] }).failures ?? [];
  return failures[0];
}

function review(uid: string, image: string): unknown {
  return podReview([image], { uid, namespace: 'tenant', name: uid });
}

describe('registries outside the allow-list (here: no allow-list)', () => {
  it('a tenant learns only that the registry could not be reached; the operator log says how', async () => {
    const webhook = await startWebhookProcess(registries, { args: TIMEOUT_ARGS });
    const baseline = await ordinary.baseline(webhook);
    const answers: TimedReview[] = [];
    const beside: TimedReview[] = [];
    for (const [n, { host }] of hosts.entries()) {
      const [answer, ordinaryReview] = await Promise.all([webhook.review(review(`private-${n}`, `${host}/app:v1`)), ordinary.send(n % 2 === 0 ? 'cold' : 'cached', webhook)]);
      answers.push(answer);
      beside.push(ordinaryReview);
    }
    expect(webhook.alive()).toBe(true);
    expect(await webhook.peakRss()).toBeLessThan(MEMORY_LIMIT_BYTES);
    const { log } = await webhook.stop();

    const bound = latencyBound(baseline);
    for (const ordinaryReview of beside) expect(ordinaryReview.ms).toBeLessThan(bound);
    for (const [n, { name, host, detail }] of hosts.entries()) {
      const answer = answers[n];
      expect(answer?.status, `${name}: ${answer?.error ?? answer?.body ?? ''}`).toBe(200);
      expect(answer?.answer?.response.allowed, name).toBe(true);
      expect(answer?.answer?.response.warnings, name).toEqual([`digest-pinner: containers/c0 image "${host}/app:v1" not pinned: registry ${host} could not be reached`]);
      const logged = loggedFailure(log, `private-${n}`);
      expect(logged, name).toMatchObject({ code: 'DP_ERR_REGISTRY_UNREACHABLE', reason: `registry ${host} could not be reached` });
      expect(logged?.detail, name).toMatch(detail);
    }
  });
});

describe('a registry on the allow-list', () => {
  it('is told as it is: the failure says how', async () => {
    const { host, detail } = hosts[0] ?? { host: '', detail: /never/ };
    const allowed = allowList([registries.basic.host, host]);
    const webhook = await startWebhookProcess(registries, { ...allowed, args: [...allowed.args, ...TIMEOUT_ARGS] });
    const answer = await webhook.review(review('listed', `${host}/app:v1`));
    await ordinary.send('cached', webhook);
    await webhook.stop();
    expect(answer.answer?.response.warnings).toEqual([expect.stringMatching(detail)]);
  });
});

describe('IPv6 addresses carrying a refused IPv4 address', () => {
  it.each([
    ['6to4', '[2002:a9fe:a9fe::1]:5000', '6to4 address of 169.254.169.254'],
    ['local-use NAT64', '[64:ff9b:1::a9fe:a9fe]:5000', 'local-use NAT64 address of 169.254.169.254'],
  ])('%s is never contacted', async (_name, host, why) => {
    const webhook = await startWebhookProcess(registries, { args: TIMEOUT_ARGS });
    const answer = await webhook.review(review('carried', `${host}/app:v1`));
    await webhook.stop();
    expect(answer.answer?.response.warnings).toEqual([
      `digest-pinner: containers/c0 image "${host}/app:v1" not pinned: ${host.replace(/:\d+$/, '')} is a ${why}, a link-local (cloud metadata) address, which digest-pinner never contacts`,
    ]);
  });
});
