/**
 * The requests a RegistryClient sent, as its onRequest hook reports each one when its answer
 * (or failure) arrives: a count that is complete once the client has returned, where a
 * registry's access log may still be catching up.
 */
import type { RequestEvent } from '../../src/registry/index.js';

export interface RequestLog {
  /** For RegistryClientOptions.onRequest. */
  readonly onRequest: (event: RequestEvent) => void;
  /** `METHOD status` of each request to `host` (`host[:port]`), in order; the status is `error` when no answer came. */
  to(host: string): string[];
}

export function requestLog(): RequestLog {
  const events: RequestEvent[] = [];
  return {
    onRequest: (event) => {
      events.push(event);
    },
    to: (host) => events.filter((e) => e.host === host).map((e) => `${e.method} ${String(e.status)}`),
  };
}
