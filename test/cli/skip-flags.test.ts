import { describe, expect, it } from 'vitest';
import { skipFlags, skipPolicyFlag } from '../../src/cli/skip-flags.js';
import { UsageError } from '../../src/cli/options.js';
import { parseImage } from '../../src/reference/index.js';

describe('skipPolicyFlag', () => {
  it('reads the policy name, and nothing without the flag', () => {
    expect(skipPolicyFlag({ 'skip-policy': 'digest-pinner-strict' })).toBe('digest-pinner-strict');
    expect(skipPolicyFlag({ skip: ['docker.io/istio/*'] })).toBeUndefined();
  });

  it.each(['', 'ns/name', 'Name', 'name_x', '-name', 'name-'])('refuses %j, saying what it wants', (flag) => {
    expect(() => skipPolicyFlag({ 'skip-policy': flag })).toThrow(new UsageError(`--skip-policy ${JSON.stringify(flag)} is not the name of a ValidatingAdmissionPolicy (e.g. digest-pinner-strict)`));
  });

  it('refuses it beside --skip: the list comes from one place', () => {
    expect(() => skipPolicyFlag({ skip: ['docker.io/istio/*'], 'skip-policy': 'a' })).toThrow('--skip and --skip-policy are exclusive');
  });
});

describe('skipFlags', () => {
  it("compiles the patterns as the policy's lines", () => {
    const skip = skipFlags(['docker.io/istio/*']);
    expect(skip.matches(parseImage('istio/proxyv2:1.20'))).toBe(true);
    expect(skip.matches(parseImage('istio/a/b:1'))).toBe(false);
  });

  it('refuses a pattern the strict policy would ignore, as a usage error naming it', () => {
    expect(() => skipFlags(['docker.io/istio/* # mesh'])).toThrow(UsageError);
    expect(() => skipFlags(['docker.io/istio/* # mesh'])).toThrow('--skip: skip pattern "docker.io/istio/* # mesh" may only have');
  });
});
