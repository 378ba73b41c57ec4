/**
 * Where build-binaries.sh puts the control-plane binaries, computed the same way
 * it does: from the versions pinned in harness/{kube,etcd}/go.mod.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface PinnedVersions {
  /** e.g. `v1.37.2` */
  readonly kubernetes: string;
  /** e.g. `v3.7.3` */
  readonly etcd: string;
}

export const E2E_DIR = fileURLToPath(new URL('.', import.meta.url));
export const BUILD_SCRIPT = join(E2E_DIR, 'build-binaries.sh');

export const BINARIES = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kubectl'] as const;

function requiredVersion(goModPath: string, module: string): string {
  const text = readFileSync(goModPath, 'utf8');
  const escaped = module.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const match = new RegExp(`^require\\s+${escaped}\\s+(v\\S+)`, 'm').exec(text);
  if (!match?.[1]) throw new Error(`${goModPath} has no 'require ${module} vX.Y.Z' line`);
  return match[1];
}

/** The Kubernetes and etcd versions the harness modules pin. */
export function pinnedVersions(): PinnedVersions {
  return {
    kubernetes: requiredVersion(join(E2E_DIR, 'harness/kube/go.mod'), 'k8s.io/kubernetes'),
    etcd: requiredVersion(join(E2E_DIR, 'harness/etcd/go.mod'), 'go.etcd.io/etcd/server/v3'),
  };
}

/** `$DP_E2E_BIN_DIR`, or the cache directory build-binaries.sh builds into. */
export function defaultBinDir(versions: PinnedVersions = pinnedVersions()): string {
  const fromEnv = process.env['DP_E2E_BIN_DIR'];
  if (fromEnv) return fromEnv;
  const cacheRoot = process.env['DP_E2E_CACHE'] ?? join(homedir(), '.cache/digest-pinner/e2e');
  return join(cacheRoot, `${versions.kubernetes}-${versions.etcd}`, 'bin');
}
