/**
 * vitest globalSetup of the `hostile` project: builds the bundle the image ships
 * (`npm run build`, dist/) once for every file, unless DP_HOSTILE_DIST names the dist/
 * directory of another build (e.g. an older commit's, to see these tests fail there).
 */
import { execFile } from 'node:child_process';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';

const run = promisify(execFile);
const REPO = new URL('../../', import.meta.url).pathname;

export default async function setup(project: TestProject): Promise<void> {
  const given = process.env['DP_HOSTILE_DIST'];
  let dist = join(REPO, 'dist');
  if (given === undefined || given === '') {
    await run('npm', ['run', 'build', '--silent'], { cwd: REPO });
  } else {
    dist = given;
  }
  await access(join(dist, 'main.js'));
  project.provide('hostileDist', dist);
}
