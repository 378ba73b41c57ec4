#!/usr/bin/env node
/** The only place that reads process.argv and the environment, and owns signals. */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { runCli } from './cli/main.js';

const packageJson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };

const io = {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
  cwd: process.cwd(),
  homeDir: homedir(),
  version: packageJson.version ?? '0.0.0',
};

const code = await runCli(process.argv.slice(2), io, (server) => {
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`digest-pinner: ${signal} received, finishing in-flight reviews\n`);
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`digest-pinner: shutdown failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => { stop('SIGTERM'); });
  process.once('SIGINT', () => { stop('SIGINT'); });
});
if (code !== undefined) process.exitCode = code;
