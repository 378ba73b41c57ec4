/**
 * Runs inside a network namespace (test/server/listen.integration.test.ts): starts the bundled
 * `digest-pinner serve` with its default host, waits until it answers over IPv4, asks it over
 * IPv4 and IPv6 loopback, stops it with SIGTERM, and prints what it saw as one JSON object.
 *
 *   node serve-probe.mjs MAIN_JS WORK_DIR PORT
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, openSync, readFileSync } from 'node:fs';
import { get } from 'node:https';
import { join } from 'node:path';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';

const [main, workDir, port] = process.argv.slice(2);
const caFile = join(workDir, 'certs', 'ca.crt');

/** The status of GET /healthz at `host`, or the error code that came instead. */
function healthz(host) {
  return new Promise((resolve) => {
    const request = get({ host, port: Number(port), path: '/healthz', ca: readFileSync(caFile) }, (response) => {
      response.resume();
      resolve(response.statusCode);
    });
    request.on('error', (error) => resolve(error.code ?? String(error)));
  });
}

const stdout = openSync(join(workDir, 'serve.log'), 'w');
const stderr = openSync(join(workDir, 'serve.err'), 'w');
const serve = spawn(process.execPath, [main, 'serve', '--port', port], { cwd: workDir, stdio: ['ignore', stdout, stderr] });
const exited = once(serve, 'exit');
let ipv4;
// Until it answers or exits, however long a busy machine takes (the test bounds the whole probe).
while (serve.exitCode === null) {
  if (existsSync(caFile)) {
    ipv4 = await healthz('127.0.0.1');
    if (ipv4 === 200) break;
  }
  await sleep(200);
}
const ipv6 = serve.exitCode === null ? await healthz('::1') : undefined;
serve.kill('SIGTERM');
const [code, signal] = await exited;
process.stdout.write(`${JSON.stringify({ ipv4, ipv6, code, signal })}\n`);
