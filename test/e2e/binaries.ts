/**
 * The control-plane binaries the e2e tests run. build-binaries.sh builds them
 * for one Kubernetes minor (`DP_E2E_KUBE`, default the newest); the e2e global
 * setup reads their versions from the binaries themselves, not from go.mod, and
 * provides them to the tests as `inject('kube')`.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export interface KubeVersions {
  /** What kube-apiserver --version says, e.g. `v1.30.14`. */
  readonly kubernetes: string;
  /** Its minor, e.g. 30. */
  readonly minor: number;
  /** What etcd --version says, e.g. `v3.7.3`. */
  readonly etcd: string;
}

export interface KubeBinaries extends KubeVersions {
  /** Holds etcd, kube-apiserver, kube-controller-manager and kubectl. */
  readonly binDir: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    kube: KubeBinaries;
  }
}

export const E2E_DIR = fileURLToPath(new URL('.', import.meta.url));
export const BUILD_SCRIPT = join(E2E_DIR, 'build-binaries.sh');

export const BINARIES = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kubectl'] as const;

/** `Kubernetes v1.30.14` (kube-apiserver, kube-controller-manager) or `Client Version: v1.30.14` (kubectl). */
const KUBERNETES_VERSION = /^(?:Kubernetes|Client Version:) (v1\.(\d+)\.\d+\S*)$/m;
/** `etcd Version: 3.7.3` */
const ETCD_VERSION = /^etcd Version: (\d+\.\d+\.\d+\S*)$/m;

const run = promisify(execFile);

async function versionOutput(binDir: string, name: (typeof BINARIES)[number], args: readonly string[]): Promise<string> {
  try {
    return (await run(join(binDir, name), args, { timeout: 30_000 })).stdout;
  } catch (error) {
    throw new Error(`cannot run ${join(binDir, name)} ${args.join(' ')}: run 'bash test/e2e/build-binaries.sh' first`
      + ' (or set DP_E2E_BIN_DIR)', { cause: error });
  }
}

function kubernetesVersion(name: string, output: string): { version: string; minor: number } {
  const match = KUBERNETES_VERSION.exec(output);
  if (!match?.[1] || !match[2]) throw new Error(`${name} printed no Kubernetes version: ${output.trim().slice(0, 200)}`);
  return { version: match[1], minor: Number(match[2]) };
}

/** Asks each binary in `binDir` its version; the three Kubernetes binaries must be one release. */
export async function readBinaries(binDir: string): Promise<KubeBinaries> {
  const [apiserver, controllerManager, kubectl, etcd] = await Promise.all([
    versionOutput(binDir, 'kube-apiserver', ['--version']),
    versionOutput(binDir, 'kube-controller-manager', ['--version']),
    versionOutput(binDir, 'kubectl', ['version', '--client']),
    versionOutput(binDir, 'etcd', ['--version']),
  ]);
  const kubernetes = kubernetesVersion('kube-apiserver', apiserver);
  const others = { 'kube-controller-manager': kubernetesVersion('kube-controller-manager', controllerManager).version,
    kubectl: kubernetesVersion('kubectl', kubectl).version };
  for (const [name, version] of Object.entries(others)) {
    if (version !== kubernetes.version) throw new Error(`${binDir} mixes releases: kube-apiserver ${kubernetes.version}, ${name} ${version}`);
  }
  const etcdVersion = ETCD_VERSION.exec(etcd)?.[1];
  if (!etcdVersion) throw new Error(`etcd printed no version: ${etcd.trim().slice(0, 200)}`);
  return { binDir, kubernetes: kubernetes.version, minor: kubernetes.minor, etcd: `v${etcdVersion}` };
}
