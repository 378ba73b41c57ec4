import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  keyringOf,
  mergeKeyrings,
  parseDockerConfigJson,
  parseDockercfg,
  parsePullSecret,
  parseRegistryPattern,
  PULL_SECRET_TYPES,
} from '../../src/credentials/keyring.js';
import { auth, b64 } from './fixtures.js';

const SOURCE = 'secret team-a/regcred';
/** Usernames of the credentials matching `image` for a dockerconfigjson with `auths`. */
const usersFor = (auths: Record<string, unknown>, image: string) =>
  parseDockerConfigJson({ auths }, SOURCE).keyring.credentialsFor(image).map((c) => c.username);

describe('parseRegistryPattern', () => {
  it.each([
    ['quay.io', ['quay', 'io'], '', ''],
    ['https://quay.io', ['quay', 'io'], '', ''],
    ['http://quay.io/', ['quay', 'io'], '', ''],
    ['HTTPS://Quay.IO', ['quay', 'io'], '', ''],
    ['https://quay.io/v1/', ['quay', 'io'], '', ''],
    ['https://quay.io/v2/team', ['quay', 'io'], '', '/team'],
    ['quay.io/v1', ['quay', 'io'], '', '/v1'],
    ['registry.example.com:5000/team/', ['registry', 'example', 'com'], '5000', '/team'],
    ['*.example.com', ['*', 'example', 'com'], '', ''],
    ['https://index.docker.io/v1/', ['docker', 'io'], '', ''],
    ['index.docker.io', ['docker', 'io'], '', ''],
    ['registry-1.docker.io', ['docker', 'io'], '', ''],
    ['docker.io/library', ['docker', 'io'], '', '/library'],
    ['index.docker.io:443', ['index', 'docker', 'io'], '443', ''],
    ['[::1]:5000', ['::1'], '5000', ''],
    ['localhost', ['localhost'], '', ''],
    ['127.0.0.1:5000', ['127', '0', '0', '1'], '5000', ''],
  ])('%s', (key, labels, port, path) => {
    expect(parseRegistryPattern(key)).toEqual({ labels, port, path });
  });

  it.each([
    ['', 'is not host[:port][/path]'],
    ['oci://quay.io', 'has a scheme other than http:// or https://'],
    ['user@quay.io', 'is not host[:port][/path]'],
    ['quay.io:port', 'is not host[:port][/path]'],
    ['quay..io', 'is not host[:port][/path]'],
    ['quay.io/a b', 'has an invalid path'],
    ['quay.io/team?x=1', 'has an invalid path'],
    ['::1', 'is not host[:port][/path]'],
  ])('rejects %j: %s', (key, problem) => {
    expect(parseRegistryPattern(key)).toBe(problem);
  });
});

describe('credentialsFor: hosts and ports', () => {
  it.each([
    // key, image, matches?
    ['quay.io', 'quay.io/team/app', true],
    ['quay.io', 'ghcr.io/team/app', false],
    ['quay.io', 'quay.io:443/team/app', false],
    ['quay.io:443', 'quay.io/team/app', false],
    ['quay.io:443', 'quay.io:443/team/app', true],
    ['registry.example.com:5000', 'registry.example.com:5001/app', false],
    ['https://registry.example.com:5000/', 'registry.example.com:5000/app', true],
    ['REGISTRY.example.com', 'registry.example.com/app', true],
    ['localhost:5000', 'localhost:5000/app', true],
    ['[::1]:5000', '[::1]:5000/app', true],
    ['[::1]:5000', '[::2]:5000/app', false],
    ['127.0.0.1:5000', '127.0.0.1:5000/app', true],
  ])('%s for %s: %s', (key, image, matches) => {
    expect(usersFor({ [key]: auth('u') }, image)).toEqual(matches ? ['u'] : []);
  });
});

describe('credentialsFor: wildcards', () => {
  it.each([
    ['*.example.com', 'registry.example.com/app', true],
    ['*.example.com', 'example.com/app', false],
    ['*.example.com', 'a.b.example.com/app', false],
    ['*.example.com', 'registry.example.org/app', false],
    ['*.*.example.com', 'a.b.example.com/app', true],
    ['registry.*.com', 'registry.example.com/app', true],
    ['reg*.example.com', 'registry.example.com/app', true],
    ['reg*.example.com', 'cache.example.com/app', false],
    ['*.example.com:5000', 'registry.example.com:5000/app', true],
    ['*.example.com:5000', 'registry.example.com/app', false],
    ['*.azurecr.io/team', 'tenant.azurecr.io/team/app', true],
    ['*.azurecr.io/team', 'tenant.azurecr.io/other/app', false],
    ['*', 'localhost/app', true],
    ['*', 'quay.io/app', false],
  ])('%s for %s: %s', (key, image, matches) => {
    expect(usersFor({ [key]: auth('u') }, image)).toEqual(matches ? ['u'] : []);
  });

  it('a * never crosses a dot, whatever the label (property)', () => {
    const label = fc.stringMatching(/^[a-z0-9-]{1,12}$/);
    fc.assert(
      fc.property(label, label, label, (a, b, c) => {
        expect(usersFor({ '*.example.com': auth('u') }, `${a}.${b}.example.com/app`)).toEqual([]);
        expect(usersFor({ '*.example.com': auth('u') }, `${c}.example.com/app`)).toEqual(['u']);
      }),
    );
  });
});

describe('credentialsFor: paths', () => {
  it.each([
    ['quay.io/team', 'quay.io/team/app', true],
    ['quay.io/team', 'quay.io/team', true],
    ['quay.io/team/', 'quay.io/team/app', true],
    ['quay.io/team', 'quay.io/teammate/app', false],
    ['quay.io/team', 'quay.io/other/team/app', false],
    ['quay.io/team/app', 'quay.io/team/app', true],
    ['quay.io/team/app', 'quay.io/team/application', false],
    ['https://quay.io/v1/team', 'quay.io/team/app', true],
    ['https://quay.io/v2/', 'quay.io/anything/app', true],
    ['quay.io/Team', 'quay.io/team/app', false],
  ])('%s for %s: %s', (key, image, matches) => {
    expect(usersFor({ [key]: auth('u') }, image)).toEqual(matches ? ['u'] : []);
  });

  it('a key path matches exactly the images below it (property)', () => {
    const segment = fc.stringMatching(/^[a-z0-9]{1,6}$/);
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 3 }), fc.array(segment, { minLength: 1, maxLength: 3 }), (keyPath, imagePath) => {
        const key = `quay.io/${keyPath.join('/')}`;
        const image = `quay.io/${imagePath.join('/')}`;
        const below = imagePath.length >= keyPath.length && keyPath.every((s, i) => imagePath[i] === s);
        expect(usersFor({ [key]: auth('u') }, image)).toEqual(below ? ['u'] : []);
      }),
    );
  });
});

describe('credentialsFor: Docker Hub', () => {
  it.each(['https://index.docker.io/v1/', 'index.docker.io', 'docker.io', 'registry-1.docker.io', 'http://index.docker.io/v1/', 'https://docker.io'])(
    'key %s matches docker.io images',
    (key) => {
      expect(usersFor({ [key]: auth('hub') }, 'docker.io/library/nginx')).toEqual(['hub']);
      expect(usersFor({ [key]: auth('hub') }, 'docker.io/team/app')).toEqual(['hub']);
    },
  );

  it('does not match other registries, nor Docker Hub with a port', () => {
    expect(usersFor({ 'docker.io': auth('hub') }, 'quay.io/library/nginx')).toEqual([]);
    expect(usersFor({ 'index.docker.io:443': auth('hub') }, 'docker.io/library/nginx')).toEqual([]);
    expect(usersFor({ '*.docker.io': auth('hub') }, 'docker.io/library/nginx')).toEqual([]);
  });

  it('treats an image written with an alias domain as docker.io', () => {
    expect(usersFor({ 'https://index.docker.io/v1/': auth('hub') }, 'index.docker.io/library/nginx')).toEqual(['hub']);
  });

  it('scopes a Docker Hub key with a path to that namespace', () => {
    const auths = { 'docker.io/team': auth('team'), 'https://index.docker.io/v1/': auth('any') };
    expect(usersFor(auths, 'docker.io/team/app')).toEqual(['team', 'any']);
    expect(usersFor(auths, 'docker.io/library/nginx')).toEqual(['any']);
  });
});

describe('credentialsFor: order', () => {
  it('puts longer keys before their own prefix, as kubelet sorts its index', () => {
    const auths = { 'quay.io': auth('host'), 'quay.io/team': auth('team'), 'quay.io/team/app': auth('app') };
    expect(usersFor(auths, 'quay.io/team/app')).toEqual(['app', 'team', 'host']);
  });

  it('puts an exact host before a wildcard', () => {
    expect(usersFor({ '*.example.com': auth('wild'), 'registry.example.com': auth('exact') }, 'registry.example.com/app')).toEqual([
      'exact',
      'wild',
    ]);
  });

  it('keeps the written order of keys that normalise alike (Docker Hub aliases)', () => {
    const auths = { 'https://index.docker.io/v1/': auth('login'), 'docker.io': auth('alias'), 'index.docker.io': auth('old') };
    expect(usersFor(auths, 'docker.io/library/nginx')).toEqual(['login', 'alias', 'old']);
  });

  it('drops a repeated username/password pair, keeping the first', () => {
    const auths = { 'quay.io/team': auth('same'), 'quay.io': auth('same'), 'https://quay.io': auth('other') };
    expect(usersFor(auths, 'quay.io/team/app')).toEqual(['same', 'other']);
  });

  it('is the same for any insertion order of distinct keys (property)', () => {
    const keys = ['quay.io', 'quay.io/team', 'quay.io/team/app', '*.io', 'https://quay.io/v1/team/app/x'];
    fc.assert(
      fc.property(fc.shuffledSubarray(keys, { minLength: keys.length, maxLength: keys.length }), (order) => {
        const auths = Object.fromEntries(order.map((key) => [key, auth(key)]));
        expect(usersFor(auths, 'quay.io/team/app')).toEqual(['quay.io/team/app', 'quay.io/team', 'quay.io', '*.io']);
      }),
    );
  });
});

describe('mergeKeyrings', () => {
  const ring = (name: string, auths: Record<string, unknown>) => parseDockerConfigJson({ auths }, `secret team-a/${name}`).keyring;

  it('orders across secrets by key, then by secret order, as kubelet merges a pod secrets', () => {
    const first = ring('first', { 'quay.io': auth('first-host') });
    const second = ring('second', { 'quay.io/team': auth('second-team'), 'quay.io': auth('second-host') });
    const merged = mergeKeyrings([first, second]).credentialsFor('quay.io/team/app');
    expect(merged.map((c) => `${c.source} ${c.username}`)).toEqual([
      'secret team-a/second second-team',
      'secret team-a/first first-host',
      'secret team-a/second second-host',
    ]);
  });

  it('is empty for no keyrings', () => {
    expect(mergeKeyrings([]).credentialsFor('quay.io/app')).toEqual([]);
  });
});

describe('credentials', () => {
  it('decodes auth, keeping colons in the password, and names the secret as source', () => {
    const [credential] = parseDockerConfigJson({ auths: { 'quay.io': { auth: b64('robot+ci:pa:ss') } } }, SOURCE).keyring.credentialsFor('quay.io/x');
    expect(credential).toEqual({ username: 'robot+ci', password: 'pa:ss', source: SOURCE });
  });

  it('reads username/password, and prefers a non-empty auth over them, as kubelet does', () => {
    const keyring = parseDockerConfigJson(
      { auths: { 'a.io': { username: 'u', password: 'p' }, 'b.io': { auth: b64('a:1'), username: 'u', password: 'p' }, 'c.io': { auth: '', username: 'u' } } },
      SOURCE,
    ).keyring;
    expect(keyring.credentialsFor('a.io/x')[0]).toMatchObject({ username: 'u', password: 'p' });
    expect(keyring.credentialsFor('b.io/x')[0]).toMatchObject({ username: 'a', password: '1' });
    expect(keyring.credentialsFor('c.io/x')[0]).toMatchObject({ username: 'u', password: '' });
  });

  it('reads a legacy .dockercfg (the map itself)', () => {
    const parsed = parseDockercfg({ 'https://quay.io': { auth: b64('old:pw'), email: 'x@example.com' } }, SOURCE);
    expect(parsed.problems).toEqual([]);
    expect(parsed.keyring.credentialsFor('quay.io/app')).toEqual([{ username: 'old', password: 'pw', source: SOURCE }]);
  });
});

describe('malformed entries', () => {
  const SECRET_VALUE = 'hunter2-do-not-log';

  it.each([
    [{ 'quay.io': 'not an object' }, 'secret team-a/regcred: auths["quay.io"] skipped: entry is not an object'],
    [{ 'quay.io': { auth: 'not base64!' } }, 'secret team-a/regcred: auths["quay.io"] skipped: "auth" is not valid base64'],
    [{ 'quay.io': { auth: b64(SECRET_VALUE) } }, 'secret team-a/regcred: auths["quay.io"] skipped: "auth" does not decode to "username:password"'],
    [{ 'quay.io': { auth: b64(`:${SECRET_VALUE}`) } }, 'secret team-a/regcred: auths["quay.io"] skipped: "auth" does not decode to "username:password"'],
    [{ 'quay.io': { auth: 42 } }, 'secret team-a/regcred: auths["quay.io"] skipped: "auth" is not a string'],
    [{ 'quay.io': { username: 'u', password: 7 } }, 'secret team-a/regcred: auths["quay.io"] skipped: "password" is not a string'],
    [{ 'quay.io': { email: 'x@example.com' } }, 'secret team-a/regcred: auths["quay.io"] skipped: has no credentials'],
    [{ 'quay.io': { password: 'x' } }, 'secret team-a/regcred: auths["quay.io"] skipped: entry has a password but no username'],
    [{ 'quay.io': { identitytoken: SECRET_VALUE } }, 'secret team-a/regcred: auths["quay.io"] skipped: has only an identity or registry token (not supported)'],
    [{ 'oci://quay.io': auth('u') }, 'secret team-a/regcred: auths["oci://quay.io"] skipped: key has a scheme other than http:// or https://'],
    [{ 'quay.io/a b': auth('u') }, 'secret team-a/regcred: auths["quay.io/a b"] skipped: key has an invalid path'],
  ])('skips %j', (auths, problem) => {
    const parsed = parseDockerConfigJson({ auths: { ...auths, 'ghcr.io': auth('good') } }, SOURCE);
    expect(parsed.problems).toEqual([problem]);
    expect(parsed.problems.join('\n')).not.toContain(SECRET_VALUE);
    // The other entries still count.
    expect(parsed.keyring.credentialsFor('ghcr.io/app').map((c) => c.username)).toEqual(['good']);
  });

  it.each([
    [PULL_SECRET_TYPES.dockerConfigJson, { '.dockerconfigjson': b64(`{"auths": {"quay.io": {"auth": "${SECRET_VALUE}"`) }, '.dockerconfigjson is not valid JSON'],
    [PULL_SECRET_TYPES.dockerConfigJson, { '.dockerconfigjson': b64('[]') }, '.dockerconfigjson is not a JSON object'],
    [PULL_SECRET_TYPES.dockerConfigJson, { '.dockerconfigjson': b64('{"quay.io": {}}') }, '.dockerconfigjson has no "auths"'],
    [PULL_SECRET_TYPES.dockerConfigJson, { '.dockerconfigjson': b64('{"auths": []}') }, '.dockerconfigjson "auths" is not an object'],
    [PULL_SECRET_TYPES.dockerConfigJson, { '.dockercfg': b64('{}') }, 'has no .dockerconfigjson data'],
    [PULL_SECRET_TYPES.dockerConfigJson, undefined, 'has no .dockerconfigjson data'],
    [PULL_SECRET_TYPES.dockercfg, { '.dockercfg': b64('"text"') }, '.dockercfg is not a JSON object'],
    ['Opaque', { '.dockerconfigjson': b64('{"auths": {}}') }, 'type "Opaque" is not a pull-secret type'],
  ])('skips a whole %s secret: %s', (type, data, problem) => {
    const parsed = parsePullSecret(type, data, SOURCE);
    expect(parsed.problems).toEqual([`${SOURCE}: ${problem}`]);
    expect(parsed.keyring.entries).toEqual([]);
  });

  it('bounds a long key in messages', () => {
    const key = `quay.io/${'a'.repeat(200)} b`;
    const [problem] = parseDockerConfigJson({ auths: { [key]: auth('u') } }, SOURCE).problems;
    expect(problem?.length).toBeLessThan(200);
  });
});

describe('parsePullSecret', () => {
  it('reads base64 data of both types', () => {
    const json = parsePullSecret(PULL_SECRET_TYPES.dockerConfigJson, { '.dockerconfigjson': b64(JSON.stringify({ auths: { 'quay.io': auth('j') } })) }, SOURCE);
    const cfg = parsePullSecret(PULL_SECRET_TYPES.dockercfg, { '.dockercfg': b64(JSON.stringify({ 'quay.io': auth('c') })) }, SOURCE);
    expect(json.keyring.credentialsFor('quay.io/a').map((c) => c.username)).toEqual(['j']);
    expect(cfg.keyring.credentialsFor('quay.io/a').map((c) => c.username)).toEqual(['c']);
  });
});

describe('keyringOf', () => {
  it('never matches an unparseable image name', () => {
    expect(keyringOf(parseDockerConfigJson({ auths: { '*': auth('u') } }, SOURCE).keyring.entries).credentialsFor('not a name')).toEqual([]);
  });
});
