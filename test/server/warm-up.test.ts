/**
 * warmUp: the built-in admission runs through the app's own admission dependencies with its own
 * resolver, registry client, registry and credential (the webhook's resolver, credentials, rewrites
 * and hooks are never called), and one refused review reaches the webhook's own HTTPS port; no
 * connection or listener is left behind. Failures are reported, never thrown.
 * warmUpWhenSynced waits for the caches first, and gives up when the webhook closes.
 */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { skipList } from '../../src/admission/index.js';
import { generateCertificates } from '../../src/certs/index.js';
import { buildApp, type AppDeps } from '../../src/server/app.js';
import { warmUp, warmUpWhenSynced } from '../../src/server/warm-up.js';

/** Counts every call the warm-up must not make. */
const calls = { resolver: 0, credentials: 0, onAdmission: 0, onAdmitted: 0 };

const deps: AppDeps = {
  mode: 'warn',
  deadlineMs: 8_000,
  resolver: {
    cached: () => {
      calls.resolver += 1;
      return undefined;
    },
    resolve: () => {
      calls.resolver += 1;
      return Promise.reject(new Error('the webhook resolver was asked'));
    },
  },
  credentials: () => {
    calls.credentials += 1;
    return Promise.reject(new Error('the webhook credentials were asked'));
  },
  skip: skipList([]),
  dropTag: false,
  ready: () => true,
  onAdmission: () => {
    calls.onAdmission += 1;
  },
  onAdmitted: () => {
    calls.onAdmitted += 1;
  },
};

let app: FastifyInstance;
let address: AddressInfo;

beforeAll(async () => {
  const certificates = await generateCertificates({ hosts: ['127.0.0.1'], validDays: 1 });
  app = buildApp(deps, { https: { cert: certificates.cert, key: certificates.key } });
  await app.listen({ port: 0, host: '127.0.0.1' });
  address = app.server.address() as AddressInfo;
});

afterAll(async () => {
  await app.close();
});

/**
 * The process's sockets and listeners (timers and the like left out), once the handles closed
 * so far are gone: a closed handle is listed until libuv's close phase, which two turns of
 * the event loop pass (an order of phases, not a time).
 */
async function sockets(): Promise<string[]> {
  for (let turn = 0; turn < 2; turn += 1) await new Promise((resolve) => setImmediate(resolve));
  return process.getActiveResourcesInfo().filter((resource) => resource.startsWith('TCP') || resource.startsWith('Pipe')).sort();
}

describe('warmUp', () => {
  it('pins the built-in Pod\'s three images from its own registry and is answered on its own port', async () => {
    const result = await warmUp({ deps, address });
    expect(result).toEqual({ pinned: 3, selfRequest: true, problems: [] });
  });

  it('tells its own observers, not the webhook\'s hooks, of its admission and of each registry request', async () => {
    const admissions: string[] = [];
    const requests: string[] = [];
    const result = await warmUp({
      deps,
      address: undefined,
      onAdmission: (admitted, kind, operation) => admissions.push(`${kind} ${operation} ${admitted.outcome}`),
      onRequest: (event) => requests.push(`${event.method} ${String(event.status)} ${event.host.replace(/:\d+$/, '')}`),
    });
    expect(result.problems).toEqual([]);
    expect(admissions).toEqual(['Pod CREATE pinned']);
    expect(requests.sort()).toEqual([
      'GET 200 warm-up.invalid', 'GET 200 warm-up.invalid', 'GET 200 warm-up.invalid', 'GET 401 warm-up.invalid',
      'HEAD 200 warm-up.invalid', 'HEAD 200 warm-up.invalid', 'HEAD 200 warm-up.invalid',
    ]);
    expect(calls).toEqual({ resolver: 0, credentials: 0, onAdmission: 0, onAdmitted: 0 });
  });

  it('leaves no connection or listener behind', async () => {
    const before = await sockets();
    expect(before).toContain('TCPServerWrap');
    const result = await warmUp({ deps, address });
    expect(result.problems).toEqual([]);
    expect(await sockets()).toEqual(before);
  });

  it('leaves the webhook\'s rewrites out: they could send the images elsewhere', async () => {
    const rewriting: AppDeps = { ...deps, rewrite: () => { throw new Error('a rewrite was applied'); } };
    expect(await warmUp({ deps: rewriting, address: undefined })).toEqual({ pinned: 3, selfRequest: false, problems: [] });
  });

  it('reports images the registry client did not resolve instead of throwing', async () => {
    const skipping: AppDeps = { ...deps, skip: skipList(['warm-up.invalid:*/team/app:*']) };
    const result = await warmUp({ deps: skipping, address: undefined });
    expect(result.pinned).toBe(0);
    expect(result.problems).toEqual([expect.stringMatching(/^admission: Error: 2 of 3 images pinned from warm-up\.invalid:\d+$/)]);
  });

  it('asks neither the webhook\'s resolver nor its credentials, and no admission hook runs', async () => {
    await warmUp({ deps, address });
    expect(calls).toEqual({ resolver: 0, credentials: 0, onAdmission: 0, onAdmitted: 0 });
  });

  it('without a listener address, warms the admission only', async () => {
    expect(await warmUp({ deps, address: undefined })).toEqual({ pinned: 3, selfRequest: false, problems: [] });
  });

  it('reports a port that does not answer instead of throwing', async () => {
    const closed = buildApp(deps);
    await closed.listen({ port: 0, host: '127.0.0.1' });
    const closedAddress = closed.server.address() as AddressInfo;
    await closed.close();
    const result = await warmUp({ deps: deps, address: closedAddress });
    expect(result.pinned).toBe(3);
    expect(result.selfRequest).toBe(false);
    expect(result.problems).toEqual([expect.stringMatching(/^request to its own port: .*ECONNREFUSED/)]);
  });

  it('reports an admission that fails instead of throwing', async () => {
    const failing: AppDeps = { ...deps, skip: { ...deps.skip, matches: () => { throw new Error('skip list broken'); } } };
    const result = await warmUp({ deps: failing, address: undefined });
    expect(result.pinned).toBe(0);
    expect(result.problems).toEqual([expect.stringMatching(/^admission: Error: 0 of 3 images pinned from warm-up\.invalid:\d+ \(digest-pinner: internal error, images not pinned: skip list broken\)$/)]);
  });
});

describe('warmUpWhenSynced', () => {
  it('warms up only once synced() has said yes', async () => {
    const answers = [false, false, true];
    let asked = 0;
    const synced = (): boolean => answers[Math.min(asked++, answers.length - 1)] ?? true;
    const result = await warmUpWhenSynced({ deps, address: undefined }, synced, new AbortController().signal);
    expect(asked).toBe(3);
    expect(result).toEqual({ pinned: 3, selfRequest: false, problems: [] });
  });

  it('gives up, without warming up, when its signal aborts while it waits', async () => {
    const stop = new AbortController();
    let asked = 0;
    const result = warmUpWhenSynced({ deps, address: undefined }, () => {
      asked += 1;
      stop.abort();
      return false;
    }, stop.signal);
    expect(await result).toBeUndefined();
    expect(asked).toBe(1);
  });
});
