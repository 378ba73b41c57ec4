/** Runs the CLI in-process with captured output, as every CLI test does. */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { runCli } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/io.js';
import { testLog, type TestLog } from './log.js';

export interface Run {
  readonly code: number | undefined;
  readonly stdout: string;
  readonly stderr: string;
  /** serve's log lines; undefined for other commands (serve alone logs). */
  readonly log: Record<string, unknown>[] | undefined;
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

/** Captured stdout/stderr and serve's log (a file in `cwd`, made when serve asks for it), and the CliIo writing to them. */
export function captureIo(options: RunOptions): { io: CliIo; out: () => string; err: () => string; log: () => TestLog | undefined } {
  const stdout = new PassThrough();
  const stderr = Object.assign(new PassThrough(), { isTTY: options.tty === true });
  const stdin = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  stdin.end(options.stdin ?? '');
  let log: TestLog | undefined;
  const logDestination = () => (log ??= testLog(join(options.cwd, `serve-${randomUUID()}.log`))).destination;
  const io: CliIo = { stdout, stderr, stdin, env: options.env ?? {}, cwd: options.cwd, homeDir: options.homeDir ?? join(options.cwd, 'home'), version: 'test', logDestination };
  return { io, out: () => out, err: () => err, log: () => log };
}

/** Runs `digest-pinner ARGS` in-process with captured output. */
export async function runCommand(args: readonly string[], options: RunOptions): Promise<Run> {
  const { io, out, err, log } = captureIo(options);
  const code = await runCli(args, io);
  return { code, stdout: out(), stderr: err(), log: log()?.lines() };
}
