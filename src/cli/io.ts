/** What a command may touch of the outside world, passed in so tests run commands in-process. */
import type { LogDestination } from '../server/log.js';

export interface CliIo {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream;
  readonly stdin: NodeJS.ReadableStream;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly homeDir: string;
  readonly version: string;
  /** Where `serve` writes its log lines, made when it starts: stdout in main.ts, a file in tests. */
  readonly logDestination: () => LogDestination;
}

export function writeLine(stream: NodeJS.WritableStream, line: string): void {
  stream.write(`${line}\n`);
}

/** All of stdin, as UTF-8 text. */
export async function readStdin(io: Pick<CliIo, 'stdin'>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of io.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}
