/**
 * What a user meets first: the version, help and usage errors of every command. Nothing here
 * reaches a registry: each command line is refused, or answered, before anything is resolved.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { USAGE } from '../../src/cli/main.js';
import { runCommand, type Run } from '../support/cli.js';

let workDir: string;
beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'dp-cli-main-'));
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

const run = (args: readonly string[], stdin?: string): Promise<Run> => runCommand(args, { cwd: workDir, stdin });

const COMMANDS = ['serve', 'resolve', 'certs', 'pin', 'check', 'imageset', 'krm', 'audit'] as const;
const REGISTRY_FLAGS = ['--config', '--docker-config', '--ca-file', '--insecure-registry', '--registry-timeout', '--image-credential-provider-config'];

describe('version', () => {
  it.each([[['--version']], [['version']]])('%j prints the version on stdout and exits 0', async (args) => {
    expect(await run(args)).toEqual({ code: 0, stdout: 'digest-pinner test\n', stderr: '', log: undefined });
  });

  it('takes no arguments', async () => {
    expect(await run(['version', 'extra'])).toEqual({
      code: 2,
      stdout: '',
      stderr: 'digest-pinner: version takes no arguments, got "extra" (see digest-pinner --help)\n',
      log: undefined,
    });
  });

  it('lists itself in the usage', () => {
    expect(USAGE).toMatch(/^ {2}version {4}print the version \(also --version\)$/m);
  });
});

describe('help and usage', () => {
  it.each([[['--help']], [['-h']], [['help']]])('%j prints the usage on stdout and exits 0', async (args) => {
    expect(await run(args)).toEqual({ code: 0, stdout: `${USAGE}\n`, stderr: '', log: undefined });
  });

  it('without a command prints the usage on stderr, nothing on stdout, and exits 2', async () => {
    expect(await run([])).toEqual({ code: 2, stdout: '', stderr: `${USAGE}\n`, log: undefined });
  });

  it('an unknown command exits 2 pointing at the usage', async () => {
    expect(await run(['frobnicate'])).toEqual({ code: 2, stdout: '', stderr: 'digest-pinner: unknown command "frobnicate" (see digest-pinner --help)\n', log: undefined });
  });

  it.each(COMMANDS)('%s --help prints its usage on stdout and exits 0', async (command) => {
    const result = await run([command, '--help']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(new RegExp(`^Usage: digest-pinner ${command} `));
  });
});

describe('usage errors: stderr, exit 2, and where to read the flags', () => {
  it.each(COMMANDS)('%s answers an unknown flag with its own --help', async (command) => {
    expect(await run([command, '--bogus', 'x'])).toEqual({
      code: 2,
      stdout: '',
      stderr: `digest-pinner: unknown flag --bogus (see digest-pinner ${command} --help)\n`,
      log: undefined,
    });
  });

  it.each([
    [['resolve', '-x', 'nginx'], 'unknown flag -x (see digest-pinner resolve --help)'],
    [['resolve', '--output'], '--output needs a value (see digest-pinner resolve --help)'],
    [['resolve', '--output', '--drop-tag', 'nginx'], '--output needs a value (for one starting with -, write --output=--drop-tag) (see digest-pinner resolve --help)'],
    [['pin', '--write=yes', 'a.yaml'], '--write takes no value (see digest-pinner pin --help)'],
    [['certs', 'extra'], 'unexpected argument "extra": this command takes flags only (see digest-pinner certs --help)'],
    [['serve', 'extra'], 'unexpected argument "extra": this command takes flags only (see digest-pinner serve --help)'],
    [['resolve'], 'resolve needs at least one image reference (see digest-pinner resolve --help)'],
    [['resolve', '--output', 'yaml', 'x'], '--output "yaml" must be text or json (see digest-pinner resolve --help)'],
    [['resolve', '--concurrency', '0', 'x'], '--concurrency must be a positive whole number (see digest-pinner resolve --help)'],
    [['resolve', '--insecure-registry', 'http://x', 'x'], '--insecure-registry "http://x" must be HOST or HOST:PORT, without a scheme or path (see digest-pinner resolve --help)'],
    [['serve', '--cache-ttl', 'soon'], '--cache-ttl "soon" is not a duration (examples: 30s, 5m, 1h, or seconds) (see digest-pinner serve --help)'],
    [['serve', '--max-connections', '0'], '--max-connections must be a positive whole number (see digest-pinner serve --help)'],
    [['audit', '--output', 'yaml'], '--output "yaml" must be text, json or sarif (see digest-pinner audit --help)'],
    [['audit', 'extra'], 'unexpected argument "extra": this command takes flags only (see digest-pinner audit --help)'],
    [['audit', '--ledger-namespace', ''], '--ledger-namespace needs a namespace name (see digest-pinner audit --help)'],
    [['audit'], 'audit needs a cluster: pass --kubeconfig FILE, set KUBECONFIG, or run in a cluster (see digest-pinner audit --help)'],
  ])('%j', async (args, message) => {
    expect(await run(args)).toMatchObject({ code: 2, stdout: '', stderr: `digest-pinner: ${message}\n` });
  });
});

describe('each command takes the flags it uses', () => {
  it('check needs no registry: its usage lists no registry flag, and it refuses them', async () => {
    const help = (await run(['check', '--help'])).stdout;
    for (const flag of [...REGISTRY_FLAGS, '--drop-tag', '--cache-ttl']) expect(help).not.toContain(flag);
    const result = await run(['check', '--ca-file', 'ca.pem', '-'], 'apiVersion: v1\nkind: Pod\n');
    expect(result).toMatchObject({ code: 2, stderr: 'digest-pinner: unknown flag --ca-file (see digest-pinner check --help)\n' });
  });

  it('--cache-ttl is serve\'s alone: only its cache outlives the run', async () => {
    expect((await run(['serve', '--help'])).stdout).toMatch(/^ {2}--cache-ttl DUR +how long a resolved digest is reused \(default 15m\)$/m);
    for (const command of ['resolve', 'pin', 'imageset', 'krm']) {
      expect((await run([command, '--help'])).stdout).not.toContain('--cache-ttl');
      expect((await run([command, '--cache-ttl', '1m', 'x'])).stderr).toBe(`digest-pinner: unknown flag --cache-ttl (see digest-pinner ${command} --help)\n`);
    }
  });

  it('imageset takes no --drop-tag (its entries keep image and digest apart)', async () => {
    expect((await run(['imageset', '--help'])).stdout).not.toContain('--drop-tag');
    expect((await run(['imageset', '--name', 'x', '--drop-tag', 'nginx:1'])).stderr).toBe('digest-pinner: unknown flag --drop-tag (see digest-pinner imageset --help)\n');
  });

  it.each(['serve', 'resolve', 'pin', 'imageset', 'krm', 'audit'])('%s lists every registry flag it takes', async (command) => {
    const help = (await run([command, '--help'])).stdout;
    for (const flag of REGISTRY_FLAGS) expect(help).toContain(`  ${flag} `);
  });
});
