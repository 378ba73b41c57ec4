/**
 * Debian's haproxy on 127.0.0.1 in front of webhook processes, balancing each request
 * (kube-apiserver keeps its connection to a webhook alive, so balancing connections would
 * send every review to one process): HTTP mode, TLS terminated with a certificate the e2e CA
 * signs, TLS again to each backend, `balance roundrobin`, no server connection kept or reused.
 */
import { connect } from 'node:net';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Cluster } from './cluster.js';
import { issueCertificate } from './pki.js';
import { ProcessGroup } from './processes.js';
import { freePort } from '../harness/registry-process.js';

const HAPROXY = '/usr/sbin/haproxy';
const READY_TIMEOUT_MS = 30_000;

export interface RunningHaproxy {
  /** The port kube-apiserver is sent to (127.0.0.1). */
  readonly port: number;
  /** haproxy's log: a line per request, naming the backend server that answered it. */
  log(): Promise<string>;
  stop(): Promise<void>;
}

function config(port: number, pem: string, caFile: string, backends: readonly number[]): string {
  return [
    'global',
    '  log stdout format raw local0',
    'defaults',
    '  mode http',
    '  log global',
    '  option httplog',
    '  timeout connect 10s',
    '  timeout client 120s',
    '  timeout server 120s',
    'frontend webhook',
    `  bind 127.0.0.1:${port} ssl crt ${pem}`,
    '  default_backend replicas',
    'backend replicas',
    '  balance roundrobin',
    // Each request may go to the other process: the server side is closed after each response and never shared.
    '  option http-server-close',
    '  http-reuse never',
    ...backends.map((backend, i) => `  server replica-${i} 127.0.0.1:${backend} ssl verify required ca-file ${caFile}`),
    '',
  ].join('\n');
}

/** Starts haproxy before `backends` (webhook ports on 127.0.0.1, serving certificates of the e2e CA). */
export async function startHaproxy(cluster: Cluster, backends: readonly number[]): Promise<RunningHaproxy> {
  const dir = join(cluster.workDir, 'haproxy');
  await mkdir(dir, { recursive: true });
  const cert = await issueCertificate(cluster.pki.ca, { name: 'haproxy', commonName: 'haproxy', usage: 'server', altNames: ['IP:127.0.0.1'] });
  const pem = join(dir, 'frontend.pem');
  await writeFile(pem, (await readFile(cert.certFile, 'utf8')) + (await readFile(cert.keyFile, 'utf8')));
  const group = new ProcessGroup({ workDir: dir, logDir: cluster.logDir, maxLifetimeSeconds: 3600 });
  const port = await freePort();
  const file = join(dir, 'haproxy.cfg');
  await writeFile(file, config(port, pem, cluster.caFile, backends));
  const child = group.start('haproxy', HAPROXY, ['-db', '-f', file]);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!(await accepts(port))) {
    if (child.hasExited() || Date.now() > deadline) {
      await group.stopAll();
      throw new Error(`haproxy did not listen on 127.0.0.1:${port}: ${await readFile(child.logFile, 'utf8').catch(() => '')}`);
    }
    await sleep(50);
  }
  return { port, log: () => readFile(child.logFile, 'utf8'), stop: () => group.stopAll() };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      resolve(false);
    });
  });
}
