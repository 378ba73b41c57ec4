/**
 * The plain-HTTP listener for Prometheus and kubelet: `/metrics`, `/healthz`, `/readyz`. Apart
 * from the webhook's HTTPS port so a scraper needs no webhook CA and probes need no TLS.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { boundConnections, boundedListener } from './connections.js';
import { SERVER_LIMITS, type ServerLimits } from './limits.js';

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

export interface MetricsAppOptions {
  readonly logger?: FastifyBaseLogger;
  /** The same bounds as the webhook's listener: its timeouts and connection cap (SERVER_LIMITS unless given). */
  readonly limits?: ServerLimits;
}

/** Builds the metrics and probes app (no TLS); `listen()` happens in serve. */
export function buildMetricsApp(deps: MetricsAppDeps, options: MetricsAppOptions = {}): FastifyInstance {
  const limits = options.limits ?? SERVER_LIMITS;
  const { server, ...bounds } = boundedListener(limits);
  const app = Fastify({
    http: server,
    ...bounds,
    ...(options.logger === undefined ? { logger: false } : { loggerInstance: options.logger }),
    // Nothing here takes a body: a scrape or probe is a GET.
    bodyLimit: 1024,
  });
  const closing = boundConnections(app, limits.maxConnections);
  app.get('/healthz', () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    if (closing() || !deps.ready()) return reply.code(503).send({ status: closing() ? 'shutting down' : 'not ready' });
    return { status: 'ready' };
  });
  app.get('/metrics', async (_request, reply) => reply.type(deps.metrics.contentType).send(await deps.metrics.render()));
  return app;
}
