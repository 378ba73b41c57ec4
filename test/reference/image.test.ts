import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DigestFormatError,
  InvalidReferenceError,
  NameFormatError,
  NameIdentifierError,
  NameTooLongError,
  NameUppercaseError,
  normalizedString,
  parseImage,
  pinnedReference,
  ReferenceCharacterError,
  ReferenceSchemeError,
  NameEmptyError,
  TagFormatError,
  type ImageRef,
} from '../../src/reference/index.js';
import { parseReference } from '../../src/reference/parse.js';
import { thrownBy, written as writtenBack } from './support.js';

const D = `sha256:${'1'.repeat(64)}`;
const OLD = `sha256:${'0'.repeat(64)}`;

describe('parseImage', () => {
  const cases: readonly [string, Omit<ImageRef, 'written'>][] = [
    ['nginx', { domain: 'docker.io', path: 'library/nginx', name: 'docker.io/library/nginx', tag: undefined, digest: undefined }],
    ['nginx:1.27', { domain: 'docker.io', path: 'library/nginx', name: 'docker.io/library/nginx', tag: '1.27', digest: undefined }],
    ['bitnami/redis:7', { domain: 'docker.io', path: 'bitnami/redis', name: 'docker.io/bitnami/redis', tag: '7', digest: undefined }],
    ['index.docker.io/nginx:1', { domain: 'docker.io', path: 'library/nginx', name: 'docker.io/library/nginx', tag: '1', digest: undefined }],
    ['docker.io/istio/proxyv2:1.22', { domain: 'docker.io', path: 'istio/proxyv2', name: 'docker.io/istio/proxyv2', tag: '1.22', digest: undefined }],
    ['quay.io/org/app', { domain: 'quay.io', path: 'org/app', name: 'quay.io/org/app', tag: undefined, digest: undefined }],
    ['localhost/app', { domain: 'localhost', path: 'app', name: 'localhost/app', tag: undefined, digest: undefined }],
    ['localhost:5000/app:1', { domain: 'localhost:5000', path: 'app', name: 'localhost:5000/app', tag: '1', digest: undefined }],
    ['[::1]:5000/app:1', { domain: '[::1]:5000', path: 'app', name: '[::1]:5000/app', tag: '1', digest: undefined }],
    [`ghcr.io/o/a:v1@${D}`, { domain: 'ghcr.io', path: 'o/a', name: 'ghcr.io/o/a', tag: 'v1', digest: D }],
    [`nginx@${D}`, { domain: 'docker.io', path: 'library/nginx', name: 'docker.io/library/nginx', tag: undefined, digest: D }],
  ];
  for (const [written, expected] of cases) {
    it(`reads ${written}`, () => {
      expect(parseImage(written)).toEqual({ written, ...expected });
    });
  }

  const failures: readonly [string, string, string, new (...args: never[]) => Error][] = [
    ['Nginx:1', 'invalid image reference "Nginx:1": repository name "Nginx" must be lowercase (only the registry host may have upper case)', 'DP_ERR_NAME_UPPERCASE', NameUppercaseError],
    ['quay.io/Org/app', 'invalid image reference "quay.io/Org/app": repository name "quay.io/Org/app" must be lowercase (only the registry host may have upper case)', 'DP_ERR_NAME_UPPERCASE', NameUppercaseError],
    ['Bad Image', 'invalid image reference "Bad Image": the character " " (U+0020) is not allowed in an image reference', 'DP_ERR_REFERENCE_CHARACTER', ReferenceCharacterError],
    ['', 'invalid image reference "": it is empty', 'DP_ERR_NAME_EMPTY', NameEmptyError],
    ['nginx:-1', 'invalid image reference "nginx:-1": tag "-1" must be 1 to 128 letters, digits, "_", "." or "-", not starting with "." or "-"', 'DP_ERR_TAG_FORMAT', TagFormatError],
    ['-nginx', 'invalid image reference "-nginx": repository name "-nginx" is not [host[:port]/]path, where the path is components of lowercase letters and digits joined by "/", with ".", "_", "__" or dashes only between letters and digits', 'DP_ERR_NAME_FORMAT', NameFormatError],
    ['https://ghcr.io/o/a', 'invalid image reference "https://ghcr.io/o/a": an image reference has no URL scheme: leave out "https://"', 'DP_ERR_REFERENCE_SCHEME', ReferenceSchemeError],
    ['nginx@sha256:abc', 'invalid image reference "nginx@sha256:abc": digest "sha256:abc" has 3 hex digits after "sha256:"; sha256 has 64', 'DP_ERR_DIGEST_FORMAT', DigestFormatError],
    [`nginx@sha256:${'f'.repeat(40)}`, `invalid image reference "nginx@sha256:${'f'.repeat(40)}": digest "sha256:${'f'.repeat(40)}" has 40 hex digits after "sha256:"; sha256 has 64`, 'DP_ERR_DIGEST_FORMAT', DigestFormatError],
    [`nginx@sha256:${'F'.repeat(64)}`, `invalid image reference "nginx@sha256:${'F'.repeat(64)}": digest "sha256:${'F'.repeat(64)}" must have only lower-case hex digits after "sha256:"`, 'DP_ERR_DIGEST_FORMAT', DigestFormatError],
    [`nginx@md5:${'f'.repeat(32)}`, `invalid image reference "nginx@md5:${'f'.repeat(32)}": digest algorithm "md5" is not supported: a digest is sha256:<64 hex>, sha384:<96 hex>, sha512:<128 hex>, hex in lower case`, 'DP_ERR_DIGEST_FORMAT', DigestFormatError],
    ['a'.repeat(248), `invalid image reference "${'a'.repeat(248)}": its repository path has 256 characters, more than 255`, 'DP_ERR_NAME_TOO_LONG', NameTooLongError],
    ['f'.repeat(64), `invalid image reference "${'f'.repeat(64)}": a name of 64 hexadecimal characters reads as an image ID, not a repository`, 'DP_ERR_NAME_IDENTIFIER', NameIdentifierError],
  ];
  for (const [written, message, causeCode, causeType] of failures) {
    it(`rejects ${JSON.stringify(written.length > 60 ? `${written.slice(0, 40)}…` : written)} naming the rule (${causeCode})`, () => {
      const error = thrownBy(() => parseImage(written));
      expect(error).toBeInstanceOf(InvalidReferenceError);
      const invalid = error as InvalidReferenceError;
      expect(invalid.code).toBe('DP_ERR_INVALID_REFERENCE');
      expect(invalid.message).toBe(message);
      expect(invalid.input).toBe(written);
      expect(invalid.cause).toBeInstanceOf(causeType);
      expect(invalid.cause.code).toBe(causeCode);
    });
  }
});

describe('normalizedString', () => {
  const cases: readonly [string, string][] = [
    ['nginx', 'docker.io/library/nginx'],
    ['nginx:1.27', 'docker.io/library/nginx:1.27'],
    ['istio/proxyv2:1.22', 'docker.io/istio/proxyv2:1.22'],
    [`quay.io/org/app:1@${D}`, `quay.io/org/app:1@${D}`],
    [`localhost:5000/app@${D}`, `localhost:5000/app@${D}`],
  ];
  for (const [written, normalized] of cases) {
    it(`writes ${written} as ${normalized}`, () => {
      expect(normalizedString(parseImage(written))).toBe(normalized);
    });
  }
});

describe('pinnedReference', () => {
  // written, pinned keeping the tag, pinned dropping it
  const cases: readonly [string, string, string, string][] = [
    ['a familiar name and tag', 'nginx:1.27', `nginx:1.27@${D}`, `nginx@${D}`],
    ['a name without a tag', 'nginx', `nginx@${D}`, `nginx@${D}`],
    ['a registry port and a tag', 'localhost:5000/app:1', `localhost:5000/app:1@${D}`, `localhost:5000/app@${D}`],
    ['a registry port and no tag', 'localhost:5000/app', `localhost:5000/app@${D}`, `localhost:5000/app@${D}`],
    ['an IPv6 registry with a port', '[::1]:5000/app:1', `[::1]:5000/app:1@${D}`, `[::1]:5000/app@${D}`],
    ['an IPv6 registry without a port', '[2001:db8::1]/team/app:v2', `[2001:db8::1]/team/app:v2@${D}`, `[2001:db8::1]/team/app@${D}`],
    ['a tag that looks like a port', 'registry:5000/app:5000', `registry:5000/app:5000@${D}`, `registry:5000/app@${D}`],
    ['a digest already written', `nginx@${OLD}`, `nginx@${D}`, `nginx@${D}`],
    ['a tag and a digest already written', `nginx:1@${OLD}`, `nginx:1@${D}`, `nginx@${D}`],
    ['the legacy Docker Hub domain, kept as written', 'index.docker.io/library/nginx:1', `index.docker.io/library/nginx:1@${D}`, `index.docker.io/library/nginx@${D}`],
    // A bare host:port is a Docker Hub name whose tag is the "port", as Docker reads it.
    ['a bare host:port', 'localhost:5000', `localhost:5000@${D}`, `localhost@${D}`],
  ];
  for (const [label, written, kept, dropped] of cases) {
    it(`pins ${label}, keeping the tag`, () => {
      expect(pinnedReference(parseImage(written), D, { dropTag: false })).toBe(kept);
    });
    it(`pins ${label}, dropping the tag`, () => {
      expect(pinnedReference(parseImage(written), D, { dropTag: true })).toBe(dropped);
    });
  }

  it('accepts sha512 digests', () => {
    const sha512 = `sha512:${'2'.repeat(128)}`;
    expect(pinnedReference(parseImage('app:1'), sha512, { dropTag: false })).toBe(`app:1@${sha512}`);
  });

  for (const digest of ['sha256:abc', `sha256:${'A'.repeat(64)}`, `md5:${'a'.repeat(32)}`, 'latest']) {
    it(`refuses the digest ${JSON.stringify(digest)} with DigestFormatError`, () => {
      expect(thrownBy(() => pinnedReference(parseImage('app:1'), digest, { dropTag: false }))).toBeInstanceOf(DigestFormatError);
    });
  }

  it('refuses an ImageRef whose written form does not parse', () => {
    const forged: ImageRef = { written: 'Not/Valid:x', domain: 'x', path: 'y', name: 'x/y', tag: 'x', digest: undefined };
    expect(thrownBy(() => pinnedReference(forged, D, { dropTag: false }))).toBeInstanceOf(InvalidReferenceError);
  });

  it('writes from the written form, not the normalised fields', () => {
    const ref = { ...parseImage('nginx:1'), name: 'elsewhere/else' };
    expect(pinnedReference(ref, D, { dropTag: false })).toBe(`nginx:1@${D}`);
  });
});

/** Generators for references the grammar accepts, built from its pieces. */
const alphanumeric = fc.stringMatching(/^[a-z0-9]{1,6}$/);
const separator = fc.constantFrom('.', '_', '__', '-', '---');
const pathComponent = fc
  .tuple(alphanumeric, fc.array(fc.tuple(separator, alphanumeric), { maxLength: 2 }))
  .map(([first, rest]) => first + rest.map(([sep, part]) => sep + part).join(''));
const repositoryPath = fc.array(pathComponent, { minLength: 1, maxLength: 4 }).map((parts) => parts.join('/'));
const label = fc.stringMatching(/^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,8}[a-zA-Z0-9])?$/);
const port = fc.integer({ min: 1, max: 65_535 }).map((n) => `:${String(n)}`);
const domain = fc.oneof(
  // Upper case is allowed in a domain, unlike in a path.
  fc.tuple(label, label).map(([a, b]) => `${a}.${b}`),
  fc.tuple(label, port).map(([host, p]) => `${host}${p}`),
  fc.constantFrom('localhost', 'docker.io', 'index.docker.io'),
  fc.tuple(fc.ipV6().filter((ip) => !ip.includes('.')), fc.option(port, { nil: '' })).map(([ip, p]) => `[${ip}]${p}`),
  fc.ipV4().map((ip) => `${ip}:5000`),
);
const tag = fc.stringMatching(/^\w[\w.-]{0,30}$/);
const digest = fc.stringMatching(/^[a-f0-9]{64}$/).map((hex) => `sha256:${hex}`);
const written = fc
  .record({
    domain: fc.option(domain, { nil: undefined }),
    path: repositoryPath,
    tag: fc.option(tag, { nil: undefined }),
    digest: fc.option(digest, { nil: undefined }),
  })
  .map(
    (parts) =>
      (parts.domain === undefined ? '' : `${parts.domain}/`) +
      parts.path +
      (parts.tag === undefined ? '' : `:${parts.tag}`) +
      (parts.digest === undefined ? '' : `@${parts.digest}`),
  );

describe('properties', () => {
  it('parseReference writes back exactly what it read', () => {
    fc.assert(
      fc.property(written, (input) => {
        expect(writtenBack(parseReference(input, input))).toBe(input);
      }),
    );
  });

  it('parseImage of normalizedString gives back the same reference', () => {
    fc.assert(
      fc.property(written, (input) => {
        const ref = parseImage(input);
        const again = parseImage(normalizedString(ref));
        expect({ ...again, written: input }).toEqual(ref);
      }),
    );
  });

  it('a pinned reference parses to the same name, the given digest, and the tag unless dropped', () => {
    fc.assert(
      fc.property(written, digest, fc.boolean(), (input, pin, dropTag) => {
        const ref = parseImage(input);
        const pinned = parseImage(pinnedReference(ref, pin, { dropTag }));
        expect(pinned.name).toBe(ref.name);
        expect(pinned.digest).toBe(pin);
        expect(pinned.tag).toBe(dropTag ? undefined : ref.tag);
      }),
    );
  });

  it('pinning a pinned reference to the same digest changes nothing', () => {
    fc.assert(
      fc.property(written, digest, fc.boolean(), (input, pin, dropTag) => {
        const once = pinnedReference(parseImage(input), pin, { dropTag });
        expect(pinnedReference(parseImage(once), pin, { dropTag })).toBe(once);
      }),
    );
  });
});
