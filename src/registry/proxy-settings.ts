/**
 * Which proxy a registry request goes through, from the environment as Go programs
 * read it (golang.org/x/net/http/httpproxy): HTTPS_PROXY for https:// URLs and
 * HTTP_PROXY for http:// URLs (never one for the other), each upper-case name before
 * its lower-case one and an empty value as unset; NO_PROXY (no-proxy.ts) exempts
 * hosts. A proxy written without a scheme (`proxy.corp:3128`) is `http://`. Where Go
 * ignores a value it cannot parse, this refuses it at startup: a proxy silently not
 * used is an egress path nobody chose.
 */
import { DigestPinnerError } from '../errors.js';
import { hostNameProblem } from './address-policy.js';
import { bypassesProxy, EMPTY_NO_PROXY, parseNoProxy, type NoProxy } from './no-proxy.js';

/** A proxy variable that digest-pinner cannot use. */
export class ProxyConfigError extends DigestPinnerError {
  readonly code = 'DP_ERR_PROXY_CONFIG';
}

/** The proxies of the environment, parsed. */
export interface ProxySettings {
  readonly httpProxy: URL | undefined;
  readonly httpsProxy: URL | undefined;
  readonly noProxy: NoProxy;
  /** REQUEST_METHOD is set, as in a CGI handler, where a client could set HTTP_PROXY: HTTP_PROXY is refused (Go refuses it too). */
  readonly cgi: boolean;
}

/** No proxy: every request goes directly. */
export const DIRECT: ProxySettings = { httpProxy: undefined, httpsProxy: undefined, noProxy: EMPTY_NO_PROXY, cgi: false };

/** Where one request goes. */
export type ProxyRoute =
  | { readonly kind: 'direct' }
  | { readonly kind: 'proxy'; readonly proxy: URL }
  /** A request that must not go out at all (HTTP_PROXY in a CGI environment). */
  | { readonly kind: 'refused'; readonly reason: string };

const SUPPORTED_SCHEMES: ReadonlySet<string> = new Set(['http:', 'https:']);

/** The proxy settings of `env` (the environment main.ts read); throws ProxyConfigError for a proxy that cannot be used. */
export function proxySettingsFromEnv(env: Readonly<Record<string, string | undefined>>): ProxySettings {
  const value = (upper: string): { name: string; text: string } | undefined => {
    for (const name of [upper, upper.toLowerCase()]) {
      const text = env[name];
      if (text !== undefined && text !== '') return { name, text };
    }
    return undefined;
  };
  return {
    httpProxy: parseProxy(value('HTTP_PROXY')),
    httpsProxy: parseProxy(value('HTTPS_PROXY')),
    noProxy: parseNoProxy(value('NO_PROXY')?.text ?? ''),
    cgi: (env['REQUEST_METHOD'] ?? '') !== '',
  };
}

function parseProxy(variable: { name: string; text: string } | undefined): URL | undefined {
  if (variable === undefined) return undefined;
  const { name, text } = variable;
  // Only a value without a scheme is retried as http:// (Go retries any, making `http://http://…` of a broken URL).
  const url = parseUrl(text) ?? (text.includes('://') ? undefined : parseUrl(`http://${text}`));
  // The value may carry credentials: messages quote only what shownProxy shows.
  if (url === undefined) throw new ProxyConfigError(`${name} is neither a URL nor host[:port]`);
  if (!SUPPORTED_SCHEMES.has(url.protocol)) {
    throw new ProxyConfigError(`${name} names a ${url.protocol.slice(0, -1)} proxy (${shownProxy(url)}); registries are reached through http:// or https:// proxies only`);
  }
  const problem = hostNameProblem(url.hostname);
  if (problem !== undefined) throw new ProxyConfigError(`${name}: the proxy's host name ${problem}`);
  return url;
}

/** `text` as an absolute URL with a host, as Go's url.Parse takes a proxy value; undefined otherwise. */
function parseUrl(text: string): URL | undefined {
  try {
    const url = new URL(text);
    return url.host === '' ? undefined : url;
  } catch {
    return undefined;
  }
}

/** Where a request to `url` goes: its scheme's proxy unless NO_PROXY exempts the host, or directly when there is none. */
export function proxyRoute(settings: ProxySettings, url: URL): ProxyRoute {
  const proxy = url.protocol === 'https:' ? settings.httpsProxy : url.protocol === 'http:' ? settings.httpProxy : undefined;
  if (proxy === undefined) return { kind: 'direct' };
  if (url.protocol === 'http:' && settings.cgi) {
    return { kind: 'refused', reason: `refusing to use HTTP_PROXY for ${url.host}: REQUEST_METHOD is set, as in a CGI handler, where a client could set it` };
  }
  return bypassesProxy(settings.noProxy, url) ? { kind: 'direct' } : { kind: 'proxy', proxy };
}

/** The proxy as messages show it: scheme, host and port, never the credentials its URL may carry. */
export function shownProxy(proxy: URL): string {
  return `${proxy.protocol}//${proxy.host}`;
}
