/**
 * Runs Debian's squid on 127.0.0.1 as the egress proxy of the proxy tests: no cache,
 * CONNECT to any port, optionally Basic proxy auth (basic_ncsa_auth over a bcrypt
 * htpasswd file), and a hosts file of its own, so it resolves names this process
 * cannot (a registry only the proxy can reach by name). Its access log has a line
 * per request, `CONNECT host:port` for a tunnel; `stop()` returns the log once squid
 * has exited, when every line is written, less the lines of connections that sent no
 * request (the readiness probe's).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { chown, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { run } from './exec.js';
import { writeHtpasswd } from './htpasswd.js';
import { freePort } from './registry-process.js';

export interface SquidSpec {
  /** Holds squid.conf, hosts, the logs; made here and given to squid's user (its parents must let that user through). */
  readonly dir: string;
  /** Names only squid resolves: name → IPv4 address. */
  readonly hosts: Readonly<Record<string, string>>;
  /** Basic proxy auth: squid then serves no request without these credentials. */
  readonly user?: { readonly username: string; readonly password: string };
  readonly onSpawn?: (pid: number) => void;
}

/** One line of squid's native access log. */
export interface AccessLogEntry {
  /** `TCP_TUNNEL/200`, `TCP_DENIED/407`, … */
  readonly result: string;
  readonly method: string;
  /** `host:port` for CONNECT. */
  readonly target: string;
  /** The proxy-authenticated user, `-` when none. */
  readonly user: string;
}

export interface RunningSquid {
  /** `http://127.0.0.1:PORT`, without credentials. */
  readonly url: string;
  readonly pid: number;
  /** Stops squid and returns its access log. */
  stop(): Promise<readonly AccessLogEntry[]>;
}

const SQUID = '/usr/sbin/squid';
const BASIC_AUTH_HELPER = '/usr/lib/squid/basic_ncsa_auth';
const READY_TIMEOUT_MS = 30_000;
const READY_POLL_MS = 50;
const PORT_ATTEMPTS = 5;
/** The target squid logs for a connection closed before it sent a request. */
const NO_REQUEST = 'error:transaction-end-before-headers';
/** Squid, started as root, runs as this user (Debian's default cache_effective_user). */
const SQUID_USER = 'proxy';

function config(spec: SquidSpec, port: number): string {
  const file = (name: string): string => join(spec.dir, name);
  const auth =
    spec.user === undefined
      ? ['http_access allow localhost']
      : [`auth_param basic program ${BASIC_AUTH_HELPER} ${file('passwd')}`, 'acl authenticated proxy_auth REQUIRED', 'http_access allow localhost authenticated'];
  return [
    `http_port 127.0.0.1:${port}`,
    `pid_filename ${file('squid.pid')}`,
    `access_log stdio:${file('access.log')}`,
    `cache_log ${file('cache.log')}`,
    'cache_store_log none',
    'logfile_rotate 0',
    'cache deny all',
    'cache_mem 1 MB',
    `hosts_file ${file('hosts')}`,
    // No DNS server: a name not in the hosts file fails at once.
    'dns_nameservers 127.0.0.1',
    'pinger_enable off',
    'visible_hostname digest-pinner-test-proxy',
    'shutdown_lifetime 0 seconds',
    ...auth,
    'http_access deny all',
    '',
  ].join('\n');
}

/** Starts squid on a free port (retrying if it was taken) and waits until it accepts connections. */
export async function startSquid(spec: SquidSpec): Promise<RunningSquid> {
  await mkdir(spec.dir, { recursive: true });
  await writeFile(join(spec.dir, 'hosts'), Object.entries(spec.hosts).map(([name, address]) => `${address} ${name}\n`).join(''));
  if (spec.user !== undefined) await writeHtpasswd(join(spec.dir, 'passwd'), spec.user.username, spec.user.password);
  for (let attempt = 1; attempt <= PORT_ATTEMPTS; attempt += 1) {
    const port = await freePort();
    await writeFile(join(spec.dir, 'squid.conf'), config(spec, port));
    await ownedBySquid(spec.dir);
    const out = openSync(join(spec.dir, 'squid.out'), 'w');
    const child = spawn(SQUID, ['-N', '-f', join(spec.dir, 'squid.conf')], { stdio: ['ignore', out, out] });
    closeSync(out);
    if (child.pid !== undefined) spec.onSpawn?.(child.pid);
    if ((await listening(port, child)) && child.pid !== undefined) {
      return { url: `http://127.0.0.1:${port}`, pid: child.pid, stop: () => stop(child, spec.dir) };
    }
    const logs = await Promise.all(['cache.log', 'squid.out'].map((name) => readFile(join(spec.dir, name), 'utf8').catch(() => '')));
    const log = logs.join('\n');
    if (!/bind|Address already in use/i.test(log)) throw new Error(`squid exited at start; its logs in ${spec.dir}:\n${log.split('\n').slice(-15).join('\n')}`);
  }
  throw new Error(`squid found no free port in ${PORT_ATTEMPTS} attempts`);
}

/** As root, squid drops to SQUID_USER, which must write its logs there. */
async function ownedBySquid(dir: string): Promise<void> {
  if (process.getuid?.() !== 0) return;
  const [uid, gid] = await Promise.all([run('id', ['-u', SQUID_USER]), run('id', ['-g', SQUID_USER])]).then((ids) => ids.map((id) => Number(id.trim())));
  if (uid === undefined || gid === undefined) throw new Error(`no uid for ${SQUID_USER}`);
  await chown(dir, uid, gid);
  for (const name of await readdir(dir)) await chown(join(dir, name), uid, gid);
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => {
    resolve();
  }));
}

/** Polls a TCP connect until squid accepts one; false when squid exits first. */
async function listening(port: number, child: ChildProcess): Promise<boolean> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) return false;
    const accepted = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => {
        resolve(false);
      });
    });
    if (accepted) return true;
    await sleep(READY_POLL_MS);
  }
  child.kill('SIGKILL');
  throw new Error(`squid did not listen on 127.0.0.1:${port} within ${READY_TIMEOUT_MS} ms`);
}

async function stop(child: ChildProcess, dir: string): Promise<readonly AccessLogEntry[]> {
  const done = exited(child);
  child.kill('SIGTERM');
  await done;
  const text = await readFile(join(dir, 'access.log'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map(parseLine)
    .filter((entry) => entry.target !== NO_REQUEST);
}

/** `time elapsed client result bytes method target user hierarchy type` (squid's native format). */
function parseLine(line: string): AccessLogEntry {
  const [, , , result = '', , method = '', target = '', user = ''] = line.trim().split(/\s+/);
  return { result, method, target, user };
}
