import { once } from 'node:events';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { buildMetricsApp } from '../../src/server/metrics-listener.js';
import { SERVER_LIMITS } from '../../src/server/limits.js';
import { Metrics } from '../../src/metrics/index.js';

describe('buildMetricsApp', () => {
  it('serves the exposition text of the metrics given, in their content type', async () => {
    const metrics = new Metrics({ defaultMetrics: false, version: '1.2.3' });
    const app = buildMetricsApp({ metrics, ready: () => true });
    const response = await app.inject({ method: 'GET', url: '/metrics' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe(metrics.contentType);
    expect(response.body).toMatch(/^digest_pinner_build_info\{version="1\.2\.3"\} 1$/m);
    await app.close();
  });

  it('answers /healthz always and /readyz only when the webhook is ready', async () => {
    let ready = false;
    const app = buildMetricsApp({ metrics: new Metrics({ defaultMetrics: false }), ready: () => ready });
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    const notReady = await app.inject({ method: 'GET', url: '/readyz' });
    expect([notReady.statusCode, notReady.json()]).toEqual([503, { status: 'not ready' }]);
    ready = true;
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    await app.close();
  });

  it('serves nothing else: no admission routes', async () => {
    const app = buildMetricsApp({ metrics: new Metrics({ defaultMetrics: false }), ready: () => true });
    expect((await app.inject({ method: 'POST', url: '/mutate', payload: {} })).statusCode).toBe(404);
    await app.close();
  });

  it('caps its connections as the webhook listener does: at the cap, a connection that sent nothing is closed for a new one', async () => {
    const app = buildMetricsApp({ metrics: new Metrics({ defaultMetrics: false }), ready: () => true }, { limits: { ...SERVER_LIMITS, maxConnections: 1 } });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as { port: number };
    try {
      const silent = connect(port, '127.0.0.1');
      await once(silent, 'connect');
      const closed = once(silent, 'close');
      // The server learns of the first connection before the second one (accepts are in order).
      const scrape = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(scrape.status).toBe(200);
      await closed;
      expect(silent.destroyed).toBe(true);
    } finally {
      await app.close();
    }
  });
});
