/**
 * The webhook's log: pino's JSON lines, with string levels (`"level":"info"`) and ISO
 * timestamps so log queries on `level` and `time` work, written through pino's own
 * destination (sonic-boom), which buffers lines and writes them in batches.
 */
import { pino, type Logger } from 'pino';

/** Where log lines go: pino's destination (sonic-boom) on a file descriptor or a file. */
export type LogDestination = ReturnType<typeof pino.destination>;

/** The levels `--log-level` takes, most severe first. */
export const LOG_LEVELS: readonly string[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Bytes pending before a write, and the longest a line waits before it is written (ms). */
const BUFFERING = { minLength: 4096, periodicFlush: 250 } as const;

/** A buffered destination on `fd` (main.ts: stdout); pino writes what is pending when the process exits. */
export function bufferedDestination(fd: number): LogDestination {
  return pino.destination({ dest: fd, ...BUFFERING, sync: false });
}

/** The logger every line of `serve` goes through (and the warm-up's, which drops them). */
export function webhookLogger(level: string, destination: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'digest-pinner' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

/** Writes every pending line and waits until it is written (on shutdown). */
export function flushLog(destination: LogDestination): Promise<void> {
  return new Promise((resolve, reject) => {
    // sonic-boom fsyncs once all is written, which a pipe or a terminal (stdout in a
    // container) refuses with EINVAL; it calls back with null when all went well.
    destination.flush((error?: Error | null) => {
      if (error instanceof Error && (error as NodeJS.ErrnoException).code !== 'EINVAL') reject(error);
      else resolve();
    });
  });
}
