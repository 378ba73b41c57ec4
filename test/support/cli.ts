/** Runs the CLI in-process with captured output, as every CLI test does. */
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { runCli } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/io.js';

export interface Run {
  readonly code: number | undefined;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly cwd: string;
  readonly stdin?: string;
  /** Make stderr look like a terminal (progress bar). */
  readonly tty?: boolean;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Default `<cwd>/home`. */
  readonly homeDir?: string;
}

/** Captured stdout/stderr and the CliIo writing to them. */
export function captureIo(options: RunOptions): { io: CliIo; out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = Object.assign(new PassThrough(), { isTTY: options.tty === true });
  const stdin = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  stdin.end(options.stdin ?? '');
  const io: CliIo = { stdout, stderr, stdin, env: options.env ?? {}, cwd: options.cwd, homeDir: options.homeDir ?? join(options.cwd, 'home'), version: 'test' };
  return { io, out: () => out, err: () => err };
}

/** Runs `digest-pinner ARGS` in-process with captured output. */
export async function runCommand(args: readonly string[], options: RunOptions): Promise<Run> {
  const { io, out, err } = captureIo(options);
  const code = await runCli(args, io);
  return { code, stdout: out(), stderr: err() };
}
