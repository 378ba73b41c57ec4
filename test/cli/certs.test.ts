import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { createServer } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, Agent } from 'undici';
import { runCli } from '../../src/cli/main.js';
import { serviceHosts } from '../../src/certs/hosts.js';
import { captureIo, runCommand } from '../support/cli.js';
import type { RunningServer } from '../../src/cli/serve.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dp-certs-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function run(args: string[]) {
  return runCommand(args, { cwd: dir, homeDir: dir }).then(({ code, stdout, stderr }) => ({ code, out: stdout, err: stderr }));
}

describe('serviceHosts', () => {
  it('lists the names kube-apiserver may use for the Service', () => {
    expect(serviceHosts('dp', 'ns')).toEqual(['dp.ns.svc', 'dp', 'dp.ns', 'dp.ns.svc.cluster.local']);
  });
});

describe('digest-pinner certs', () => {
  it('prints the caBundle of a new CA when given no destination', async () => {
    const result = await run(['certs']);
    expect(result.code).toBe(0);
    const pem = Buffer.from(result.out.trim(), 'base64').toString();
    expect(new X509Certificate(pem).ca).toBe(true);
  });

  it('writes a serving certificate for the Service names, signed by its CA, that a TLS client accepts', async () => {
    const out = join(dir, 'files');
    const result = await run(['certs', '--service', 'web', '--namespace', 'hooks', '--host', '127.0.0.1', '--out', out, '--days', '30']);
    expect(result.code).toBe(0);
    const [ca, cert, key] = await Promise.all(['ca.crt', 'tls.crt', 'tls.key'].map((f) => readFile(join(out, f), 'utf8')));
    const x509 = new X509Certificate(cert ?? '');
    expect(x509.verify(new X509Certificate(ca ?? '').publicKey)).toBe(true);
    expect(x509.subjectAltName).toBe('DNS:web.hooks.svc, DNS:web, DNS:web.hooks, DNS:web.hooks.svc.cluster.local, IP Address:127.0.0.1');
    expect(x509.checkHost('web.hooks.svc')).toBe('web.hooks.svc');
    const days = (new Date(x509.validTo).getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29);
    expect(days).toBeLessThan(31);
    // A real TLS handshake with servername web.hooks.svc, trusting only the CA.
    const server = createServer({ cert, key }, (_req, res) => res.end('ok')).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const { port } = server.address() as { port: number };
    const agent = new Agent({ connect: { ca, servername: 'web.hooks.svc' } });
    const response = await request(`https://127.0.0.1:${port}/`, { dispatcher: agent });
    expect(await response.body.text()).toBe('ok');
    await agent.close();
    server.close();
  });

  it('renewing into the same directory keeps the CA, so the caBundle stays valid', async () => {
    const out = join(dir, 'renew');
    await run(['certs', '--out', out]);
    const caBefore = await readFile(join(out, 'ca.crt'), 'utf8');
    const certBefore = await readFile(join(out, 'tls.crt'), 'utf8');
    await run(['certs', '--out', out]);
    const caAfter = await readFile(join(out, 'ca.crt'), 'utf8');
    const certAfter = await readFile(join(out, 'tls.crt'), 'utf8');
    expect(caAfter).toBe(caBefore);
    expect(certAfter).not.toBe(certBefore);
    expect(new X509Certificate(certAfter).verify(new X509Certificate(caBefore).publicKey)).toBe(true);
  });

  it('says there is no cluster to write to when none is configured', async () => {
    const result = await runCommand(['certs', '--secret', 'tls'], { cwd: dir, homeDir: join(dir, 'no-home'), env: {} });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('no cluster to talk to: pass --kubeconfig FILE or set KUBECONFIG (DP_ERR_CERTS_CLUSTER)');
  });

  it('finds ~/.kube/config as serve does, and names it when it cannot be used', async () => {
    const home = join(dir, 'home-with-kubeconfig');
    await mkdir(join(home, '.kube'), { recursive: true });
    await writeFile(join(home, '.kube', 'config'), JSON.stringify({ apiVersion: 'v1', kind: 'Config', clusters: [], users: [], contexts: [] }));
    const result = await runCommand(['certs', '--patch-webhook', 'digest-pinner'], { cwd: dir, homeDir: home, env: {} });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`kubeconfig ${join(home, '.kube', 'config')} has no current context with a cluster (DP_ERR_KUBECONFIG)`);
  });

  it('rejects a bad --days', async () => {
    const result = await run(['certs', '--days', '0']);
    expect(result.code).toBe(2);
    expect(result.err).toContain('--days must be a positive whole number');
  });
});

describe('serve reloads a renewed certificate', () => {
  it('serves the new certificate after `certs --out` renews it, without a restart, and its metric follows', async () => {
    const out = join(dir, 'reload');
    await run(['certs', '--out', out, '--host', '127.0.0.1']);
    const ca = await readFile(join(out, 'ca.crt'), 'utf8');
    let server: RunningServer | undefined;
    const { io } = captureIo({ cwd: dir, homeDir: dir });
    await runCli(
      ['serve', '--port', '0', '--host', '127.0.0.1', '--tls-cert', join(out, 'tls.crt'), '--tls-key', join(out, 'tls.key'), '--tls-reload-interval', '0.1', '--log-level', 'silent'],
      io,
      (s) => (server = s),
    );
    const servedSerial = async () => {
      const { connect } = await import('node:tls');
      const url = new URL(server?.url ?? '');
      return new Promise<string>((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port: Number(url.port), ca, servername: 'digest-pinner.digest-pinner.svc' }, () => {
          resolve(socket.getPeerX509Certificate()?.serialNumber ?? '');
          socket.end();
        });
        socket.on('error', reject);
      });
    };
    const expiryMetric = async () => {
      const metrics = (await server?.app.inject({ method: 'GET', url: '/metrics' }))?.body ?? '';
      return Number(/^digest_pinner_serving_certificate_expiry_timestamp_seconds (\S+)$/m.exec(metrics)?.[1]);
    };
    const expiry = async () => Date.parse(new X509Certificate(await readFile(join(out, 'tls.crt'), 'utf8')).validTo) / 1000;
    try {
      const before = await servedSerial();
      expect(before).toBe(new X509Certificate(await readFile(join(out, 'tls.crt'), 'utf8')).serialNumber);
      expect(await expiryMetric()).toBe(await expiry());
      await run(['certs', '--out', out, '--host', '127.0.0.1', '--days', '30']);
      const renewed = new X509Certificate(await readFile(join(out, 'tls.crt'), 'utf8')).serialNumber;
      expect(renewed).not.toBe(before);
      // serve looks at the files at its --tls-reload-interval: wait until it serves the renewed one (the test's timeout bounds the wait).
      let after = before;
      while (after === before) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        after = await servedSerial();
      }
      expect(after).toBe(renewed);
      // Set with the new certificate, in the same reload.
      expect(await expiryMetric()).toBe(await expiry());
      expect(await expiryMetric()).toBeLessThan(Date.now() / 1000 + 31 * 86_400);
    } finally {
      await server?.close();
    }
  });
});
