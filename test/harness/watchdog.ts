/**
 * Cleans up if the vitest process dies without running teardown (SIGKILL,
 * crash). Node cannot set PR_SET_PDEATHSIG, so a tiny `sh` reads pids from a
 * pipe we hold: when we die the pipe closes, and it kills those pids and
 * removes the work dir. A synchronous 'exit' handler covers process.exit().
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { Socket } from 'node:net';

export interface Watchdog {
  /** Kill `pid` if we die. */
  watch(pid: number): void;
  /** Stops watching; call at the start of an orderly teardown. */
  disarm(): void;
}

/** `read` is a builtin, so killing this one `sh` on disarm leaves nothing behind. */
const WATCH_SCRIPT = 'dir=$1; pids=; while read -r pid; do pids="$pids $pid"; done; kill -9 $pids 2>/dev/null; rm -rf -- "$dir"';

/** Arms a watchdog that removes `workDir` and kills every watched pid when this process dies. */
export function armWatchdog(workDir: string): Watchdog {
  const pids: number[] = [];
  const child = spawn('sh', ['-c', WATCH_SCRIPT, 'watchdog', workDir], { stdio: ['pipe', 'ignore', 'ignore'] });
  child.unref();
  child.stdin.on('error', () => undefined);
  // An unref'd pipe lets vitest exit normally; the pipe still closes then.
  if (child.stdin instanceof Socket) child.stdin.unref();
  const onExit = (): void => {
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(workDir, { recursive: true, force: true });
  };
  process.once('exit', onExit);
  return {
    watch(pid) {
      pids.push(pid);
      child.stdin.write(`${pid}\n`);
    },
    disarm() {
      process.off('exit', onExit);
      child.kill('SIGKILL');
    },
  };
}
