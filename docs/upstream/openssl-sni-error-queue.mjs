// A TLS client socket given a servername OpenSSL refuses (longer than 255 bytes) makes
// an unrelated TLS socket of the same process fail: the error OpenSSL queued when it
// refused the name is left on the thread's error queue, and the next TLS operation on any
// other socket reads it as its own.
//
//   node openssl-sni-error-queue.mjs [servername length, default 256]
//
// Needs the openssl command (for a throwaway self-signed certificate). Prints what a
// keep-alive client of an HTTPS server sees before and after the server, while handling
// a request, opens one outgoing TLS connection with that servername. With a length of
// 255 or less every request is answered 200; with 256 or more the server reports a
// clientError on the kept-alive incoming connection, although nothing is wrong with it,
// and the client's next request on it fails (here the handler destroys the socket: a
// reset; Node's default handler answers 400 Bad Request, fastify's 400 "Client Error").
import { execFileSync } from 'node:child_process';
import console from 'node:console';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import tls from 'node:tls';

const length = Number(process.argv[2] ?? 256);
const dir = mkdtempSync(join(tmpdir(), 'sni-'));
execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
  '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
const key = readFileSync(join(dir, 'key.pem'));
const cert = readFileSync(join(dir, 'cert.pem'));
rmSync(dir, { recursive: true });

const server = https.createServer({ key, cert }, (req, res) => {
  req.resume();
  req.on('end', () => {
    if (req.url === '/connect-out') {
      // Any outgoing TLS connection: the port does not matter (nothing need listen there).
      const outgoing = tls.connect({ host: '127.0.0.1', port: 9, servername: 'a'.repeat(length) });
      outgoing.on('error', (error) => console.log(`  outgoing connection: ${error.code}`));
    }
    res.end('ok');
  });
});
server.on('clientError', (error, socket) => {
  console.log(`  server clientError on an incoming connection: ${error.code} ${error.message}`);
  socket.destroy();
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address();
const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: cert });

function post(path) {
  return new Promise((resolve) => {
    const req = https.request({ host: '127.0.0.1', port, path, method: 'POST', agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(`${res.statusCode}`));
    });
    req.on('error', (error) => resolve(`error ${error.code}`));
    req.end('{}');
  });
}

console.log(`${process.version}, ${process.versions.openssl}, servername of ${length} bytes`);
console.log(`request 1: ${await post('/')}`);
console.log(`request 2 (the server connects out): ${await post('/connect-out')}`);
for (let n = 3; n <= 5; n += 1) console.log(`request ${n}: ${await post('/')}`);
agent.destroy();
server.close();
