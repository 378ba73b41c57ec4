/**
 * Child processes of a test control plane: each one logs to its own file, is
 * stopped with SIGTERM then SIGKILL, and none outlives the test process. Besides
 * an `exit` hook (which cannot run when the test process is SIGKILLed), a
 * detached watchdog shell kills whatever is listed in the pid file once the test
 * process is gone or the maximum lifetime has passed, then deletes the work dir.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Runs detached from the test process: $1 parent pid, $2 pid file, $3 lifetime (s), $4 dir to delete. */
const WATCHDOG_SCRIPT = `
parent=$1; pidfile=$2; deadline=$(( $(date +%s) + $3 )); workdir=$4
while kill -0 "$parent" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ] && [ -e "$pidfile" ]; do sleep 1; done
[ -e "$pidfile" ] || exit 0
pids=$(cat "$pidfile")
if [ -n "$pids" ]; then kill -TERM $pids 2>/dev/null; sleep 3; kill -KILL $pids 2>/dev/null; fi
rm -rf "$workdir"
`;

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** Resolves with the exit code (or the signal's name) when the process has exited. */
  readonly exited: Promise<number | string>;
  readonly hasExited: () => boolean;
}

export interface ProcessGroupOptions {
  readonly workDir: string;
  readonly logDir: string;
  /** The watchdog stops everything after this long even if the test process lives on. */
  readonly maxLifetimeSeconds: number;
}

interface Running {
  readonly info: ManagedProcess;
  readonly child: ChildProcess;
}

export class ProcessGroup {
  private readonly running = new Map<string, Running>();
  private readonly pidFile: string;
  private readonly watchdog: ChildProcess;
  private readonly onExit = (): void => {
    for (const { child } of this.running.values()) child.kill('SIGKILL');
  };

  constructor(private readonly options: ProcessGroupOptions) {
    this.pidFile = join(options.workDir, 'pids');
    writeFileSync(this.pidFile, '');
    this.watchdog = spawn('bash', ['-c', WATCHDOG_SCRIPT, 'watchdog', String(process.pid), this.pidFile,
      String(options.maxLifetimeSeconds), options.workDir], { detached: true, stdio: 'ignore' });
    this.watchdog.unref();
    process.on('exit', this.onExit);
  }

  /** Starts `command`, appending its stdout and stderr to `<logDir>/<name>.log`. */
  start(name: string, command: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): ManagedProcess {
    if (this.running.get(name)?.info.hasExited() === false) throw new Error(`${name} is already running`);
    const logFile = join(this.options.logDir, `${name}.log`);
    const fd = openSync(logFile, 'a');
    writeSync(fd, `\n===== ${new Date().toISOString()} starting ${command} ${args.join(' ')}\n`);
    let child: ChildProcess;
    try {
      child = spawn(command, args, { stdio: ['ignore', fd, fd], env });
    } finally {
      closeSync(fd);
    }
    const { pid } = child;
    if (pid === undefined) throw new Error(`could not start ${name} (${command})`);
    let done = false;
    const exited = new Promise<number | string>((resolve) => {
      child.once('exit', (code, signal) => {
        done = true;
        resolve(code ?? signal ?? 'unknown');
      });
      child.once('error', (error) => {
        done = true;
        resolve(error.message);
      });
    });
    const info: ManagedProcess = { name, pid, logFile, exited, hasExited: () => done };
    this.running.set(name, { info, child });
    this.writePidFile();
    return info;
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
  async stop(name: string, graceMs = 10_000): Promise<void> {
    const entry = this.running.get(name);
    if (!entry) return;
    if (!entry.info.hasExited()) {
      entry.child.kill('SIGTERM');
      const exitedInTime = await Promise.race([entry.info.exited.then(() => true), sleep(graceMs).then(() => false)]);
      if (!exitedInTime) {
        entry.child.kill('SIGKILL');
        await entry.info.exited;
      }
    }
    this.running.delete(name);
    this.writePidFile();
  }

  /** Stops every process, last started first, and retires the watchdog. */
  async stopAll(): Promise<void> {
    for (const name of [...this.running.keys()].reverse()) await this.stop(name);
    process.off('exit', this.onExit);
    this.watchdog.kill('SIGKILL');
  }

  /** The last `lines` lines of a process's log, for error messages. */
  async logTail(name: string, lines = 30): Promise<string> {
    try {
      const text = await readFile(join(this.options.logDir, `${name}.log`), 'utf8');
      return text.trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  private writePidFile(): void {
    const pids = [...this.running.values()].filter((r) => !r.info.hasExited()).map((r) => r.info.pid);
    writeFileSync(this.pidFile, `${pids.join(' ')}\n`);
  }
}
