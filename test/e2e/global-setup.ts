/**
 * Vitest globalSetup for the e2e project: builds (or finds cached) control-plane
 * binaries with build-binaries.sh before any test file starts a cluster. Its
 * progress goes to stderr; the one-time build takes many minutes on 2 cores.
 */
import { spawn } from 'node:child_process';
import { BUILD_SCRIPT } from './binaries.js';

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

export default async function setup(): Promise<void> {
  const started = Date.now();
  const binDir = await runBuildScript();
  process.stderr.write(`[e2e] control-plane binaries ready in ${((Date.now() - started) / 1000).toFixed(1)} s: ${binDir}\n`);
}
