/**
 * One HTTP exchange with a registry or token service, bounded by the request
 * timeout and the caller's signal, with undici's errors turned into failures an
 * operator can act on.
 */
import { performance } from 'node:perf_hooks';
import { request, type Dispatcher } from 'undici';
import { describeError, errorCode } from '../errors.js';
import { RegistryFailure } from './failure.js';
import type { HostHealth, OutcomeReport, RequestOutcome } from './host-health.js';
import type { ReleaseSlot, RequestSlots } from './request-slots.js';
import { parseRetryAfter } from './retry-after.js';

/** Codes of the connector's refusals (address-policy.ts, egress.ts), as they arrive from undici: policy, not the network. */
const REFUSED_BY_POLICY_CODES: ReadonlySet<string> = new Set(['DP_ERR_ADDRESS_BLOCKED', 'DP_ERR_INVALID_HOST_NAME', 'DP_ERR_PROXY_REFUSED']);

/** A request to send. `signal` is the caller's; the transport adds its own timeout. */
export interface OutgoingRequest {
  readonly url: URL;
  readonly method: 'GET' | 'HEAD';
  readonly headers: Readonly<Record<string, string>>;
  readonly signal: AbortSignal | undefined;
}

/** A response whose body must be read with readBody or discarded with discard. */
export interface IncomingResponse {
  readonly status: number;
  header(name: string): string | undefined;
  /** The body, at most `limit` bytes; a longer body fails with `tooLarge` as the reason. */
  readBody(limit: number, tooLarge: string): Promise<Uint8Array>;
  discard(): Promise<void>;
}

/** The command-line options that cure a failure, named in its message. */
const INSECURE_REGISTRY_FLAG = '--insecure-registry';
const CA_FILE_FLAG = '--ca-file';

const NETWORK_CODES: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed',
  ENOTFOUND: 'host not found (DNS)',
  EAI_AGAIN: 'DNS lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  UND_ERR_SOCKET: 'connection closed unexpectedly',
  UND_ERR_CLOSED: 'connection closed',
};
const TIMEOUT_CODES: ReadonlySet<string> = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
]);
// What OpenSSL says when the peer answers a ClientHello in plain HTTP.
const PLAIN_HTTP_CODES: ReadonlySet<string> = new Set([
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'ERR_SSL_PACKET_LENGTH_TOO_LONG',
  'ERR_SSL_HTTP_REQUEST',
]);
const UNTRUSTED_CERT_CODES: ReadonlySet<string> = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
]);
const BAD_CERT_CODES: Readonly<Record<string, string>> = {
  CERT_HAS_EXPIRED: 'has expired',
  CERT_NOT_YET_VALID: 'is not yet valid',
  ERR_TLS_CERT_ALTNAME_INVALID: 'does not name this host',
  CERT_REVOKED: 'is revoked',
};

/** What the metrics hook hears about each HTTP request (registry and token service alike). */
export interface RequestEvent {
  /** `host[:port]` the request went to. */
  readonly host: string;
  readonly method: string;
  /** HTTP status, or `error` when no answer arrived (refused, reset, timeout, refused by policy). */
  readonly status: number | 'error';
  /** Time to the response headers (or to the failure). */
  readonly seconds: number;
}

/** How the transport sends, bounds and observes requests. */
export interface TransportOptions {
  /** Bound on each request (connect, headers, body). */
  readonly timeoutMs: number;
  readonly userAgent: string;
  /** Circuit breaker and Retry-After gate per host; none means every request goes out. */
  readonly health?: HostHealth;
  /** Clock for Retry-After dates (default Date.now). */
  readonly now?: () => number;
  readonly onRequest?: (event: RequestEvent) => void;
  /** Checks a redirect target before it is followed; throwing refuses it. Without it, redirects are not followed. */
  readonly checkRedirect?: (url: URL) => void;
  /** Bounds requests in flight per origin and in all (a request waits its turn); none means unbounded. */
  readonly slots?: RequestSlots;
}

const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 3;

/** Sends requests through one dispatcher (one keep-alive pool per origin). */
export class Transport {
  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly options: TransportOptions,
  ) {}

  /**
   * Sends one request, following up to MAX_REDIRECTS redirects that `checkRedirect` allows
   * (credentials are dropped when the origin changes, and HTTPS never redirects
   * to HTTP). Throws RegistryFailure when no HTTP answer arrives in time.
   */
  async send(outgoing: OutgoingRequest): Promise<IncomingResponse> {
    let current = outgoing;
    for (let hop = 0; ; hop += 1) {
      const response = await this.exchange(current);
      const location = response.header('location');
      if (!REDIRECT_STATUSES.has(response.status) || location === undefined || hop >= MAX_REDIRECTS) return response;
      if (this.options.checkRedirect === undefined) return response;
      await response.discard();
      current = redirected(current, location, this.options.checkRedirect);
    }
  }

  /** One request and its answer, through the host's breaker and its turn for a slot, observed. */
  private async exchange(outgoing: OutgoingRequest): Promise<IncomingResponse> {
    const report: OutcomeReport = this.options.health?.admit(outgoing.url.host) ?? ignoreOutcome;
    let release: ReleaseSlot;
    try {
      release = await this.turn(outgoing);
    } catch (error) {
      report({ kind: 'abandoned' });
      throw error;
    }
    try {
      return await this.exchangeHolding(outgoing, report, release);
    } catch (error) {
      release();
      throw error;
    }
  }

  /** Waits for a slot to the request's origin; the caller's signal ends the wait. */
  private async turn(outgoing: OutgoingRequest): Promise<ReleaseSlot> {
    const { slots } = this.options;
    if (slots === undefined) return ignoreRelease;
    const host = outgoing.url.host;
    return slots.acquire(outgoing.url.origin, outgoing.signal, (reason) => {
      return new RegistryFailure('aborted', `request to ${host} aborted by the caller while waiting for a connection (${describeError(reason)})`, {
        cause: reason,
      });
    });
  }

  /** The exchange, once its slot is held; the slot is given back when the answer's body is read or discarded. */
  private async exchangeHolding(outgoing: OutgoingRequest, report: OutcomeReport, release: ReleaseSlot): Promise<IncomingResponse> {
    const host = outgoing.url.host;
    const { health, now = Date.now } = this.options;
    const timeoutMs = this.options.timeoutMs;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = outgoing.signal === undefined ? timeout : AbortSignal.any([timeout, outgoing.signal]);
    const bounds: ExchangeBounds = { timeout, caller: outgoing.signal, timeoutMs, host };
    const started = performance.now();
    let response: Dispatcher.ResponseData;
    try {
      response = await request(outgoing.url, {
        dispatcher: this.dispatcher,
        method: outgoing.method,
        headers: { ...outgoing.headers, 'user-agent': this.options.userAgent },
        signal,
        // undici closes the connection after every HEAD unless told otherwise (undici#258: a server
        // that sends a body with a HEAD answer would corrupt the next response). Registries answer
        // HEAD /v2/…/manifests/… as HTTP requires, and containerd keeps their connections too: keep
        // it alive, or every manifest HEAD pays a new TCP and TLS handshake.
        ...(outgoing.method === 'HEAD' ? { reset: false } : {}),
      });
    } catch (error) {
      const failure = this.failureOf(error, bounds, outgoing.url);
      this.observe(outgoing, 'error', started);
      report(outcomeOf(failure));
      throw failure;
    }
    this.observe(outgoing, response.statusCode, started);
    report(response.statusCode >= 500 ? { kind: 'failed', reason: `answered ${response.statusCode}` } : { kind: 'answered' });
    const retryAfterMs = response.statusCode === 429 ? parseRetryAfter(headerValue(response.headers['retry-after']), now()) : undefined;
    if (retryAfterMs !== undefined) health?.retryAfter(host, retryAfterMs);
    // Given back however the body ends: read, discarded, or destroyed.
    response.body.once('close', release);
    return wrapResponse(response, bounds, release, (failure) => {
      report(outcomeOf(failure));
    });
  }

  private observe(outgoing: OutgoingRequest, status: number | 'error', started: number): void {
    const { onRequest } = this.options;
    if (onRequest === undefined) return;
    try {
      onRequest({ host: outgoing.url.host, method: outgoing.method, status, seconds: (performance.now() - started) / 1000 });
    } catch {
      // A broken observer must not fail a resolution.
    }
  }

  private failureOf(error: unknown, bounds: ExchangeBounds, url: URL): RegistryFailure {
    const aborted = abortFailure(error, bounds);
    if (aborted !== undefined) return aborted;
    const code = errorCode(error);
    if (code !== undefined && REFUSED_BY_POLICY_CODES.has(code)) return new RegistryFailure('policy', describeError(error), { cause: error });
    if (code !== undefined && PLAIN_HTTP_CODES.has(code)) {
      return new RegistryFailure(
        'insecure-required',
        `${url.host} answered HTTPS with plain HTTP; if it is an insecure registry, use ${INSECURE_REGISTRY_FLAG} ${url.host}`,
        { cause: error },
      );
    }
    return networkFailure(error, code, url.host);
  }
}

/** The request a redirect leads to: checked by policy, credentials dropped when the origin changes, never HTTPS to HTTP. */
function redirected(from: OutgoingRequest, location: string, check: (url: URL) => void): OutgoingRequest {
  let url: URL;
  try {
    url = new URL(location, from.url);
  } catch (error) {
    throw new RegistryFailure('protocol', `${from.url.host} redirected to something that is not a URL`, { cause: error });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new RegistryFailure('protocol', `${from.url.host} redirected to a ${url.protocol} URL`);
  }
  if (from.url.protocol === 'https:' && url.protocol === 'http:') {
    throw new RegistryFailure('protocol', `${from.url.host} redirected from HTTPS to plain HTTP (${url.origin}); not followed`);
  }
  try {
    check(url);
  } catch (error) {
    throw new RegistryFailure('policy', `${from.url.host} redirected to ${url.host}, which is not allowed by policy (${describeError(error)})`, {
      cause: error,
    });
  }
  const { authorization: _dropped, ...others } = from.headers;
  const headers = url.origin === from.url.origin ? from.headers : others;
  return { ...from, url, headers };
}

/** How the breaker counts a failed request: the caller's abort and policy refusals say nothing about the host. */
function outcomeOf(failure: RegistryFailure): RequestOutcome {
  switch (failure.kind) {
    case 'aborted':
    case 'policy':
      return { kind: 'abandoned' };
    case 'insecure-required':
      return { kind: 'answered' };
    default:
      return { kind: 'failed', reason: failure.reason };
  }
}

function ignoreOutcome(): void {
  // No breaker: nothing counts outcomes.
}

function ignoreRelease(): void {
  // No slots: nothing to give back.
}

/** What bounded one exchange and where it went, to word its failure. */
interface ExchangeBounds {
  readonly timeout: AbortSignal;
  readonly caller: AbortSignal | undefined;
  readonly timeoutMs: number;
  readonly host: string;
}

function wrapResponse(
  response: Dispatcher.ResponseData,
  bounds: ExchangeBounds,
  release: ReleaseSlot,
  onBodyFailure: (failure: RegistryFailure) => void,
): IncomingResponse {
  return {
    status: response.statusCode,
    header: (name) => headerValue(response.headers[name.toLowerCase()]),
    readBody: async (limit, tooLarge) => {
      try {
        return await readLimited(response.body, limit, tooLarge);
      } catch (error) {
        if (error instanceof RegistryFailure) throw error;
        const failure = abortFailure(error, bounds) ?? networkFailure(error, errorCode(error), bounds.host);
        onBodyFailure(failure);
        throw failure;
      } finally {
        release();
      }
    },
    discard: async () => {
      try {
        await response.body.dump();
      } catch {
        // The connection is dropped instead of reused; nothing else to do.
      } finally {
        release();
      }
    },
  };
}

/** The failure for a request ended by the caller's signal or our timeout; undefined when neither fired. */
function abortFailure(error: unknown, bounds: ExchangeBounds): RegistryFailure | undefined {
  if (bounds.caller?.aborted === true) {
    return new RegistryFailure('aborted', `request to ${bounds.host} aborted by the caller (${describeError(bounds.caller.reason)})`, {
      cause: bounds.caller.reason,
    });
  }
  if (bounds.timeout.aborted || TIMEOUT_CODES.has(errorCode(error) ?? '')) {
    return new RegistryFailure('timeout', `${bounds.host} did not answer within ${bounds.timeoutMs} ms`, { cause: error });
  }
  return undefined;
}

function networkFailure(error: unknown, code: string | undefined, host: string): RegistryFailure {
  if (code === undefined) return new RegistryFailure('unavailable', `cannot reach ${host}: ${describeError(error)}`, { cause: error });
  if (UNTRUSTED_CERT_CODES.has(code)) {
    return new RegistryFailure(
      'unavailable',
      `TLS certificate of ${host} is not trusted (${code}); trust the CA that signed it with ${CA_FILE_FLAG} FILE`,
      { cause: error },
    );
  }
  const badCert = BAD_CERT_CODES[code];
  if (badCert !== undefined) {
    return new RegistryFailure('unavailable', `TLS certificate of ${host} ${badCert} (${code})`, { cause: error });
  }
  const what = NETWORK_CODES[code] ?? describeError(error);
  return new RegistryFailure('unavailable', `cannot reach ${host}: ${what} (${code})`, { cause: error });
}

async function readLimited(body: Dispatcher.ResponseData['body'], limit: number, tooLarge: string): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += bytes.length;
    if (size > limit) {
      body.destroy();
      throw new RegistryFailure('protocol', tooLarge);
    }
    chunks.push(bytes);
  }
  return Buffer.concat(chunks);
}

function headerValue(value: string | string[] | undefined): string | undefined {
  if (Array.isArray(value)) return value.join(', ');
  return value;
}
