/** Runs the command-line tools the harness drives (openssl, skopeo, perl, apt-get). */
import { execFile } from 'node:child_process';

/** A harness command that exited non-zero or could not start; the message carries its stderr. */
export class HarnessCommandError extends Error {
  override readonly name = 'HarnessCommandError';

  constructor(
    readonly command: string,
    readonly stderr: string,
    options?: { cause?: unknown },
  ) {
    super(`harness command failed: ${command}\n${stderr.trim()}`, options);
  }
}

export interface RunOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  readonly timeoutMs?: number;
}

/** Runs `file args…` without a shell and resolves with its stdout. */
export function run(file: string, args: readonly string[], options: RunOptions = {}): Promise<string> {
  const command = [file, ...args].join(' ');
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { env: options.env ?? process.env, cwd: options.cwd, timeout: options.timeoutMs ?? 60_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) reject(new HarnessCommandError(command, stderr || error.message, { cause: error }));
        else resolve(stdout);
      },
    );
  });
}

/** True when `name` resolves to an executable on PATH. */
export async function onPath(name: string): Promise<boolean> {
  try {
    await run('sh', ['-c', 'command -v "$1"', 'sh', name]);
    return true;
  } catch {
    return false;
  }
}
