/**
 * Vitest globalSetup for the e2e project: builds (or finds cached) control-plane
 * binaries with build-binaries.sh before any test file starts a cluster, reads
 * their versions from the binaries and provides both as `inject('kube')`.
 * `DP_E2E_KUBE=1.30` picks the Kubernetes minor (default: the newest);
 * `DP_E2E_BIN_DIR` uses binaries built elsewhere instead. The build's progress
 * goes to stderr; the one-time build takes many minutes on 2 cores.
 */
import { spawn } from 'node:child_process';
import type { TestProject } from 'vitest/node';
import { BUILD_SCRIPT, readBinaries } from './binaries.js';

function runBuildScript(): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [BUILD_SCRIPT], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk; });
    child.once('error', reject);
    child.once('close', (code) => {
      if (code === 0) resolve(stdout.trim().split('\n').at(-1) ?? '');
      else reject(new Error(`${BUILD_SCRIPT} exited with ${code ?? 'a signal'}`));
    });
  });
}

export default async function setup(project: TestProject): Promise<void> {
  const started = Date.now();
  const wanted = process.env['DP_E2E_KUBE'] ?? '';
  const binDir = process.env['DP_E2E_BIN_DIR'] || await runBuildScript();
  const kube = await readBinaries(binDir);
  if (wanted !== '' && wanted !== `1.${kube.minor}`) {
    throw new Error(`DP_E2E_KUBE=${wanted}, but the binaries in ${binDir} are Kubernetes ${kube.kubernetes}`);
  }
  project.provide('kube', kube);
  process.stderr.write(`[e2e] Kubernetes ${kube.kubernetes}, etcd ${kube.etcd} ready in ${((Date.now() - started) / 1000).toFixed(1)} s: `
    + `${binDir}\n`);
}
