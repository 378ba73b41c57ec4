/**
 * The plain-HTTP listener for Prometheus and kubelet: `/metrics`, `/healthz`, `/readyz`. Apart
 * from the webhook's HTTPS port so a scraper needs no webhook CA and probes need no TLS.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';

/** Where metrics and probes listen unless `--metrics-port` says otherwise. */
export const DEFAULT_METRICS_PORT = 9090;

/** What `GET /metrics` serves: Prometheus exposition text. */
export interface MetricsEndpoint {
  readonly contentType: string;
  render(): Promise<string>;
}

export interface MetricsAppDeps {
  readonly metrics: MetricsEndpoint;
  /** True once the webhook can answer admissions (the same answer as its own `/readyz`). */
  readonly ready: () => boolean;
}

/** Builds the metrics and probes app (no TLS); `listen()` happens in serve. */
export function buildMetricsApp(deps: MetricsAppDeps, logger?: FastifyBaseLogger): FastifyInstance {
  const app = Fastify({
    ...(logger === undefined ? { logger: false } : { loggerInstance: logger }),
    // Nothing here takes a body: a scrape or probe is a GET.
    bodyLimit: 1024,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  app.get('/healthz', () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    if (closing || !deps.ready()) return reply.code(503).send({ status: closing ? 'shutting down' : 'not ready' });
    return { status: 'ready' };
  });
  app.get('/metrics', async (_request, reply) => reply.type(deps.metrics.contentType).send(await deps.metrics.render()));
  return app;
}
