/**
 * Helm, the real program: scripts/build-helm.sh builds the pinned Helm 4 and
 * Helm 3 from the Go module proxy into ~/.cache/digest-pinner/helm (once; a
 * no-op after that), and `runHelm` runs one with its own config and cache
 * folders, never the user's.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_DIR = fileURLToPath(new URL('../../', import.meta.url));
export const CHART_DIR = join(REPO_DIR, 'charts/digest-pinner');
const BUILD_SCRIPT = join(REPO_DIR, 'scripts/build-helm.sh');
/** The first build compiles Helm from source: minutes on a loaded 2-core machine. */
export const HELM_BUILD_TIMEOUT_MS = 30 * 60_000;

export type HelmMajor = 3 | 4;

export interface HelmResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function exec(file: string, args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<HelmResult> {
  return new Promise((resolve) => {
    execFile(file, args, { env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr: stderr || (error?.message ?? '') });
    });
  });
}

/** The path of the pinned Helm `major`, built first when it is not cached. */
export async function helmBinary(major: HelmMajor): Promise<string> {
  const result = await exec('bash', [BUILD_SCRIPT, String(major)], process.env, HELM_BUILD_TIMEOUT_MS);
  const path = result.stdout.trim().split('\n').at(-1) ?? '';
  if (result.code !== 0 || path === '') throw new Error(`${BUILD_SCRIPT} ${major} exited ${result.code}:\n${result.stderr}`);
  return path;
}

// Helm writes its repository cache and registry config under these; keep them out of $HOME.
const HELM_HOME = mkdtempSync(join(tmpdir(), 'digest-pinner-helm-home-'));
process.once('exit', () => {
  rmSync(HELM_HOME, { recursive: true, force: true });
});
/** Helm's cache, config and data folders, for a `helm` run some other way (a shell script). */
export const HELM_FOLDERS: Readonly<Record<string, string>> = {
  HELM_CACHE_HOME: join(HELM_HOME, 'cache'),
  HELM_CONFIG_HOME: join(HELM_HOME, 'config'),
  HELM_DATA_HOME: join(HELM_HOME, 'data'),
};
const HELM_ENV: NodeJS.ProcessEnv = { ...process.env, ...HELM_FOLDERS, KUBECONFIG: '' };

/** Runs `helm args…`; resolves with the exit code and output, whatever the code. */
export function runHelm(binary: string, args: readonly string[], timeoutMs = 120_000): Promise<HelmResult> {
  return exec(binary, args, HELM_ENV, timeoutMs);
}

/** Helm against one cluster: `binaries` maps each major to its path (helmBinary), filled before the first call. */
export function helmCommands(binaries: ReadonlyMap<HelmMajor, string>, kubeconfigPath: () => string): {
  helm: (major: HelmMajor, args: readonly string[]) => Promise<HelmResult>;
  helmOk: (major: HelmMajor, args: readonly string[]) => Promise<string>;
} {
  const helm = (major: HelmMajor, args: readonly string[]): Promise<HelmResult> => {
    const binary = binaries.get(major);
    if (binary === undefined) throw new Error(`helm ${major} not built`);
    return runHelm(binary, [...args, '--kubeconfig', kubeconfigPath()]);
  };
  const helmOk = async (major: HelmMajor, args: readonly string[]): Promise<string> => {
    const result = await helm(major, args);
    if (result.code !== 0) throw new Error(`helm ${major} ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
    return result.stdout;
  };
  return { helm, helmOk };
}
