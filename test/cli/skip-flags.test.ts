import { describe, expect, it } from 'vitest';
import { skipConfigMapFlag, skipFlags } from '../../src/cli/skip-flags.js';
import { UsageError } from '../../src/cli/options.js';
import { parseImage } from '../../src/reference/index.js';

describe('skipConfigMapFlag', () => {
  it('reads NAMESPACE/NAME, and nothing without the flag', () => {
    expect(skipConfigMapFlag({ 'skip-configmap': 'digest-pinner/digest-pinner-skip' })).toEqual({ namespace: 'digest-pinner', name: 'digest-pinner-skip' });
    expect(skipConfigMapFlag({ skip: ['docker.io/istio/*'] })).toBeUndefined();
  });

  it.each(['digest-pinner-skip', 'a/b/c', '/name', 'ns/', 'NS/name', 'ns/name_x', 'ns/-name'])('refuses %j, saying what it wants', (flag) => {
    expect(() => skipConfigMapFlag({ 'skip-configmap': flag })).toThrow(new UsageError(`--skip-configmap ${JSON.stringify(flag)} is not NAMESPACE/NAME (e.g. digest-pinner/digest-pinner-skip)`));
  });

  it('refuses it beside --skip: the list comes from one place', () => {
    expect(() => skipConfigMapFlag({ skip: ['docker.io/istio/*'], 'skip-configmap': 'a/b' })).toThrow('--skip and --skip-configmap are exclusive');
  });
});

describe('skipFlags', () => {
  it('compiles the patterns as the ConfigMap lines', () => {
    const skip = skipFlags(['docker.io/istio/*']);
    expect(skip.matches(parseImage('istio/proxyv2:1.20'))).toBe(true);
    expect(skip.matches(parseImage('istio/a/b:1'))).toBe(false);
  });

  it('refuses a pattern the strict policy would ignore, as a usage error naming it', () => {
    expect(() => skipFlags(['docker.io/istio/* # mesh'])).toThrow(UsageError);
    expect(() => skipFlags(['docker.io/istio/* # mesh'])).toThrow('--skip: skip pattern "docker.io/istio/* # mesh" may only have');
  });
});
