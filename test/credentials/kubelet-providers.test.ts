import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CredentialProviderConfigError,
  KubeletCredentialProviders,
  loadCredentialProviders,
  parseCredentialProviderConfig,
  parseProviderResponse,
} from '../../src/credentials/kubelet-providers.js';
import { FIXTURE_DIR, makeExecutable, runs } from './fixtures.js';

const FILE = '/etc/kubernetes/credential-providers.yaml';
const REGISTRY = '123.dkr.ecr.eu-west-1.amazonaws.com';
const ECR = { domain: REGISTRY, name: `${REGISTRY}/team/app` };

const provider = (fields: Record<string, unknown> = {}) => ({
  name: 'test-provider',
  matchImages: ['*.dkr.ecr.*.amazonaws.com'],
  defaultCacheDuration: '12h',
  apiVersion: 'credentialprovider.kubelet.k8s.io/v1',
  ...fields,
});
const config = (...providers: unknown[]) => JSON.stringify({ apiVersion: 'kubelet.config.k8s.io/v1', kind: 'CredentialProviderConfig', providers });

let dir: string;
let counter = 0;

beforeAll(async () => {
  await makeExecutable();
  dir = await mkdtemp(join(tmpdir(), 'dp-providers-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Providers whose plugin counts its runs in a fresh file, with a clock of their own that the test moves. */
function providersWith(fields: Record<string, unknown>, env: Record<string, string> = {}, timeoutMs = 5_000) {
  counter += 1;
  const countFile = join(dir, `count-${String(counter)}`);
  const specs = parseCredentialProviderConfig(config(provider(fields)), FILE);
  const baseEnv = { PATH: process.env['PATH'], DP_TEST_REGISTRY: REGISTRY, DP_TEST_USERNAME: 'AWS', DP_TEST_PASSWORD: 'ecr-token', DP_TEST_COUNT_FILE: countFile, ...env };
  const clock = { now: Date.parse('2030-01-01T00:00:00Z') };
  const providers = new KubeletCredentialProviders(specs, { binDir: FIXTURE_DIR, env: baseEnv, timeoutMs, now: () => clock.now });
  return { providers, countFile, clock };
}

describe('parseCredentialProviderConfig', () => {
  it('reads the kubelet file (YAML), with args and env', () => {
    const yaml = `apiVersion: kubelet.config.k8s.io/v1
kind: CredentialProviderConfig
providers:
  - name: ecr-credential-provider
    matchImages: ["*.dkr.ecr.*.amazonaws.com", "*.dkr.ecr.*.amazonaws.com.cn"]
    defaultCacheDuration: 12h
    apiVersion: credentialprovider.kubelet.k8s.io/v1
    args: [get-credentials]
    env: [{ name: AWS_PROFILE, value: nodes }]
`;
    const [spec] = parseCredentialProviderConfig(yaml, FILE);
    expect(spec).toMatchObject({
      name: 'ecr-credential-provider',
      defaultCacheDurationMs: 12 * 3_600_000,
      args: ['get-credentials'],
      env: { AWS_PROFILE: 'nodes' },
    });
  });

  it.each([
    [JSON.stringify({ kind: 'CredentialProviderConfig', apiVersion: 'v1', providers: [provider()] }), 'apiVersion must be one of'],
    [config(), 'providers must be a non-empty list'],
    [config(provider({ name: '../bin/sh' })), 'providers[0].name must be a file name in the bin dir'],
    [config(provider({ matchImages: [] })), 'providers[0] (test-provider).matchImages must not be empty'],
    [config(provider({ matchImages: ['ftp://x'] })), 'matchImages[0] "ftp://x" has a scheme other than http:// or https://'],
    [config(provider({ defaultCacheDuration: 'soon' })), 'defaultCacheDuration must be a duration'],
    [config(provider({ apiVersion: 'credentialprovider.kubelet.k8s.io/v2' })), '.apiVersion must be one of'],
    [config(provider({ tokenAttributes: { serviceAccountTokenAudience: 'x' } })), 'tokenAttributes is not supported'],
    [config(provider({ env: [{ name: 'A' }] })), 'env[0] must have a string name and value'],
    [config(provider(), provider()), 'provider name "test-provider" appears twice'],
    ['providers: [', 'is not valid YAML or JSON'],
  ])('refuses %s', (text, problem) => {
    expect(() => parseCredentialProviderConfig(text, FILE)).toThrow(CredentialProviderConfigError);
    expect(() => parseCredentialProviderConfig(text, FILE)).toThrow(problem);
  });
});

describe('loadCredentialProviders', () => {
  it('refuses a provider whose plugin is not in the bin dir', async () => {
    const file = join(dir, 'providers.json');
    await writeFile(file, config(provider({ name: 'ecr-credential-provider' })));
    await expect(loadCredentialProviders(file, { binDir: FIXTURE_DIR, env: {} })).rejects.toThrow(`provider ecr-credential-provider: ${FIXTURE_DIR}ecr-credential-provider is not an executable`);
  });
});

describe('KubeletCredentialProviders.matching (kubelet globs)', () => {
  const specs = parseCredentialProviderConfig(config(provider({ matchImages: ['*.dkr.ecr.*.amazonaws.com', '*.azurecr.io', 'registry.example.com:5000/team'] })), FILE);
  const providers = new KubeletCredentialProviders(specs, { binDir: FIXTURE_DIR, env: {} });
  it.each([
    [`${REGISTRY}/app`, true],
    ['123.dkr.ecr.eu-west-1.amazonaws.com.evil.io/app', false],
    ['a.b.dkr.ecr.eu-west-1.amazonaws.com/app', false],
    ['myreg.azurecr.io/x/y', true],
    ['azurecr.io/x', false],
    ['registry.example.com:5000/team/app', true],
    ['registry.example.com:5000/teammate/app', false],
    ['registry.example.com/team/app', false],
  ])('%s → %s', (image, want) => {
    expect(providers.matching(image).length > 0).toBe(want);
  });
});

describe('parseProviderResponse', () => {
  const spec = { name: 'p', apiVersion: 'credentialprovider.kubelet.k8s.io/v1', defaultCacheDurationMs: 60_000 };
  const response = (fields: Record<string, unknown>) =>
    JSON.stringify({ apiVersion: spec.apiVersion, kind: 'CredentialProviderResponse', cacheKeyType: 'Registry', ...fields });

  it('uses defaultCacheDuration when cacheDuration is absent', () => {
    expect(parseProviderResponse(response({}), spec)).toMatchObject({ cacheKeyType: 'Registry', cacheDurationMs: 60_000, entries: [] });
  });

  it.each([
    [response({ apiVersion: 'credentialprovider.kubelet.k8s.io/v1beta1' }), "apiVersion is not credentialprovider.kubelet.k8s.io/v1, the request's"],
    [response({ cacheKeyType: 'Pod' }), 'cacheKeyType is not Image, Registry or Global'],
    [response({ cacheDuration: 'later' }), 'cacheDuration is not a duration'],
    [response({ auth: { 'x.io': { username: 1, password: 'secret-value' } } }), 'username and password must be strings'],
    ['secret-value', 'response is not JSON'],
  ])('refuses %s', (stdout, problem) => {
    expect(() => parseProviderResponse(stdout, spec)).toThrow(problem);
    try {
      parseProviderResponse(stdout, spec);
    } catch (error) {
      expect(String(error)).not.toContain('secret-value');
    }
  });
});

describe('KubeletCredentialProviders.lookup (the exec plugin)', () => {
  it('sends a CredentialProviderRequest and uses the auth entries that match the image', async () => {
    const { providers, countFile } = providersWith({ args: ['--flag'] });
    const found = await providers.lookup(ECR);
    expect(found).toEqual({
      credentials: [{ username: 'AWS', password: 'ecr-token', source: `kubelet credential provider test-provider (${REGISTRY})` }],
      notes: [],
      matched: ['test-provider'],
    });
    expect(await runs(countFile)).toBe(1);
  });

  it('runs nothing for an image no matchImages pattern matches', async () => {
    const { providers, countFile } = providersWith({});
    expect(await providers.lookup({ domain: 'quay.io', name: 'quay.io/team/app' })).toEqual({ credentials: [], notes: [], matched: [] });
    expect(await runs(countFile)).toBe(0);
  });

  it('caches a Registry answer for its cacheDuration, for every image of that registry', async () => {
    const { providers, countFile, clock } = providersWith({}, { DP_TEST_CACHE_DURATION: '1s' });
    await providers.lookup(ECR);
    await providers.lookup({ domain: REGISTRY, name: `${REGISTRY}/other/app` });
    clock.now += 999;
    await providers.lookup(ECR);
    expect(await runs(countFile)).toBe(1);
    clock.now += 2;
    await providers.lookup(ECR);
    expect(await runs(countFile)).toBe(2);
  });

  it('caches an Image answer for that image only', async () => {
    const { providers, countFile } = providersWith({}, { DP_TEST_CACHE_KEY_TYPE: 'Image' });
    await providers.lookup(ECR);
    await providers.lookup(ECR);
    await providers.lookup({ domain: REGISTRY, name: `${REGISTRY}/other/app` });
    expect(await runs(countFile)).toBe(2);
  });

  it('does not cache an answer with cacheDuration 0, and shares one run between concurrent lookups', async () => {
    const { providers, countFile } = providersWith({}, { DP_TEST_CACHE_DURATION: '0s' });
    await Promise.all([providers.lookup(ECR), providers.lookup(ECR)]);
    await providers.lookup(ECR);
    expect(await runs(countFile)).toBe(2);
  });

  it('takes env from the provider configuration (defaultCacheDuration applies when the answer has none)', async () => {
    const { providers, countFile } = providersWith({ defaultCacheDuration: '0s', env: [{ name: 'DP_TEST_USERNAME', value: 'from-config' }] });
    expect((await providers.lookup(ECR)).credentials.map((c) => c.username)).toEqual(['from-config']);
    await providers.lookup(ECR);
    expect(await runs(countFile)).toBe(2);
  });

  it('notes a provider that answers nothing for the image', async () => {
    const { providers } = providersWith({}, { DP_TEST_REGISTRY: '999.dkr.ecr.us-east-1.amazonaws.com' });
    expect(await providers.lookup(ECR)).toMatchObject({ credentials: [], notes: [`kubelet credential provider test-provider returned no credentials for ${ECR.name}`] });
  });

  it('kills a plugin that does not answer in time, and notes it', async () => {
    // The plugin would sleep past the test's own timeout: the lookup ends only because it is killed.
    const { providers } = providersWith({}, { DP_TEST_PROVIDER_SLEEP: '600' }, 100);
    const found = await providers.lookup(ECR);
    expect(found.notes).toEqual([expect.stringMatching(/^kubelet credential provider test-provider failed: .*test-provider: no answer within 100 ms \(killed\)$/)]);
  });
});
