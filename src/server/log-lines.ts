/**
 * The webhook's log output: pino's JSON lines, written in batches. One line per
 * admission written on its own costs a write(2) per review (on stdout, a pipe to
 * the container runtime, those writes are synchronous), about as much CPU as the
 * rest of a warm admission; batched, a burst of reviews costs one.
 */

/** Where batches go: `process.stdout`, or a test's stream. */
export interface LineSink {
  write(chunk: string): unknown;
}

export interface BatchOptions {
  /** Longest a line waits before it is written, in ms. */
  readonly maxDelayMs: number;
  /** A batch this large is written at once. */
  readonly maxBytes: number;
}

export const DEFAULT_BATCH: BatchOptions = { maxDelayMs: 50, maxBytes: 64 * 1024 };

/** A pino destination that writes lines in batches; `flush()` before the process exits. */
export class BatchedLines {
  readonly #sink: LineSink;
  readonly #options: BatchOptions;
  #pending: string[] = [];
  #bytes = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(sink: LineSink, options: BatchOptions = DEFAULT_BATCH) {
    this.#sink = sink;
    this.#options = options;
  }

  write(line: string): void {
    this.#pending.push(line);
    this.#bytes += line.length;
    if (this.#bytes >= this.#options.maxBytes) this.flush();
    // Not unref'd: a line logged just before the process would otherwise exit still gets out.
    else this.#timer ??= setTimeout(() => { this.flush(); }, this.#options.maxDelayMs);
  }

  /** Writes what is pending, now. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.length === 0) return;
    const batch = this.#pending.join('');
    this.#pending = [];
    this.#bytes = 0;
    this.#sink.write(batch);
  }
}
