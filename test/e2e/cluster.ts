/**
 * A real Kubernetes control plane for end-to-end tests, on 127.0.0.1 with free
 * ports: etcd, kube-apiserver (RBAC on, admission webhooks on) and
 * kube-controller-manager, built by build-binaries.sh for the Kubernetes minor
 * the run selected (`inject('kube')`, see binaries.ts). There is no scheduler
 * and no kubelet, so pods are created but stay Pending.
 *
 *   const cluster = await startCluster();
 *   await cluster.kubectl(['apply', '-f', '-'], { stdin: manifest });
 *   await cluster.stop();
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { inject } from 'vitest';
import type { BINARIES, KubeBinaries, KubeVersions } from './binaries.js';
import { createControlPlanePki, type ControlPlanePki } from './pki.js';
import { ProcessGroup } from './processes.js';

export interface StartClusterOptions {
  /** The binaries to run. Default: those the e2e global setup provides (`inject('kube')`). */
  readonly binaries?: KubeBinaries;
  /** Where each process's log goes; kept after stop(). Default: a new temp dir (or `$DP_E2E_LOG_DIR/<run>`). */
  readonly logDir?: string;
  /** Start kube-controller-manager with the cluster (default true). */
  readonly controllerManager?: boolean;
  readonly extraApiServerArgs?: readonly string[];
  /**
   * Where Service ClusterIPs come from (default 10.96.0.0/16, which nothing on the host
   * routes). A range in 127.0.0.0/8 makes every ClusterIP a local address: a process
   * listening on a Service's ClusterIP and port is what kube-apiserver reaches when a
   * webhook configuration names that Service.
   */
  readonly serviceClusterIpRange?: string;
  readonly extraControllerManagerArgs?: readonly string[];
  /** Give up waiting for a component after this long (default 60 s). */
  readonly readyTimeoutMs?: number;
  /** Everything is killed after this long even if the test process hangs (default 1 h). */
  readonly maxLifetimeSeconds?: number;
  /** Keep the work dir (etcd data, PKI, kubeconfigs) after stop() (default: `$DP_E2E_KEEP` set). */
  readonly keepWorkDir?: boolean;
}

export interface KubectlResult {
  readonly stdout: string;
  readonly stderr: string;
  /** Exit code; -1 when killed by the timeout. */
  readonly code: number;
}

export interface KubectlOptions {
  readonly stdin?: string;
  /** Default: the admin kubeconfig. */
  readonly kubeconfig?: string;
  readonly timeoutMs?: number;
}

export interface ClusterPorts {
  readonly etcdClient: number;
  readonly etcdPeer: number;
  readonly apiserver: number;
  readonly controllerManager: number;
}

export interface Cluster {
  /** Admin kubeconfig (user system:admin, group system:masters). */
  readonly kubeconfigPath: string;
  /** `https://127.0.0.1:PORT` */
  readonly server: string;
  /** The cluster CA: signs the apiserver's certificate and the client certificates it accepts. */
  readonly caFile: string;
  readonly caKeyFile: string;
  readonly pki: ControlPlanePki;
  /** Read from the binaries by the e2e global setup. */
  readonly versions: KubeVersions;
  readonly ports: ClusterPorts;
  readonly binDir: string;
  readonly logDir: string;
  readonly workDir: string;
  /** Milliseconds from startCluster() to a ready apiserver and controller-manager. */
  readonly startupMs: number;
  kubectl(args: readonly string[], opts?: KubectlOptions): Promise<KubectlResult>;
  /** Like kubectl() but throws, with stderr, unless the exit code is 0; returns stdout. */
  kubectlOk(args: readonly string[], opts?: KubectlOptions): Promise<string>;
  /** A bound token for a ServiceAccount (`kubectl create token`), e.g. to run the webhook on the host. */
  createServiceAccountToken(namespace: string, name: string, opts?: { durationSeconds?: number; audience?: string }): Promise<string>;
  /** Writes a kubeconfig that authenticates with `token` and returns its path. */
  writeTokenKubeconfig(name: string, token: string): Promise<string>;
  stopControllerManager(): Promise<void>;
  startControllerManager(): Promise<void>;
  stop(): Promise<void>;
}

const SERVICE_CLUSTER_IP_RANGE = '10.96.0.0/16';
const SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc.cluster.local';

function log(message: string): void {
  process.stderr.write(`[e2e cluster] ${message}\n`);
}

/** Free TCP ports on 127.0.0.1, all held open together so that they differ. */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, () => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => { resolve(server); });
  })));
  const ports = servers.map((s) => {
    const address = s.address();
    if (address === null || typeof address === 'string') throw new Error('unexpected listen address');
    return address.port;
  });
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

interface Probe {
  readonly url: string;
  readonly tls?: Pick<RequestOptions, 'ca' | 'cert' | 'key'>;
}

/** One GET; resolves with the status code and body, or undefined on a connection error. */
function get(probe: Probe): Promise<{ status: number; body: string } | undefined> {
  return new Promise((resolve) => {
    const send = probe.url.startsWith('https:') ? httpsRequest : httpRequest;
    const req = send(probe.url, { ...probe.tls, timeout: 2_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { body += chunk; });
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body }); });
      res.on('error', () => { resolve(undefined); });
    });
    req.on('timeout', () => { req.destroy(); });
    req.on('error', () => { resolve(undefined); });
    req.end();
  });
}

interface WaitTarget {
  readonly name: string;
  readonly probe: Probe;
  readonly exited: () => boolean;
  readonly logTail: () => Promise<string>;
}

async function waitUntilReady(target: WaitTarget, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (target.exited()) throw new Error(`${target.name} exited while starting; last log lines:\n${await target.logTail()}`);
    const answer = await get(target.probe);
    if (answer?.status === 200) return;
    if (answer) last = `HTTP ${answer.status}: ${answer.body.slice(0, 500)}`;
    await sleep(150);
  }
  throw new Error(`${target.name} not ready after ${timeoutMs} ms (${target.probe.url}: ${last}); last log lines:\n${await target.logTail()}`);
}

interface KubeconfigUser {
  readonly clientCertificate?: string;
  readonly clientKey?: string;
  readonly token?: string;
}

/** kubeconfig is YAML, and JSON is YAML. */
function kubeconfig(server: string, caFile: string, user: KubeconfigUser): string {
  const userEntry = user.token !== undefined
    ? { token: user.token }
    : { 'client-certificate': user.clientCertificate, 'client-key': user.clientKey };
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'e2e', cluster: { server, 'certificate-authority': caFile } }],
    users: [{ name: 'e2e-user', user: userEntry }],
    contexts: [{ name: 'e2e', context: { cluster: 'e2e', user: 'e2e-user' } }],
    'current-context': 'e2e',
  }, null, 2);
}

function runKubectl(kubectlPath: string, args: readonly string[], kubeconfigPath: string, opts: KubectlOptions): Promise<KubectlResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(kubectlPath, ['--kubeconfig', opts.kubeconfig ?? kubeconfigPath, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, KUBECONFIG: '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk; });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
    const timer = setTimeout(() => { child.kill('SIGKILL'); }, opts.timeoutMs ?? 60_000);
    child.once('error', (error) => { clearTimeout(timer); reject(error); });
    child.once('close', (code) => { clearTimeout(timer); resolve({ stdout, stderr, code: code ?? -1 }); });
    child.stdin.on('error', () => { /* kubectl may exit before reading stdin; its exit code tells */ });
    child.stdin.end(opts.stdin ?? '');
  });
}

async function makeLogDir(requested: string | undefined): Promise<string> {
  if (requested) {
    await mkdir(requested, { recursive: true });
    return requested;
  }
  const parent = process.env['DP_E2E_LOG_DIR'];
  if (parent) {
    await mkdir(parent, { recursive: true });
    return mkdtemp(join(parent, `cluster-${new Date().toISOString().replace(/[:.]/g, '-')}-`));
  }
  return mkdtemp(join(tmpdir(), 'digest-pinner-e2e-logs-'));
}

/** Starts etcd, kube-apiserver and (unless disabled) kube-controller-manager; see the file comment. */
export async function startCluster(options: StartClusterOptions = {}): Promise<Cluster> {
  const started = Date.now();
  const { binDir, ...versions } = options.binaries ?? inject('kube');
  const bin = (name: (typeof BINARIES)[number]): string => join(binDir, name);
  const readyTimeoutMs = options.readyTimeoutMs ?? 60_000;
  const keepWorkDir = options.keepWorkDir ?? Boolean(process.env['DP_E2E_KEEP']);

  const workDir = await mkdtemp(join(tmpdir(), 'digest-pinner-e2e-'));
  const logDir = await makeLogDir(options.logDir);
  const pkiDir = join(workDir, 'pki');
  await mkdir(pkiDir);
  const [pki, portList] = await Promise.all([createControlPlanePki(pkiDir), freePorts(4)]);
  const [etcdClient = 0, etcdPeer = 0, apiserverPort = 0, kcmPort = 0] = portList;
  const ports: ClusterPorts = { etcdClient, etcdPeer, apiserver: apiserverPort, controllerManager: kcmPort };
  const server = `https://127.0.0.1:${apiserverPort}`;

  const kubeconfigPath = join(workDir, 'admin.kubeconfig');
  const kcmKubeconfigPath = join(workDir, 'controller-manager.kubeconfig');
  await writeFile(kubeconfigPath, kubeconfig(server, pki.ca.certFile, { clientCertificate: pki.admin.certFile, clientKey: pki.admin.keyFile }));
  await writeFile(kcmKubeconfigPath, kubeconfig(server, pki.ca.certFile,
    { clientCertificate: pki.controllerManager.certFile, clientKey: pki.controllerManager.keyFile }));

  const group = new ProcessGroup({ workDir, logDir, maxLifetimeSeconds: options.maxLifetimeSeconds ?? 3600 });
  const adminTls = {
    ca: readFileSync(pki.ca.certFile),
    cert: readFileSync(pki.admin.certFile),
    key: readFileSync(pki.admin.keyFile),
  };

  const startEtcd = async (): Promise<void> => {
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    const peerUrl = `http://127.0.0.1:${etcdPeer}`;
    const etcd = group.start('etcd', bin('etcd'), [
      '--name', 'e2e',
      '--data-dir', join(workDir, 'etcd'),
      '--listen-client-urls', etcdUrl, '--advertise-client-urls', etcdUrl,
      '--listen-peer-urls', peerUrl, '--initial-advertise-peer-urls', peerUrl,
      '--initial-cluster', `e2e=${peerUrl}`,
      '--unsafe-no-fsync',
      '--log-level', 'warn',
    ]);
    await waitUntilReady({ name: 'etcd', probe: { url: `${etcdUrl}/health` }, exited: etcd.hasExited, logTail: () => group.logTail('etcd') },
      readyTimeoutMs);
  };

  const startApiserver = async (): Promise<void> => {
    const apiserver = group.start('kube-apiserver', bin('kube-apiserver'), [
      '--etcd-servers', `http://127.0.0.1:${etcdClient}`,
      '--bind-address', '127.0.0.1', '--advertise-address', '127.0.0.1', '--secure-port', String(apiserverPort),
      '--cert-dir', join(workDir, 'apiserver-certs'),
      '--tls-cert-file', pki.apiserver.certFile, '--tls-private-key-file', pki.apiserver.keyFile,
      '--client-ca-file', pki.ca.certFile,
      // The aggregation layer's front proxy, as kubeadm sets it up; without it every component that
      // delegates authentication (kube-controller-manager too) logs a missing requestheader CA.
      '--requestheader-client-ca-file', pki.ca.certFile,
      '--requestheader-allowed-names', 'front-proxy-client',
      '--requestheader-username-headers', 'X-Remote-User',
      '--requestheader-group-headers', 'X-Remote-Group',
      '--requestheader-extra-headers-prefix', 'X-Remote-Extra-',
      '--proxy-client-cert-file', pki.frontProxyClient.certFile, '--proxy-client-key-file', pki.frontProxyClient.keyFile,
      '--authorization-mode', 'Node,RBAC',
      '--enable-admission-plugins',
      'NamespaceLifecycle,ServiceAccount,MutatingAdmissionWebhook,ValidatingAdmissionWebhook,ValidatingAdmissionPolicy',
      '--service-account-issuer', SERVICE_ACCOUNT_ISSUER,
      '--service-account-key-file', pki.serviceAccountPublicKeyFile,
      '--service-account-signing-key-file', pki.serviceAccountKeyFile,
      '--service-cluster-ip-range', options.serviceClusterIpRange ?? SERVICE_CLUSTER_IP_RANGE,
      // Required with a loopback advertise address: the default (lease) reconciler refuses to start
      // ("cannot use public IP 127.0.0.1 with endpoint reconciler"). The webhook is reached by URL anyway.
      '--endpoint-reconciler-type', 'none',
      '--allow-privileged=true',
      '--profiling=false',
      ...(options.extraApiServerArgs ?? []),
    ]);
    await waitUntilReady({ name: 'kube-apiserver', probe: { url: `${server}/readyz`, tls: adminTls }, exited: apiserver.hasExited,
      logTail: () => group.logTail('kube-apiserver') }, readyTimeoutMs);
  };

  const startControllerManager = async (): Promise<void> => {
    const kcm = group.start('kube-controller-manager', bin('kube-controller-manager'), [
      '--kubeconfig', kcmKubeconfigPath,
      '--authentication-kubeconfig', kcmKubeconfigPath, '--authorization-kubeconfig', kcmKubeconfigPath,
      '--bind-address', '127.0.0.1', '--secure-port', String(kcmPort),
      '--tls-cert-file', pki.controllerManagerServing.certFile, '--tls-private-key-file', pki.controllerManagerServing.keyFile,
      '--leader-elect=false',
      '--controllers', '*',
      '--use-service-account-credentials',
      '--service-account-private-key-file', pki.serviceAccountKeyFile,
      '--root-ca-file', pki.ca.certFile,
      '--cluster-signing-cert-file', pki.ca.certFile, '--cluster-signing-key-file', pki.ca.keyFile,
      '--cluster-name', 'e2e',
      '--profiling=false',
      ...(options.extraControllerManagerArgs ?? []),
    ]);
    await waitUntilReady({ name: 'kube-controller-manager', probe: { url: `https://127.0.0.1:${kcmPort}/healthz`, tls: { ca: adminTls.ca } },
      exited: kcm.hasExited, logTail: () => group.logTail('kube-controller-manager') }, readyTimeoutMs);
  };

  try {
    await startEtcd();
    await startApiserver();
    if (options.controllerManager !== false) await startControllerManager();
  } catch (error) {
    await group.stopAll();
    log(`start failed; logs in ${logDir}`);
    if (!keepWorkDir) await rm(workDir, { recursive: true, force: true });
    throw error;
  }
  const startupMs = Date.now() - started;
  log(`kubernetes ${versions.kubernetes} + etcd ${versions.etcd} from ${binDir} ready in ${(startupMs / 1000).toFixed(1)} s: `
    + `apiserver ${server}, etcd 127.0.0.1:${etcdClient}, controller-manager `
    + `${options.controllerManager === false ? 'not started' : `127.0.0.1:${kcmPort}`}; `
    + `kubeconfig ${kubeconfigPath}; logs ${logDir}`);

  let stopped = false;
  const kubectl = (args: readonly string[], opts: KubectlOptions = {}): Promise<KubectlResult> =>
    runKubectl(bin('kubectl'), args, kubeconfigPath, opts);
  const kubectlOk = async (args: readonly string[], opts: KubectlOptions = {}): Promise<string> => {
    const result = await kubectl(args, opts);
    if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${result.code}: ${result.stderr.trim()}`);
    return result.stdout;
  };

  return {
    kubeconfigPath,
    server,
    caFile: pki.ca.certFile,
    caKeyFile: pki.ca.keyFile,
    pki,
    versions,
    ports,
    binDir,
    logDir,
    workDir,
    startupMs,
    kubectl,
    kubectlOk,
    async createServiceAccountToken(namespace, name, opts = {}) {
      const args = ['create', 'token', name, '-n', namespace];
      if (opts.durationSeconds !== undefined) args.push(`--duration=${opts.durationSeconds}s`);
      if (opts.audience !== undefined) args.push(`--audience=${opts.audience}`);
      return (await kubectlOk(args)).trim();
    },
    async writeTokenKubeconfig(name, token) {
      const path = join(workDir, `${name}.kubeconfig`);
      await writeFile(path, kubeconfig(server, pki.ca.certFile, { token }), { mode: 0o600 });
      return path;
    },
    async stopControllerManager() {
      await group.stop('kube-controller-manager');
      log('kube-controller-manager stopped');
    },
    async startControllerManager() {
      await startControllerManager();
      log(`kube-controller-manager started on 127.0.0.1:${kcmPort}`);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await group.stopAll();
      if (!keepWorkDir) await rm(workDir, { recursive: true, force: true });
      log(`stopped; logs kept in ${logDir}${keepWorkDir ? `, work dir kept in ${workDir}` : ''}`);
    },
  };
}
