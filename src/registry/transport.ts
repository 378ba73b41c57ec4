/**
 * One HTTP exchange with a registry or token service, bounded by the request
 * timeout and the caller's signal, with undici's errors turned into failures an
 * operator can act on.
 */
import { request, type Dispatcher } from 'undici';
import { describeError } from '../errors.js';
import { RegistryFailure } from './failure.js';

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

/** Hints naming the operator's options in messages. */
export interface TransportHints {
  readonly insecureRegistryFlag: string;
  readonly caFileFlag: string;
}

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

/** Sends requests through one dispatcher (one keep-alive pool per origin). */
export class Transport {
  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly timeoutMs: number,
    private readonly userAgent: string,
    private readonly hints: TransportHints,
  ) {}

  /** Sends one request; throws RegistryFailure when no HTTP answer arrives in time. */
  async send(outgoing: OutgoingRequest): Promise<IncomingResponse> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const signal = outgoing.signal === undefined ? timeout : AbortSignal.any([timeout, outgoing.signal]);
    const deadline: Deadline = { timeout, caller: outgoing.signal, timeoutMs: this.timeoutMs, host: outgoing.url.host, hints: this.hints };
    try {
      const response = await request(outgoing.url, {
        dispatcher: this.dispatcher,
        method: outgoing.method,
        headers: { ...outgoing.headers, 'user-agent': this.userAgent },
        signal,
      });
      return wrapResponse(response, deadline);
    } catch (error) {
      throw this.failureOf(error, deadline, outgoing.url);
    }
  }

  private failureOf(error: unknown, deadline: Deadline, url: URL): RegistryFailure {
    const aborted = abortFailure(error, deadline);
    if (aborted !== undefined) return aborted;
    const code = errorCode(error);
    if (PLAIN_HTTP_CODES.has(code)) {
      return new RegistryFailure(
        'insecure-required',
        `${url.host} answered HTTPS with plain HTTP; if it is an insecure registry, use ${this.hints.insecureRegistryFlag} ${url.host}`,
        { cause: error },
      );
    }
    return networkFailure(error, code, url.host, this.hints);
  }
}

interface Deadline {
  readonly timeout: AbortSignal;
  readonly caller: AbortSignal | undefined;
  readonly timeoutMs: number;
  readonly host: string;
  readonly hints: TransportHints;
}

function wrapResponse(response: Dispatcher.ResponseData, deadline: Deadline): IncomingResponse {
  return {
    status: response.statusCode,
    header: (name) => headerValue(response.headers[name.toLowerCase()]),
    readBody: async (limit, tooLarge) => {
      try {
        return await readLimited(response.body, limit, tooLarge);
      } catch (error) {
        if (error instanceof RegistryFailure) throw error;
        throw abortFailure(error, deadline) ?? networkFailure(error, errorCode(error), deadline.host, deadline.hints);
      }
    },
    discard: async () => {
      try {
        await response.body.dump();
      } catch {
        // The connection is dropped instead of reused; nothing else to do.
      }
    },
  };
}

/** The failure for a request ended by the caller's signal or our timeout; undefined when neither fired. */
function abortFailure(error: unknown, deadline: Deadline): RegistryFailure | undefined {
  if (deadline.caller?.aborted === true) {
    return new RegistryFailure('aborted', `request to ${deadline.host} aborted by the caller (${describeError(deadline.caller.reason)})`, {
      cause: deadline.caller.reason,
    });
  }
  if (deadline.timeout.aborted || TIMEOUT_CODES.has(errorCode(error))) {
    return new RegistryFailure('timeout', `${deadline.host} did not answer within ${deadline.timeoutMs} ms`, { cause: error });
  }
  return undefined;
}

function networkFailure(error: unknown, code: string, host: string, hints: TransportHints): RegistryFailure {
  if (UNTRUSTED_CERT_CODES.has(code)) {
    return new RegistryFailure(
      'unavailable',
      `TLS certificate of ${host} is not trusted (${code}); trust the CA that signed it with ${hints.caFileFlag} FILE`,
      { cause: error },
    );
  }
  const badCert = BAD_CERT_CODES[code];
  if (badCert !== undefined) {
    return new RegistryFailure('unavailable', `TLS certificate of ${host} ${badCert} (${code})`, { cause: error });
  }
  const what = NETWORK_CODES[code] ?? describeError(error);
  return new RegistryFailure('unavailable', `cannot reach ${host}: ${what}${code === '' ? '' : ` (${code})`}`, { cause: error });
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

function errorCode(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') return error.code;
  return '';
}
