/**
 * Makes sure the programs the harness drives are installed: Debian's
 * `docker-registry` (CNCF Distribution) and `skopeo`, `squid` (the egress proxy of
 * the proxy tests), plus `openssl` (PKI) and `perl` (bcrypt through libxcrypt's
 * crypt(3), for htpasswd). As root, missing packages are installed with apt-get;
 * otherwise setup fails at once with the one command to run.
 */
import { onPath, run } from './exec.js';

/** Program on PATH → the Debian package that ships it. */
const REQUIRED_TOOLS: ReadonlyMap<string, string> = new Map([
  ['docker-registry', 'docker-registry'],
  ['skopeo', 'skopeo'],
  ['squid', 'squid'],
  ['openssl', 'openssl'],
  ['perl', 'perl-base'],
]);

const APT_TIMEOUT_MS = 10 * 60_000;

/** The harness cannot run: a tool is missing and this process may not install it. */
export class MissingToolsError extends Error {
  override readonly name = 'MissingToolsError';
}

async function missingPackages(): Promise<string[]> {
  const missing: string[] = [];
  for (const [tool, pkg] of REQUIRED_TOOLS) {
    if (!(await onPath(tool))) missing.push(pkg);
  }
  return missing;
}

/** Installs (as root) or reports the Debian packages the registry harness needs. */
export async function ensureTools(): Promise<void> {
  const missing = await missingPackages();
  if (missing.length === 0) return;

  const install = `apt-get update && apt-get install -y ${missing.join(' ')}`;
  if (process.getuid?.() !== 0) {
    throw new MissingToolsError(`the registry test harness needs ${missing.join(', ')}; run: sudo sh -c '${install}'`);
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await run('apt-get', ['update'], { env, timeoutMs: APT_TIMEOUT_MS });
  await run('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { env, timeoutMs: APT_TIMEOUT_MS });
  const still = await missingPackages();
  if (still.length > 0) throw new MissingToolsError(`installed ${missing.join(', ')} but ${still.join(', ')} is still not on PATH`);
}
