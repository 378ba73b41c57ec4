/** Serving certificate loading, and reloading when a renewed certificate lands on disk. */
import { readFileSync, watchFile, unwatchFile } from 'node:fs';
import { DigestPinnerError, errorCode } from '../errors.js';

export class TlsFilesError extends DigestPinnerError {
  readonly code = 'DP_ERR_TLS_FILES';
}

export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

/** Reads the certificate and key; throws TlsFilesError naming the file that failed. */
export function readTlsFiles(files: TlsFiles): { cert: Buffer; key: Buffer } {
  const read = (file: string, what: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new TlsFilesError(`cannot read TLS ${what} ${file}: ${errorCode(error) ?? 'error'}`, { cause: error });
    }
  };
  return { cert: read(files.certFile, 'certificate'), key: read(files.keyFile, 'key') };
}

/**
 * Polls the files (a mounted Secret is swapped by symlink, which fs.watch misses) and calls
 * `apply` with the new pair; a half-written pair that fails to load is retried next poll.
 */
export function watchTlsFiles(files: TlsFiles, apply: (pair: ReturnType<typeof readTlsFiles>) => void, onError: (error: unknown) => void, intervalMs = 10_000): () => void {
  const reload = (): void => {
    try {
      apply(readTlsFiles(files));
    } catch (error) {
      onError(error);
    }
  };
  watchFile(files.certFile, { interval: intervalMs }, reload);
  watchFile(files.keyFile, { interval: intervalMs }, reload);
  return () => {
    unwatchFile(files.certFile, reload);
    unwatchFile(files.keyFile, reload);
  };
}
