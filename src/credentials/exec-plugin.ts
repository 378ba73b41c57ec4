/**
 * Runs a credential program (a `docker-credential-*` helper, a kubelet exec
 * plugin): one request on stdin, one answer on stdout, bounded in time and size.
 * On timeout or abort the whole process group is killed, so a shell script's
 * children (a `sleep`) cannot hold the pipes open.
 */
import { spawn } from 'node:child_process';
import { DigestPinnerError, describeError, errorCode } from '../errors.js';
import { truncate } from '../text.js';

/** One run of a credential program. */
export interface PluginRun {
  /** Path of the executable (absolute, or a name searched on `env.PATH`). */
  readonly file: string;
  readonly args: readonly string[];
  /** The whole environment of the program. */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdin: string;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
}

/** What the program said; `code` is its exit status (null when killed by a signal). */
export interface PluginResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A credential program that could not be run to its end: missing, too slow, too talkative. The message never holds its output. */
export class CredentialProgramError extends DigestPinnerError {
  readonly code = 'DP_ERR_CREDENTIAL_PROGRAM';
}

/** Most output read from a credential program (a credential is a few KiB at most). */
export const PLUGIN_OUTPUT_LIMIT = 1024 * 1024;
const MAX_DETAIL = 200;

/** Runs `run.file`, writes `run.stdin`, and resolves with its exit status and output once it exits. */
export function runPlugin(run: PluginRun): Promise<PluginResult> {
  return new Promise<PluginResult>((resolve, reject) => {
    if (run.signal?.aborted === true) {
      reject(new CredentialProgramError(`${run.file}: aborted before it started`));
      return;
    }
    const child = spawn(run.file, [...run.args], { env: definedEnv(run.env), stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (outcome: { result: PluginResult } | { error: CredentialProgramError }): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      run.signal?.removeEventListener('abort', onAbort);
      if ('error' in outcome) {
        killGroup(child.pid);
        child.stdout.destroy();
        child.stderr.destroy();
        reject(outcome.error);
      } else {
        resolve(outcome.result);
      }
    };
    const onAbort = (): void => {
      finish({ error: new CredentialProgramError(`${run.file}: aborted (${describeError(run.signal?.reason)})`) });
    };
    const timer = setTimeout(() => {
      finish({ error: new CredentialProgramError(`${run.file}: no answer within ${run.timeoutMs} ms (killed)`) });
    }, run.timeoutMs);
    run.signal?.addEventListener('abort', onAbort, { once: true });
    const collect = (into: Buffer[]) => (chunk: Buffer): void => {
      size += chunk.length;
      if (size > PLUGIN_OUTPUT_LIMIT) finish({ error: new CredentialProgramError(`${run.file}: wrote more than ${PLUGIN_OUTPUT_LIMIT} bytes (killed)`) });
      else into.push(chunk);
    };
    child.stdout.on('data', collect(stdout));
    child.stderr.on('data', collect(stderr));
    child.on('error', (error) => {
      finish({ error: new CredentialProgramError(`${run.file}: cannot be run (${errorCode(error) ?? error.message})`, { cause: error }) });
    });
    child.on('close', (code) => {
      finish({ result: { code, stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8') } });
    });
    // A program that exits without reading stdin makes the write fail with EPIPE: its exit status tells the story.
    child.stdin.on('error', () => undefined);
    child.stdin.end(run.stdin);
  });
}

/**
 * `: ` and the first line of a program's stderr, shortened, or nothing when it wrote none:
 * helpers and plugins explain failures there (never their secret).
 */
export function firstLineOf(stderr: string): string {
  const line = stderr.trim().split('\n')[0]?.trim() ?? '';
  return line === '' ? '' : `: ${truncate(line, MAX_DETAIL)}`;
}

function definedEnv(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const defined: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (value !== undefined) defined[name] = value;
  return defined;
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}
