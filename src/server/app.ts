/**
 * The HTTPS edge: routes, body limits, error answers. Built by a function so tests can
 * `inject()` and also listen on real HTTPS; `listen()` happens in main.ts.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { ServerOptions } from 'node:https';
import type { SecureContextOptions } from 'node:tls';
import { admit, decodeReview, reviewUid, ADMISSION_API_VERSION } from '../admission/index.js';
import type { AdmissionRequest, AdmitDeps, AdmissionResponse, AdmissionReviewResponse, Mode, AdmitResult } from '../admission/index.js';
import { describeError, DigestPinnerError } from '../errors.js';
import type { Deadline } from '../timeout.js';
import { BodyBudgets, BodyHolding, readJsonBody } from './body.js';
import { boundConnections, boundedListener } from './connections.js';
import { AdmissionDeadline, resolutionDeadlineMs } from './deadline.js';
import { SERVER_LIMITS, type ServerLimits } from './limits.js';

export interface AppDeps extends AdmitDeps {
  /** Mode of `POST /mutate`. */
  readonly mode: Mode;
  /** The webhook's own cap on resolution time per admission, in ms. */
  readonly deadlineMs: number;
  /** True once the webhook can answer (caches synced). */
  readonly ready: () => boolean;
  /** Observes every admission, for metrics. */
  readonly onAdmission?: (result: AdmitResult, kind: string, operation: string, seconds: number) => void;
  /** Observes every answered admission with its request, e.g. to record Events for its failures. Must not throw. */
  readonly onAdmitted?: (review: AdmissionRequest, result: AdmitResult) => void;
  /** Counts reviews being answered (prom-client's Gauge has this shape). */
  readonly inFlight?: InFlight;
}

/** Raised when a review arrives, lowered when it is answered. */
export interface InFlight {
  inc(): void;
  dec(): void;
}

export interface AppOptions {
  readonly https?: SecureContextOptions;
  /** Where the app logs (server/log.ts's webhookLogger); none by default. */
  readonly logger?: FastifyBaseLogger;
  /** The listener's bounds: SERVER_LIMITS unless given (`--max-connections`; tests shorten timeouts). */
  readonly limits?: ServerLimits;
}

const MUTATE_ROUTES: readonly { readonly url: string; readonly mode: Mode | undefined }[] = [
  { url: '/mutate', mode: undefined },
  { url: '/mutate/warn', mode: 'warn' },
  { url: '/mutate/strict', mode: 'strict' },
];

/** The webhook's fastify server without its routes, whether it has begun closing, and each request's deadline. */
interface WebhookServer {
  readonly app: FastifyInstance;
  readonly closing: () => boolean;
  /** When the review `request` carries must be answered by (epoch ms): its resolution deadline, counted from its arrival. */
  readonly deadlineAt: (request: FastifyRequest) => number;
}

/** What each request holds from its arrival until its response ends. */
interface Arrival {
  readonly deadlineAt: number;
  readonly holding: BodyHolding;
}

/**
 * The fastify server every route of the webhook runs in: options, bounds (server/limits.ts),
 * shutdown behaviour, body parsing and error answers. buildApp adds the routes. `deadlineMs`
 * is the webhook's own cap on a review's resolution time.
 */
function webhookServer(options: AppOptions, deadlineMs: number): WebhookServer {
  const limits = options.limits ?? SERVER_LIMITS;
  const { server, ...bounds } = boundedListener(limits);
  const timeouts: ServerOptions = { handshakeTimeout: limits.handshakeTimeoutMs, ...server };
  const app = Fastify({
    ...(options.https === undefined ? { http: timeouts } : { https: { ...options.https, ...timeouts } }),
    ...(options.logger === undefined ? { logger: false } : { loggerInstance: options.logger }),
    ...bounds,
    bodyLimit: limits.bodyBytes,
    // A review is read as data and never merged into other objects: `member()` reads own keys
    // only, so a `__proto__` or `constructor` key is just an unknown field, and a valid
    // review may carry one (kube-apiserver sends objects it has already decoded).
    onProtoPoisoning: 'ignore',
    onConstructorPoisoning: 'ignore',
    // One log line per admission is written by the route itself, with the review's uid:
    // no per-request child logger (and no `reqId` counter) for it.
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: (logger) => logger,
  });
  const closing = boundConnections(app, limits.maxConnections);
  // While closing, answer in-flight reviews with `Connection: close`: otherwise their
  // keep-alive sockets hold close() open until keepAliveTimeout, past any grace period.
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing()) void reply.header('connection', 'close');
    done(null, payload);
  });

  const budgets = new BodyBudgets(limits);
  const arrivals = new WeakMap<FastifyRequest, Arrival>();
  app.addHook('onRequest', (request, reply, done) => {
    const arrivedAt = Date.now();
    const resolutionMs = resolutionDeadlineMs(timeoutParam(request.query), deadlineMs);
    const deadlineAt = arrivedAt + resolutionMs;
    const holding = new BodyHolding(budgets, arrivedAt + resolutionMs * limits.bodyWaitShare);
    arrivals.set(request, { deadlineAt, holding });
    reply.raw.once('close', () => {
      holding.release();
    });
    done();
  });
  const arrivalOf = (request: FastifyRequest): Arrival => {
    const arrival = arrivals.get(request);
    if (arrival === undefined) throw new Error('a request reached its body or handler without its onRequest hook');
    return arrival;
  };

  // kube-apiserver sends application/json; anything else is still read as JSON so a wrong
  // content type gets the same clear 400 as a malformed body, not a 415.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (request, payload, done) => {
    readJsonBody(payload, request.headers['content-length'], arrivalOf(request).holding, limits).then(
      (body) => {
        done(null, body);
      },
      (error: unknown) => {
        done(error instanceof Error ? error : new Error(String(error)), undefined);
      },
    );
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = answerStatus(error);
    if (status === 500) request.log.error({ err: error }, 'unexpected error');
    else if (error instanceof DigestPinnerError) request.log.warn({ code: error.code, remote: request.ip }, `request refused: ${error.message}`);
    const message = status === 500 ? 'internal error' : bodyErrorMessage(error, limits);
    void reply.code(status).send({ message });
  });
  return { app, closing, deadlineAt: (request) => arrivalOf(request).deadlineAt };
}

/** kube-apiserver's `?timeout=` on a request, when it has one. */
function timeoutParam(query: unknown): string | undefined {
  if (typeof query !== 'object' || query === null || !('timeout' in query)) return undefined;
  return typeof query.timeout === 'string' ? query.timeout : undefined;
}

/** A client error's own status (4xx), a busy server's 503, anything else 500. */
function answerStatus(error: FastifyError): number {
  const status = error.statusCode;
  if (typeof status !== 'number') return 500;
  return (status >= 400 && status < 500) || status === 503 ? status : 500;
}

/** Builds the webhook's fastify app. */
export function buildApp(deps: AppDeps, options: AppOptions = {}): FastifyInstance {
  const { app, closing, deadlineAt } = webhookServer(options, deps.deadlineMs);
  for (const route of MUTATE_ROUTES) {
    app.post(route.url, async (request, reply) => {
      const started = process.hrtime.bigint();
      const body: unknown = request.body;
      const mode = route.mode ?? deps.mode;
      let review;
      try {
        review = decodeReview(body);
      } catch (error) {
        return reply.code(400).send({ message: describeError(error), uid: reviewUid(body) });
      }
      // Counted from the review's arrival: time spent waiting for room to read its body is spent.
      const deadline = new AdmissionDeadline(deadlineAt(request) - Date.now());
      let result: AdmitResult;
      deps.inFlight?.inc();
      try {
        result = await admitSafely(review, mode, deps, deadline);
      } finally {
        deadline.dispose();
        deps.inFlight?.dec();
      }
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      request.log.info(
        {
          uid: review.uid,
          kind: review.kind.kind,
          operation: review.operation,
          subResource: review.subResource,
          namespace: review.namespace,
          name: review.name,
          dryRun: review.dryRun,
          mode,
          outcome: result.outcome,
          pinned: result.resolutions.filter((r) => r.source !== 'pinned').length,
          failures: result.failures.map(({ where, image, code, reason, detail }) => ({ where, image, code, reason, detail })),
          notAttempted: result.notAttempted,
          record: result.record,
          ms: Math.round(seconds * 1000),
        },
        'admission',
      );
      deps.onAdmission?.(result, review.kind.kind, review.operation, seconds);
      deps.onAdmitted?.(review, result);
      // A string is sent as it is: fastify's serialisation of an object costs more than JSON.stringify alone.
      return reply.type(JSON_CONTENT_TYPE).send(JSON.stringify(reviewResponse(result.response)));
    });
  }

  app.get('/healthz', () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    if (closing() || !deps.ready()) return reply.code(503).send({ status: closing() ? 'shutting down' : 'not ready' });
    return { status: 'ready' };
  });
  return app;
}

/** Wraps a response in its AdmissionReview. */
export function reviewResponse(response: AdmissionResponse): AdmissionReviewResponse {
  return { apiVersion: ADMISSION_API_VERSION, kind: 'AdmissionReview', response };
}

const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

/** A bug must not become a 500 that kube-apiserver turns into failurePolicy: answer per mode. */
async function admitSafely(review: AdmissionRequest, mode: Mode, deps: AdmitDeps, deadline: Deadline): Promise<AdmitResult> {
  try {
    return await admit(review, mode, deps, deadline);
  } catch (error) {
    return internalError(review.uid, mode, error);
  }
}

function internalError(uid: string, mode: Mode, error: unknown): AdmitResult {
  const message = `digest-pinner: internal error, images not pinned: ${describeError(error)}`.slice(0, 250);
  const response: AdmissionResponse =
    mode === 'strict' ? { uid, allowed: false, status: { code: 500, message } } : { uid, allowed: true, warnings: [message] };
  return { response, outcome: mode === 'strict' ? 'denied' : 'warned', resolutions: [], failures: [] };
}

function bodyErrorMessage(error: { code?: string; message: string }, limits: ServerLimits): string {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return `request body is larger than ${limits.bodyBytes} bytes`;
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return 'invalid AdmissionReview: body is empty';
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case undefined:
      return error.message.startsWith('invalid AdmissionReview') ? error.message : 'invalid AdmissionReview: body is not valid JSON';
    default:
      return error.message;
  }
}
