/**
 * Runs one CNCF Distribution 2.8 (`docker-registry serve`) on 127.0.0.1. Its
 * config is written as JSON (a YAML subset), its stdout and stderr both go to
 * one log file: stdout holds the access log in Apache combined format
 * (`"HEAD /v2/x/manifests/t HTTP/1.1" 200 …`), stderr the JSON app log.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';

export type RegistryAuth =
  | { readonly kind: 'none' }
  | { readonly kind: 'htpasswd'; readonly realm: string; readonly path: string }
  | { readonly kind: 'token'; readonly realm: string; readonly service: string; readonly issuer: string; readonly rootCertBundle: string };

export interface RegistrySpec {
  readonly name: string;
  /** Holds config.yml, the storage root and registry.log. */
  readonly dir: string;
  readonly tls: { readonly certFile: string; readonly keyFile: string; readonly caFile: string } | undefined;
  readonly auth: RegistryAuth;
  /** Listen on this port (e.g. to start a stopped registry again at the same address); default a free one. */
  readonly port?: number;
  /** Called with each process's pid as soon as it is spawned (e.g. to arm a watchdog). */
  readonly onSpawn?: (pid: number) => void;
}

export interface RunningRegistry {
  readonly host: string;
  readonly logFile: string;
  readonly pid: number;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 15_000;
const READY_POLL_MS = 50;
const STOP_GRACE_MS = 3_000;
const PORT_ATTEMPTS = 5;
const PORT_IN_USE = /address already in use/;

function authSection(auth: RegistryAuth): Record<string, unknown> | undefined {
  switch (auth.kind) {
    case 'none':
      return undefined;
    case 'htpasswd':
      return { htpasswd: { realm: auth.realm, path: auth.path } };
    case 'token':
      return { token: { realm: auth.realm, service: auth.service, issuer: auth.issuer, rootcertbundle: auth.rootCertBundle } };
  }
}

function registryConfig(spec: RegistrySpec, addr: string): Record<string, unknown> {
  return {
    version: '0.1',
    log: { level: 'info', formatter: 'json', accesslog: { disabled: false } },
    storage: {
      filesystem: { rootdirectory: join(spec.dir, 'storage') },
      delete: { enabled: true },
      cache: { blobdescriptor: 'inmemory' },
      maintenance: { uploadpurging: { enabled: false } },
    },
    http: {
      addr,
      secret: randomBytes(16).toString('hex'),
      ...(spec.tls ? { tls: { certificate: spec.tls.certFile, key: spec.tls.keyFile } } : {}),
    },
    ...(spec.auth.kind === 'none' ? {} : { auth: authSection(spec.auth) }),
    health: { storagedriver: { enabled: false } },
  };
}

/** A port that was free a moment ago, for a program that cannot listen on port 0 and report it (Distribution, a child process). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      resolve();
    });
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => {
    resolve();
  }));
  if (address === null || typeof address === 'string') throw new Error('could not read the port of a probe socket');
  return address.port;
}

/** The environment minus REGISTRY_* variables, which would override the config file. */
function registryEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('REGISTRY_')));
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => {
    resolve(code);
  }));
}

/** Polls GET /v2/ until the registry answers at all (200 or 401). */
async function waitReady(url: string, child: ChildProcess, caFile: string | undefined): Promise<'ready' | 'exited'> {
  const ca = caFile === undefined ? undefined : await readFile(caFile, 'utf8');
  const dispatcher = new Agent({ connect: { ca }, pipelining: 0 });
  const deadline = Date.now() + READY_TIMEOUT_MS;
  try {
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) return 'exited';
      try {
        const res = await request(url, { dispatcher });
        await res.body.dump();
        if (res.statusCode < 500) return 'ready';
      } catch {
        // not listening yet
      }
      await sleep(READY_POLL_MS);
    }
  } finally {
    await dispatcher.close();
  }
  throw new Error(`registry at ${url} was not ready within ${READY_TIMEOUT_MS} ms`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const done = exited(child);
  child.kill('SIGTERM');
  const graceful = await Promise.race([done.then(() => true), sleep(STOP_GRACE_MS).then(() => false)]);
  if (!graceful) {
    child.kill('SIGKILL');
    await done;
  }
}

async function logTail(logFile: string): Promise<string> {
  const text = await readFile(logFile, 'utf8').catch(() => '');
  return text.split('\n').slice(-20).join('\n');
}

/** Writes the config, starts the registry on a free port (retrying if it was taken) and waits for /v2/. */
export async function startRegistry(spec: RegistrySpec): Promise<RunningRegistry> {
  await mkdir(join(spec.dir, 'storage'), { recursive: true });
  const logFile = join(spec.dir, 'registry.log');
  const configFile = join(spec.dir, 'config.yml');
  for (let attempt = 1; attempt <= PORT_ATTEMPTS; attempt += 1) {
    const host = `127.0.0.1:${spec.port ?? (await freePort())}`;
    await writeFile(configFile, JSON.stringify(registryConfig(spec, host), null, 2));
    const fd = openSync(logFile, 'w');
    const child = spawn('docker-registry', ['serve', configFile], { stdio: ['ignore', fd, fd], env: registryEnv() });
    closeSync(fd);
    if (child.pid !== undefined) spec.onSpawn?.(child.pid);
    const scheme = spec.tls ? 'https' : 'http';
    const state = await waitReady(`${scheme}://${host}/v2/`, child, spec.tls?.caFile).catch(async (error: unknown) => {
      await stopChild(child);
      throw error;
    });
    if (state === 'ready' && child.pid !== undefined) {
      return { host, logFile, pid: child.pid, stop: () => stopChild(child) };
    }
    const tail = await logTail(logFile);
    if (!PORT_IN_USE.test(tail)) throw new Error(`registry ${spec.name} exited at start; log ${logFile}:\n${tail}`);
  }
  throw new Error(`registry ${spec.name} found no free port in ${PORT_ATTEMPTS} attempts`);
}
