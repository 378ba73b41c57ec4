import { describe, expect, it } from 'vitest';
import { DIRECT, proxyRoute, proxySettingsFromEnv, shownProxy, type ProxySettings } from '../../src/registry/proxy-settings.js';
import { rejection } from '../support/rejection.js';

function route(env: Record<string, string>, url: string): string {
  const r = proxyRoute(proxySettingsFromEnv(env), new URL(url));
  return r.kind === 'proxy' ? r.proxy.href : r.kind;
}

describe('proxySettingsFromEnv', () => {
  it('reads nothing from an environment without proxies', () => {
    expect(proxySettingsFromEnv({ PATH: '/usr/bin' })).toEqual(DIRECT);
  });

  it('takes HTTPS_PROXY for https:// and HTTP_PROXY for http://, never one for the other', () => {
    expect(route({ HTTPS_PROXY: 'http://tls-proxy:3128' }, 'https://registry.example.com/')).toBe('http://tls-proxy:3128/');
    expect(route({ HTTPS_PROXY: 'http://tls-proxy:3128' }, 'http://registry.example.com/')).toBe('direct');
    expect(route({ HTTP_PROXY: 'http://plain-proxy:3128' }, 'https://registry.example.com/')).toBe('direct');
    expect(route({ HTTP_PROXY: 'http://plain-proxy:3128' }, 'http://registry.example.com/')).toBe('http://plain-proxy:3128/');
  });

  it('prefers each upper-case name to its lower-case one, and takes the lower-case one when the upper is unset or empty', () => {
    expect(route({ HTTPS_PROXY: 'http://upper:1', https_proxy: 'http://lower:2' }, 'https://r.example/')).toBe('http://upper:1/');
    expect(route({ https_proxy: 'http://lower:2' }, 'https://r.example/')).toBe('http://lower:2/');
    expect(route({ HTTPS_PROXY: '', https_proxy: 'http://lower:2' }, 'https://r.example/')).toBe('http://lower:2/');
    expect(route({ HTTPS_PROXY: 'http://p:1', NO_PROXY: 'other.example', no_proxy: 'r.example' }, 'https://r.example/')).toBe('http://p:1/');
    expect(route({ HTTPS_PROXY: 'http://p:1', no_proxy: 'r.example' }, 'https://r.example/')).toBe('direct');
  });

  it('reads a proxy without a scheme as http://', () => {
    expect(proxySettingsFromEnv({ HTTPS_PROXY: 'proxy.corp:3128' }).httpsProxy?.href).toBe('http://proxy.corp:3128/');
    expect(proxySettingsFromEnv({ HTTPS_PROXY: '10.0.0.1:3128' }).httpsProxy?.href).toBe('http://10.0.0.1:3128/');
    expect(proxySettingsFromEnv({ HTTPS_PROXY: 'proxy.corp' }).httpsProxy?.href).toBe('http://proxy.corp/');
    expect(proxySettingsFromEnv({ HTTPS_PROXY: 'https://proxy.corp:8443' }).httpsProxy?.href).toBe('https://proxy.corp:8443/');
  });

  it('keeps credentials in the URL (they become Proxy-Authorization) but never shows them', () => {
    const proxy = proxySettingsFromEnv({ HTTPS_PROXY: 'http://user:s3cret@proxy.corp:3128' }).httpsProxy;
    expect(proxy?.username).toBe('user');
    expect(proxy === undefined ? '' : shownProxy(proxy)).toBe('http://proxy.corp:3128');
  });

  it('refuses a SOCKS or other proxy, a value that is no URL and a proxy host no DNS name can be, without quoting credentials', async () => {
    const refusal = (env: Record<string, string>) => rejection(Promise.resolve().then(() => proxySettingsFromEnv(env)));
    expect(await refusal({ HTTPS_PROXY: 'socks5://user:s3cret@proxy.corp:1080' })).toMatchObject({
      code: 'DP_ERR_PROXY_CONFIG',
      message: 'HTTPS_PROXY names a socks5 proxy (socks5://proxy.corp:1080); registries are reached through http:// or https:// proxies only',
    });
    expect(await refusal({ http_proxy: 'http://[::1' })).toMatchObject({ code: 'DP_ERR_PROXY_CONFIG', message: 'http_proxy is neither a URL nor host[:port]' });
    expect(await refusal({ HTTPS_PROXY: `http://${'a'.repeat(64)}.corp:3128` })).toMatchObject({
      code: 'DP_ERR_PROXY_CONFIG',
      message: "HTTPS_PROXY: the proxy's host name has a label of 64 characters; no DNS label is longer than 63",
    });
  });

  it('marks a CGI environment (REQUEST_METHOD set)', () => {
    expect(proxySettingsFromEnv({ REQUEST_METHOD: 'GET' }).cgi).toBe(true);
    expect(proxySettingsFromEnv({ REQUEST_METHOD: '' }).cgi).toBe(false);
  });
});

describe('proxyRoute', () => {
  const settings: ProxySettings = proxySettingsFromEnv({ HTTPS_PROXY: 'http://p:3128', HTTP_PROXY: 'http://p:3128', NO_PROXY: '10.0.0.0/8,.svc' });

  it('goes directly to hosts NO_PROXY lists, and to localhost and loopback literals', () => {
    expect(proxyRoute(settings, new URL('https://10.96.0.10:5000/')).kind).toBe('direct');
    expect(proxyRoute(settings, new URL('https://registry.ns.svc/')).kind).toBe('direct');
    expect(proxyRoute(settings, new URL('https://127.0.0.1:5000/')).kind).toBe('direct');
    expect(proxyRoute(settings, new URL('https://registry.example.com/')).kind).toBe('proxy');
  });

  it('refuses HTTP_PROXY in a CGI environment, even for a host NO_PROXY lists, and keeps HTTPS_PROXY', () => {
    const cgi = { ...settings, cgi: true };
    const refused = proxyRoute(cgi, new URL('http://registry.example.com/'));
    expect(refused.kind === 'refused' ? refused.reason : refused.kind).toMatch(/^refusing to use HTTP_PROXY for registry\.example\.com: REQUEST_METHOD is set/);
    expect(proxyRoute(cgi, new URL('http://registry.ns.svc/')).kind).toBe('refused');
    expect(proxyRoute(cgi, new URL('https://registry.example.com/')).kind).toBe('proxy');
  });
});
