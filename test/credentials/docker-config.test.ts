import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DockerConfigError,
  dockerConfigDir,
  loadDockerConfig,
  parseDockerConfig,
  registryHostOfKey,
} from '../../src/credentials/docker-config.js';
import { b64 } from './fixtures.js';

const FILE = '/home/op/.docker/config.json';
const config = (auths: Record<string, unknown>) => JSON.stringify({ auths });
const users = (text: string, domain: string) => parseDockerConfig(text, FILE).lookup(domain).map((c) => `${c.username}:${c.password}`);

describe('registryHostOfKey', () => {
  it.each([
    ['https://index.docker.io/v1/', 'docker.io'],
    ['index.docker.io', 'docker.io'],
    ['docker.io', 'docker.io'],
    ['registry-1.docker.io', 'docker.io'],
    ['https://registry-1.docker.io/v2/', 'docker.io'],
    ['quay.io', 'quay.io'],
    ['https://quay.io/v1/', 'quay.io'],
    ['http://localhost:5000', 'localhost:5000'],
    ['localhost:5000/v2/', 'localhost:5000'],
    ['127.0.0.1:5000', '127.0.0.1:5000'],
    ['[::1]:5000', '[::1]:5000'],
    ['GHCR.IO', 'ghcr.io'],
    ['https://registry.example.com:8443/some/path', 'registry.example.com:8443'],
  ])('%s → %s', (key, want) => {
    expect(registryHostOfKey(key)).toBe(want);
  });
});

describe('parseDockerConfig', () => {
  it('decodes auth (base64 user:pass), keeping colons in the password', () => {
    expect(users(config({ 'quay.io': { auth: b64('robot+ci:pa:ss') } }), 'quay.io')).toEqual(['robot+ci:pa:ss']);
  });

  it('reads username and password fields', () => {
    expect(users(config({ 'ghcr.io': { username: 'u', password: 'p' } }), 'ghcr.io')).toEqual(['u:p']);
  });

  it('prefers a non-empty auth over username/password, as docker does', () => {
    expect(users(config({ 'ghcr.io': { auth: b64('a:1'), username: 'u', password: 'p' } }), 'ghcr.io')).toEqual(['a:1']);
  });

  it.each(['docker.io', 'index.docker.io', 'registry-1.docker.io'])('finds Docker Hub credentials for %s under every alias', (domain) => {
    const text = config({ 'https://index.docker.io/v1/': { auth: b64('hub:1') }, 'registry-1.docker.io': { auth: b64('hub:2') } });
    expect(users(text, domain)).toEqual(['hub:1', 'hub:2']);
  });

  it('puts the key docker login writes first', () => {
    const text = config({ 'docker.io': { auth: b64('alias:1') }, 'https://index.docker.io/v1/': { auth: b64('login:2') } });
    expect(users(text, 'docker.io')).toEqual(['login:2', 'alias:1']);
  });

  it('puts the exact host key before keys with a scheme or path', () => {
    const text = config({ 'https://quay.io/v1/': { auth: b64('old:1') }, 'quay.io': { auth: b64('new:2') } });
    expect(users(text, 'quay.io')).toEqual(['new:2', 'old:1']);
  });

  it('matches ports exactly and hosts case-insensitively', () => {
    const text = config({ 'localhost:5000': { auth: b64('five:1') }, 'http://LOCALHOST:5001/': { auth: b64('one:2') }, localhost: { auth: b64('none:3') } });
    expect(users(text, 'localhost:5000')).toEqual(['five:1']);
    expect(users(text, 'localhost:5001')).toEqual(['one:2']);
    expect(users(text, 'localhost')).toEqual(['none:3']);
    expect(users(text, 'localhost:5002')).toEqual([]);
  });

  it('drops duplicate credentials', () => {
    const text = config({ 'quay.io': { auth: b64('a:1') }, 'https://quay.io': { username: 'a', password: '1' } });
    expect(users(text, 'quay.io')).toEqual(['a:1']);
  });

  it('names the file and entry in the source, not the secret', () => {
    const [credential] = parseDockerConfig(config({ 'quay.io': { auth: b64('a:topsecret') } }), FILE).lookup('quay.io');
    expect(credential?.source).toBe(`docker config ${FILE} auths["quay.io"]`);
    expect(credential?.source).not.toContain('topsecret');
  });

  it.each([
    ['an empty file', ''],
    ['no auths', '{"credsStore":"desktop"}'],
    ['an entry written for a credential helper', config({ 'quay.io': {} })],
    ['an identity token only', config({ 'quay.io': { identitytoken: 'refresh' } })],
    ['an empty auth', config({ 'quay.io': { auth: '' } })],
  ])('gives no credentials for %s', (_name, text) => {
    expect(users(text, 'quay.io')).toEqual([]);
  });

  it.each([
    ['malformed JSON', '{"auths": {"quay.io": {"auth": "c2VjcmV0OnNlY3JldA=="}', /is not valid JSON \(at character \d+\)/],
    ['not an object', '[]', /is not a JSON object/],
    ['auths not an object', '{"auths": ["quay.io"]}', /"auths" is not an object/],
    ['an entry not an object', config({ 'quay.io': 'c2VjcmV0' }), /auths\["quay.io"\] is not an object/],
    ['auth not base64', config({ 'quay.io': { auth: 'not base64!' } }), /auths\["quay.io"\]\.auth is not valid base64/],
    ['auth base64 without padding', config({ 'quay.io': { auth: 'YTp' } }), /is not valid base64/],
    ['auth without a colon', config({ 'quay.io': { auth: b64('secretsecret') } }), /does not decode to "username:password"/],
    ['auth with an empty username', config({ 'quay.io': { auth: b64(':secret') } }), /does not decode to "username:password"/],
    ['auth not a string', config({ 'quay.io': { auth: 42 } }), /auths\["quay.io"\]\.auth is not a string/],
    ['password without username', config({ 'quay.io': { password: 'secret' } }), /has a password but no username/],
  ])('rejects %s, naming the file and never the secret', (_name, text, problem) => {
    expect(() => parseDockerConfig(text, FILE)).toThrow(DockerConfigError);
    try {
      parseDockerConfig(text, FILE);
    } catch (error) {
      const message = (error as Error).message;
      expect(message).toMatch(problem);
      expect(message.startsWith(`docker config ${FILE}: `)).toBe(true);
      expect(message).not.toMatch(/secret|c2VjcmV0/);
      expect((error as DockerConfigError).code).toBe('DP_ERR_DOCKER_CONFIG');
    }
  });
});

describe('dockerConfigDir', () => {
  it('prefers the option, then $DOCKER_CONFIG, then ~/.docker', () => {
    expect(dockerConfigDir('/opt/cfg', { DOCKER_CONFIG: '/env' }, '/home/op')).toBe('/opt/cfg');
    expect(dockerConfigDir(undefined, { DOCKER_CONFIG: '/env' }, '/home/op')).toBe('/env');
    expect(dockerConfigDir(undefined, {}, '/home/op')).toBe('/home/op/.docker');
    expect(dockerConfigDir('', { DOCKER_CONFIG: '' }, '/home/op')).toBe('/home/op/.docker');
  });
});

describe('loadDockerConfig', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dp-docker-config-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads <dir>/config.json', async () => {
    const cfgDir = join(dir, 'ok');
    await mkdir(cfgDir);
    await writeFile(join(cfgDir, 'config.json'), config({ '127.0.0.1:5000': { auth: b64('u:p') } }));
    const loaded = await loadDockerConfig(cfgDir);
    expect(loaded.file).toBe(join(cfgDir, 'config.json'));
    expect(loaded.lookup('127.0.0.1:5000')).toEqual([{ username: 'u', password: 'p', source: `docker config ${loaded.file} auths["127.0.0.1:5000"]` }]);
  });

  it('reads the directory dockerConfigDir gives for $DOCKER_CONFIG when no directory is given', async () => {
    const cfgDir = join(dir, 'env');
    await mkdir(cfgDir);
    await writeFile(join(cfgDir, 'config.json'), config({ 'quay.io': { auth: b64('e:1') } }));
    expect((await loadDockerConfig(dockerConfigDir(undefined, { DOCKER_CONFIG: cfgDir }, join(dir, 'home')))).lookup('quay.io')).toHaveLength(1);
  });

  it('gives no credentials when the file (or directory) is missing', async () => {
    expect((await loadDockerConfig(join(dir, 'nope'))).lookup('docker.io')).toEqual([]);
  });

  it('fails with a typed error when config.json cannot be read', async () => {
    const cfgDir = join(dir, 'isdir');
    await mkdir(join(cfgDir, 'config.json'), { recursive: true });
    await expect(loadDockerConfig(cfgDir)).rejects.toThrow(/config\.json: cannot be read \(EISDIR\)/);
  });

  it('fails with a typed error for a malformed file', async () => {
    const cfgDir = join(dir, 'bad');
    await mkdir(cfgDir);
    await writeFile(join(cfgDir, 'config.json'), '{"auths": nope');
    await expect(loadDockerConfig(cfgDir)).rejects.toBeInstanceOf(DockerConfigError);
  });
});

describe('parseDockerConfig: credential helpers', () => {
  const helpers = (text: string) => parseDockerConfig(text, FILE);

  it('names the credHelpers entry for a registry, else credsStore', () => {
    const parsed = helpers(JSON.stringify({ credsStore: 'desktop', credHelpers: { '123.dkr.ecr.eu-west-1.amazonaws.com': 'ecr-login', 'https://index.docker.io/v1/': 'pass' } }));
    expect(parsed.hasHelpers).toBe(true);
    expect(parsed.helperFor('123.dkr.ecr.eu-west-1.amazonaws.com')).toBe('ecr-login');
    expect(parsed.helperFor('docker.io')).toBe('pass');
    expect(parsed.helperFor('quay.io')).toBe('desktop');
  });

  it('has no helper without credHelpers or credsStore (an empty credsStore counts as none)', () => {
    const parsed = helpers(JSON.stringify({ credsStore: '', auths: {} }));
    expect(parsed.hasHelpers).toBe(false);
    expect(parsed.helperFor('quay.io')).toBeUndefined();
  });

  it.each([
    [{ credsStore: '../../bin/sh' }, '"credsStore" is not a helper name (docker-credential-<name>)'],
    [{ credsStore: 7 }, '"credsStore" is not a helper name'],
    [{ credHelpers: [] }, '"credHelpers" is not an object'],
    [{ credHelpers: { 'quay.io': 'a/b' } }, 'credHelpers["quay.io"] is not a helper name'],
  ])('refuses %j', (config, problem) => {
    expect(() => helpers(JSON.stringify(config))).toThrow(DockerConfigError);
    expect(() => helpers(JSON.stringify(config))).toThrow(problem);
  });
});
