/**
 * What the webhook's HTTPS edge bounds, and at what value: the one place these values live
 * (README's "Under failure" and docs/security.md quote them; bench/ measures them).
 */

const KiB = 1024;
const MiB = 1024 * KiB;

/** The bounds of one listener: request bodies, slow clients, connections. */
export interface ServerLimits {
  /** Largest request body: an UPDATE review carries an object and its oldObject. */
  readonly bodyBytes: number;
  /**
   * Bytes of request bodies held at once, from the first byte read until the response ends; a
   * body that would pass it waits. Bodies no larger than an ordinary review's have room of their
   * own beside it (`ordinary…`), so they never wait behind the largest.
   */
  readonly bodyBytesInFlight: number;
  /** The largest body that is an ordinary review's (a Pod, a Deployment…). */
  readonly ordinaryBodyBytes: number;
  /** Bytes of ordinary reviews' bodies held at once. */
  readonly ordinaryBodyBytesInFlight: number;
  /** Deepest nesting of a body's JSON: far past any Kubernetes object, far short of a recursion's stack. */
  readonly jsonDepth: number;
  /** Most JSON values (objects, arrays, strings, numbers, literals; not keys) in one body. */
  readonly jsonValues: number;
  /** JSON values held at once, parsed or about to be, until their responses end; a body that would pass it waits. */
  readonly jsonValuesInFlight: number;
  /** The most JSON values of a body that counts as an ordinary review's. */
  readonly ordinaryJsonValues: number;
  /** JSON values of ordinary reviews held at once. */
  readonly ordinaryJsonValuesInFlight: number;
  /**
   * The share of a review's deadline its body may wait for room: the rest is for reading,
   * parsing and admitting it. A body given room at its deadline could not be admitted anyway.
   */
  readonly bodyWaitShare: number;
  /** A TLS handshake must end this soon after the TCP connection opens. */
  readonly handshakeTimeoutMs: number;
  /** A request's headers must have arrived this soon after its connection opened (or after its first byte, on a reused connection). */
  readonly headersTimeoutMs: number;
  /** A whole request, headers and body, must have arrived this soon: kube-apiserver sends a review at once. */
  readonly requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this long. */
  readonly keepAliveTimeoutMs: number;
  /** How often the header and request timeouts are checked: they fire up to this much late. */
  readonly timeoutCheckIntervalMs: number;
  /**
   * Connections open at once on the listener, below the file-descriptor limit: at the cap, a new
   * connection closes the oldest one with no complete request in flight (or is closed, if all have one).
   */
  readonly maxConnections: number;
}

export const SERVER_LIMITS: ServerLimits = {
  bodyBytes: 6 * MiB,
  bodyBytesInFlight: 16 * MiB,
  ordinaryBodyBytes: 256 * KiB,
  ordinaryBodyBytesInFlight: 8 * MiB,
  jsonDepth: 100,
  jsonValues: 250_000,
  jsonValuesInFlight: 400_000,
  ordinaryJsonValues: 20_000,
  ordinaryJsonValuesInFlight: 100_000,
  bodyWaitShare: 0.5,
  handshakeTimeoutMs: 5_000,
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 10_000,
  // kube-apiserver keeps connections open (Go's idle timeout is 90 s): outlive it so a request
  // never races the server closing an idle socket.
  keepAliveTimeoutMs: 120_000,
  timeoutCheckIntervalMs: 1_000,
  maxConnections: 512,
};
