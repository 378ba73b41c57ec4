/**
 * The credential programs in test/fixtures/credential-helpers/, made executable, and a counter
 * of their runs; docker config `auths` entries as docker and kubelet write them.
 */
import { chmod, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURE_DIR = fileURLToPath(new URL('../fixtures/credential-helpers/', import.meta.url));

/** chmod +x every fixture (git may not keep the mode; a tarball surely won't). */
export async function makeExecutable(): Promise<void> {
  for (const name of await readdir(FIXTURE_DIR)) await chmod(join(FIXTURE_DIR, name), 0o755);
}

/** PATH with the fixtures first, so `docker-credential-test` is found as docker would find it. */
export const PATH_WITH_FIXTURES = `${FIXTURE_DIR}:${process.env['PATH'] ?? '/usr/bin:/bin'}`;

/** How many runs a fixture recorded in its count file (0 when it never ran). */
export async function runs(countFile: string): Promise<number> {
  try {
    return (await readFile(countFile, 'utf8')).split('\n').filter((line) => line !== '').length;
  } catch {
    return 0;
  }
}

/** `text` in standard base64, as docker config `auth` fields and Secret data hold it. */
export const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

/** `auths` entry for user `user` with password `pw-<user>`. */
export const auth = (user: string): { auth: string } => ({ auth: b64(`${user}:pw-${user}`) });
