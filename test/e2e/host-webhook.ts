/**
 * The webhook as the e2e tests run it: `digest-pinner serve` in the test process, on
 * the host, with manifests/ applied to the cluster and its webhook entries pointed at
 * the host by URL (the Deployment in manifests/ would need a container runtime).
 */
import { readFile } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseAllDocuments, stringify } from 'yaml';
import { runCli } from '../../src/cli/main.js';
import type { RunningServer } from '../../src/cli/serve.js';
import type { Cluster } from './cluster.js';
import type { TestLog } from '../support/log.js';

export const MANIFESTS = new URL('../../manifests/', import.meta.url).pathname;

/** One object of the rendered manifests, as far as pointing webhooks at the host needs it. */
export interface ManifestDoc {
  kind: string;
  webhooks?: { clientConfig: Record<string, unknown> }[];
}

export interface PollOptions {
  readonly timeoutMs?: number;
  /** Added to the timeout error, e.g. the tail of the webhook's log. */
  readonly context?: () => string;
}

/** Polls `probe` until it gives a value; throws, naming `what`, when `timeoutMs` (default 30 s) passes first. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, options: PollOptions = {}): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await sleep(200);
  }
  const context = options.context?.() ?? '';
  throw new Error(`timed out waiting for ${what}${context === '' ? '' : `; webhook log:\n${context}`}`);
}

/**
 * manifests/ (or another of its installs, e.g. `${MANIFESTS}pods-only`) as rendered by kustomize,
 * webhook entries pointed at `https://127.0.0.1:<port>`; `keep` chooses the objects.
 */
export async function applyManifests(cluster: Cluster, port: number, keep: (doc: ManifestDoc) => boolean = () => true, directory = MANIFESTS): Promise<void> {
  const caBundle = Buffer.from(await readFile(cluster.caFile)).toString('base64');
  const docs = parseAllDocuments(await cluster.kubectlOk(['kustomize', directory])).map((doc) => doc.toJS() as ManifestDoc).filter(keep);
  for (const doc of docs) {
    for (const entry of doc.webhooks ?? []) {
      const path = (entry.clientConfig['service'] as { path: string }).path;
      entry.clientConfig = { url: `https://127.0.0.1:${port}${path}`, caBundle };
    }
  }
  await cluster.kubectlOk(['apply', '-f', '-'], { stdin: docs.map((d) => stringify(d)).join('---\n') });
}

export interface HostWebhookOptions {
  readonly cluster: Cluster;
  /** `serve` flags, without `--port`. */
  readonly args: readonly string[];
  /** 0 (the default): any free port. */
  readonly port?: number;
  /** Where serve logs. */
  readonly log: TestLog;
  readonly env?: Readonly<Record<string, string>>;
  readonly poll?: PollOptions;
}

/** Starts `serve` on the host and waits for /readyz (its informers synced). */
export async function startHostWebhook(options: HostWebhookOptions): Promise<RunningServer> {
  const { cluster, log } = options;
  // serve writes to stdout and stderr only for --help and usage errors.
  const output = new PassThrough();
  let printed = '';
  output.on('data', (chunk: Buffer) => (printed += chunk.toString()));
  const io = { stdout: output, stderr: output, stdin: new PassThrough(), env: { ...options.env }, cwd: cluster.workDir, homeDir: cluster.workDir, version: 'e2e', logDestination: () => log.destination };
  let server: RunningServer | undefined;
  const code = await runCli(['serve', ...options.args, '--port', String(options.port ?? 0), '--metrics-port', '0'], io, (running) => (server = running));
  const started = server;
  if (code !== undefined || started === undefined) throw new Error(`serve exited ${String(code)}: ${printed}${log.text().slice(-3000)}`);
  await eventually(
    'the webhook to be ready (informers synced)',
    async () => ((await started.app.inject({ method: 'GET', url: '/readyz' })).statusCode === 200 ? true : undefined),
    options.poll,
  );
  return started;
}

/** The port a started webhook listens on. */
export function portOf(server: RunningServer): number {
  return Number(new URL(server.url).port);
}
