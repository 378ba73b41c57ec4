/**
 * The webhook as production runs it, for the `hostile` project: `node dist/main.js serve` as a
 * child process the way the container image and the default install run it — the node flags
 * of the Dockerfile's ENTRYPOINT, its ENV lines (MALLOC_ARENA_MAX), and the NODE_OPTIONS
 * (V8 heap cap) and memory limit of manifests/deployment.yaml — trusting the test registries'
 * CA, with credentials for the htpasswd and token registries in its docker config. Reviews go
 * over keep-alive HTTPS and are timed; peak RSS is the kernel's VmHWM of the process.
 *
 *   const webhook = await startWebhookProcess(inject('registries'), { args: ['--mode', 'strict'] });
 *   const { status, answer, ms } = await webhook.review(podReview([image], { uid, namespace, name }));
 *   expect(await webhook.peakRss()).toBeLessThan(MEMORY_LIMIT_BYTES);
 *   await webhook.stop();
 *
 * The bundle is the one test/hostile/global-setup.ts built (`npm run build`), or the dist/
 * directory named by DP_HOSTILE_DIST (to run these tests against another commit's build).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { inject } from 'vitest';
import { parse } from 'yaml';
import type { AdmissionReviewResponse } from '../../src/admission/types.js';
import { generateCertificates } from '../../src/certs/index.js';
import { freePort } from '../harness/registry-process.js';
import type { TestRegistries } from '../helpers/registry-types.js';


/**
 * How many times its usual latency an ordinary review may take while the webhook is under
 * attack. The usual latency is the slowest of the same reviews measured just before in the
 * same test, so the machine's speed cancels out; the margin covers the attack's own bounded
 * work on the same event loop and the same registry, on a shared machine. Waiting behind an
 * attack's whole batch, or on a crashed or thrashing process, takes far longer.
 */
export const ATTACK_SLOWDOWN = 40;

/**
 * Added to the usual latency, whatever it is: a baseline of a few milliseconds on a quiet
 * machine makes a ratio alone a bound of scheduling noise. Still well under the seconds a
 * review waits behind a whole attack or on a crashed process.
 */
export const ATTACK_MARGIN_MS = 1_000;

/** The longest an ordinary review may take under attack, given the same reviews' baseline latencies (ms). */
export function latencyBound(baselineMs: readonly number[]): number {
  const usual = Math.max(...baselineMs);
  return Math.max(usual * ATTACK_SLOWDOWN, usual + ATTACK_MARGIN_MS);
}

/** Node 24, where .ci/run installs it (npm's `node` package); the image runs Node 24. */
export const NODE24 = join(process.env['HOME'] ?? '', '.cache/digest-pinner/node24/node_modules/node/bin/node');

/**
 * The repository: the nearest directory above this file with a package.json, so that bench/'s
 * compiled copy of this file (under node_modules/.cache) reads the same Dockerfile and manifests.
 */
function repositoryDir(): string {
  for (let dir = dirname(new URL(import.meta.url).pathname); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${import.meta.url}`);
  }
}

const REPO = repositoryDir();

/** How the image and the default install run the process: node flags, environment, memory limit. */
export interface ProductionRuntime {
  readonly nodeFlags: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly memoryLimitBytes: number;
}

/** Read from the Dockerfile (ENTRYPOINT flags, ENV lines) and manifests/deployment.yaml (NODE_OPTIONS, limits.memory). */
export function productionRuntime(): ProductionRuntime {
  const dockerfile = readFileSync(join(REPO, 'Dockerfile'), 'utf8');
  const entrypoint = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)?.[1] ?? '[]') as string[];
  const imageEnv = Object.fromEntries([...dockerfile.matchAll(/^ENV ([A-Z_]+)=("?)([^"\n]*)\2$/gm)].map((m) => [m[1] ?? '', m[3] ?? '']));
  const deployment = parse(readFileSync(join(REPO, 'manifests/deployment.yaml'), 'utf8')) as {
    spec: { template: { spec: { containers: { env?: { name: string; value?: string }[]; resources: { limits: { memory: string } } }[] } } };
  };
  const container = deployment.spec.template.spec.containers[0];
  const nodeOptions = container?.env?.find((variable) => variable.name === 'NODE_OPTIONS')?.value;
  const memory = /^(\d+)Mi$/.exec(container?.resources.limits.memory ?? '');
  if (nodeOptions === undefined || memory === null) throw new Error('manifests/deployment.yaml: no NODE_OPTIONS or no limits.memory in Mi');
  return {
    nodeFlags: entrypoint.filter((arg) => arg.startsWith('--')),
    env: { ...imageEnv, NODE_OPTIONS: nodeOptions },
    memoryLimitBytes: Number(memory[1]) * 1024 * 1024,
  };
}

/** The manifests' `limits.memory`: peak RSS must stay below it. */
export const MEMORY_LIMIT_BYTES = productionRuntime().memoryLimitBytes;
const READY_TIMEOUT_MS = 20_000;
const READY_POLL_MS = 50;
const STOP_GRACE_MS = 10_000;

export interface WebhookProcessOptions {
  /** More `serve` flags (`--mode strict`, `--deadline 3s`, `--config FILE`…). */
  readonly args?: readonly string[];
  /** The node binary (default: the one running the tests). */
  readonly node?: string;
  /** Files written into the process's directory before it starts, by relative path (e.g. a config file). */
  readonly files?: Readonly<Record<string, string>>;
  /** The program (default: the bundle under test, bundleMain(); outside vitest, say which). */
  readonly main?: string;
}

/** A review's answer as the client saw it. */
export interface TimedReview {
  /** HTTP status, or `error` when no answer arrived (reset, refused): then `error` says what happened. */
  readonly status: number | 'error';
  /** The AdmissionReview answered, when the status was 200. */
  readonly answer: AdmissionReviewResponse | undefined;
  /** The body as text (error answers are JSON with a `message`). */
  readonly body: string;
  readonly error: string | undefined;
  /** From sending the request to the end of the answer's body. */
  readonly ms: number;
}

export interface ReviewOptions {
  /** `/mutate` (default), `/mutate/warn` or `/mutate/strict`. */
  readonly path?: string;
  /**
   * The review's deadline, as kube-apiserver gives it (the webhook's timeoutSeconds): sent as
   * `?timeout=`, and the client gives up when it passes, as kube-apiserver does (then `status`
   * is `error`). Default REVIEW_TIMEOUT_MS.
   */
  readonly timeoutMs?: number;
}

/** kube-apiserver's default timeoutSeconds for a webhook, which manifests/ keeps. */
export const REVIEW_TIMEOUT_MS = 10_000;

/** One client's keep-alive connection(s) to the webhook. */
export interface ReviewClient {
  /** POSTs `body` (an object, sent as JSON, or a string sent as is) and times the answer. */
  review(body: unknown, options?: ReviewOptions): Promise<TimedReview>;
  close(): Promise<void>;
}

export interface WebhookProcess extends ReviewClient {
  /** `https://127.0.0.1:PORT`. */
  readonly url: string;
  /** `http://127.0.0.1:PORT` of its metrics port (`/metrics`, `/healthz`, `/readyz`). */
  readonly metricsUrl: string;
  readonly pid: number;
  /** The directory the process runs in (its certificates, docker config, `files`). */
  readonly dir: string;
  /** Another client with its own keep-alive connection (`connections` at most, default 1). */
  connect(connections?: number): ReviewClient;
  /** Peak resident set size so far (VmHWM), in bytes; throws once the process has exited. */
  peakRss(): Promise<number>;
  /** Whether the process still runs. */
  alive(): boolean;
  /**
   * Everything it wrote to stdout and stderr so far (JSON log lines, and any crash report).
   * Log lines are buffered for a moment: to assert on them, use what `stop()` returns.
   */
  log(): Promise<string>;
  /**
   * SIGTERM (which writes every pending log line), then SIGKILL after a grace period: its
   * exit code or the signal that ended it, and its whole output. Again: the same answer.
   */
  stop(): Promise<StoppedWebhook>;
}

export interface StoppedWebhook {
  readonly exit: number | string;
  readonly log: string;
}

/** Options that give the webhook a configuration file allowing only `registries` (`host[:port]`); pass more `args` after these. */
export function allowList(registries: readonly string[]): { readonly args: readonly string[]; readonly files: Readonly<Record<string, string>> } {
  const yaml = `apiVersion: digest-pinner.io/v1alpha1\nkind: Configuration\nallow: ${JSON.stringify(registries)}\n`;
  return { args: ['--config', 'allow-list.yaml'], files: { 'allow-list.yaml': yaml } };
}

/** dist/main.js of the bundle under test. */
export function bundleMain(): string {
  return join(inject('hostileDist'), 'main.js');
}

/** Starts `serve` against the test registries and waits until /readyz answers 200. */
export async function startWebhookProcess(registries: TestRegistries, options: WebhookProcessOptions = {}): Promise<WebhookProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'dp-hostile-'));
  const certs = await generateCertificates({ hosts: ['localhost', '127.0.0.1'], validDays: 1 });
  await Promise.all([writeFile(join(dir, 'tls.crt'), certs.cert), writeFile(join(dir, 'tls.key'), certs.key), mkdir(join(dir, 'docker'))]);
  await writeFile(join(dir, 'docker/config.json'), JSON.stringify({ auths: registryAuths(registries) }));
  for (const [name, text] of Object.entries(options.files ?? {})) await writeFile(join(dir, name), text);
  const [port, metricsPort] = [await freePort(), await freePort()];
  const args = [
    options.main ?? bundleMain(), 'serve', '--port', String(port), '--metrics-port', String(metricsPort), '--host', '127.0.0.1', '--tls-cert', join(dir, 'tls.crt'), '--tls-key', join(dir, 'tls.key'),
    '--ca-file', registries.caFile, '--insecure-registry', registries.plain.host, '--docker-config', join(dir, 'docker'), ...(options.args ?? []),
  ];
  const logFile = join(dir, 'webhook.log');
  const fd = openSync(logFile, 'w');
  const runtime = productionRuntime();
  const env = { PATH: process.env['PATH'] ?? '', HOME: dir, ...runtime.env };
  const child = spawn(options.node ?? process.execPath, [...runtime.nodeFlags, ...args], { cwd: dir, env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  const url = `https://127.0.0.1:${port}`;
  const clients: ReviewClient[] = [];
  const connect = (connections = 1): ReviewClient => {
    const client = reviewClient(url, certs.caCert, connections);
    clients.push(client);
    return client;
  };
  const main = connect(16);
  const log = (): Promise<string> => readFile(logFile, 'utf8');
  const alive = (): boolean => child.exitCode === null && child.signalCode === null;
  try {
    await waitReady(url, certs.caCert, alive, log);
  } catch (error) {
    await Promise.all(clients.map((c) => c.close()));
    await stopChild(child);
    process.removeListener('exit', killOnExit);
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const pid = child.pid ?? 0;
  let stopped: Promise<StoppedWebhook> | undefined;
  return {
    url,
    metricsUrl: `http://127.0.0.1:${metricsPort}`,
    pid,
    dir,
    review: (body, reviewOptions) => main.review(body, reviewOptions),
    connect,
    peakRss: () => peakRss(pid),
    alive,
    log,
    close: async () => {
      await Promise.all(clients.map((c) => c.close()));
    },
    stop: () => {
      stopped ??= (async () => {
        await Promise.all(clients.map((c) => c.close()));
        const exit = await stopChild(child);
        process.removeListener('exit', killOnExit);
        const output = await log();
        await rm(dir, { recursive: true, force: true });
        return { exit, log: output };
      })();
      return stopped;
    },
  };
}

/** VmHWM of `pid` from /proc, in bytes. */
export async function peakRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(status);
  if (match === null) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

function registryAuths(registries: TestRegistries): Record<string, { auth: string }> {
  const auth = (user: string | undefined, password: string | undefined): string => Buffer.from(`${user ?? ''}:${password ?? ''}`).toString('base64');
  const { basic, token } = registries;
  return { [basic.host]: { auth: auth(basic.username, basic.password) }, [token.host]: { auth: auth(token.username, token.password) } };
}

function reviewClient(url: string, ca: string, connections: number): ReviewClient {
  // Keep-alive as kube-apiserver's Go client: connections are reused across reviews.
  const dispatcher = new Agent({ connect: { ca }, connections, keepAliveTimeout: 60_000, pipelining: 1 });
  return {
    review: async (body, options = {}) => {
      const timeoutMs = options.timeoutMs ?? REVIEW_TIMEOUT_MS;
      const started = performance.now();
      try {
        const response = await request(`${url}${options.path ?? '/mutate'}?timeout=${timeoutMs}ms`, {
          method: 'POST',
          dispatcher,
          headers: { 'content-type': 'application/json' },
          body: typeof body === 'string' ? body : JSON.stringify(body),
          signal: AbortSignal.timeout(timeoutMs),
        });
        const text = await response.body.text();
        const ms = performance.now() - started;
        const answer = response.statusCode === 200 ? (JSON.parse(text) as AdmissionReviewResponse) : undefined;
        return { status: response.statusCode, answer, body: text, error: undefined, ms };
      } catch (error) {
        const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
        return { status: 'error', answer: undefined, body: '', error: `${code} ${String(error)}`.trim(), ms: performance.now() - started };
      }
    },
    close: async () => {
      if (!dispatcher.closed && !dispatcher.destroyed) await dispatcher.close();
    },
  };
}

async function waitReady(url: string, ca: string, alive: () => boolean, log: () => Promise<string>): Promise<void> {
  const dispatcher = new Agent({ connect: { ca } });
  try {
    const deadline = performance.now() + READY_TIMEOUT_MS;
    while (performance.now() < deadline) {
      if (!alive()) throw new Error(`the webhook exited at start:\n${await log()}`);
      const status = await request(`${url}/readyz`, { dispatcher }).then(
        async (r) => {
          await r.body.dump();
          return r.statusCode;
        },
        () => 0,
      );
      if (status === 200) return;
      await sleep(READY_POLL_MS);
    }
    throw new Error(`the webhook was not ready within ${READY_TIMEOUT_MS} ms:\n${await log()}`);
  } finally {
    await dispatcher.close();
  }
}

async function stopChild(child: ChildProcess): Promise<number | string> {
  if (child.exitCode === null && child.signalCode === null) {
    const exit = once(child, 'exit');
    child.kill('SIGTERM');
    const graceful = await Promise.race([exit.then(() => true), sleep(STOP_GRACE_MS).then(() => false)]);
    if (!graceful) {
      child.kill('SIGKILL');
      await exit;
    }
  }
  return child.exitCode ?? child.signalCode ?? 'unknown';
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** The dist/ directory of the bundle under test (test/hostile/global-setup.ts). */
    hostileDist: string;
  }
}
