#!/usr/bin/env node
/** The only place that reads process.argv and the environment, and owns signals. */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { runCli } from './cli/main.js';
import { bufferedDestination } from './server/log.js';

const packageJson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };

const io = {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
  cwd: process.cwd(),
  homeDir: homedir(),
  version: packageJson.version ?? '0.0.0',
  // serve's log lines, JSON on stdout.
  logDestination: () => bufferedDestination(1),
};

const code = await runCli(process.argv.slice(2), io, (server) => {
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    server.app.log.info({ signal }, 'stopping: finishing in-flight reviews');
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        // pino writes the lines still pending when the process exits.
        server.app.log.error({ err: String(error) }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => { stop('SIGTERM'); });
  process.once('SIGINT', () => { stop('SIGINT'); });
});
if (code !== undefined) process.exitCode = code;
