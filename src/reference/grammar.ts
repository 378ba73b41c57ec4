/**
 * The image reference grammar of github.com/distribution/reference, written once.
 *
 *   reference        := name [ ":" tag ] [ "@" digest ]
 *   name             := [domain '/'] remote-name
 *   domain           := host [':' port-number]
 *   host             := domain-name | IPv4address | \[ IPv6address \]
 *   domain-name      := domain-component ['.' domain-component]*
 *   domain-component := /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
 *   port-number      := /[0-9]+/
 *   path-component   := alpha-numeric [separator alpha-numeric]*
 *   remote-name      := path-component ['/' path-component]*
 *   alpha-numeric    := /[a-z0-9]+/
 *   separator        := /[_.]|__|[-]+/
 *   tag              := /[\w][\w.-]{0,127}/
 *   digest           := algorithm ":" /[0-9a-fA-F]{32,}/
 *   identifier       := /[a-f0-9]{64}/
 *
 * Every pattern is ASCII-only and compiled without flags, so `\w` means
 * `[A-Za-z0-9_]` as it does in Go's RE2. JavaScript and RE2 both report
 * leftmost-first submatches, so the captures equal Go's.
 */

/** Lower-case letters and digits: the atom of a path component. */
const ALPHANUMERIC = '[a-z0-9]+';

/** One period, one or two underscores, or any number of dashes. */
const SEPARATOR = '(?:[._]|__|[-]+)';

/** A DNS label; upper case is allowed in a host, unlike in a path. */
const DOMAIN_NAME_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';

/** `:port`; the number of digits is not limited here, as in Go. */
const OPTIONAL_PORT = '(?::[0-9]+)?';

/** A bracketed IPv6 address; zones (`%eth0`) and IPv4-mapped forms are excluded on purpose. */
const IPV6_ADDRESS = String.raw`\[(?:[a-fA-F0-9:]+)\]`;

const TAG = String.raw`[\w][\w.-]{0,127}`;

/** Algorithm components joined by `-_+.`, a colon, then at least 128 bits of hex. */
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}';

/** A sha256 hex value without its algorithm, as `docker images` prints an image ID. */
const IDENTIFIER = '[a-f0-9]{64}';

const DOMAIN_NAME = DOMAIN_NAME_COMPONENT + anyTimes(String.raw`\.`, DOMAIN_NAME_COMPONENT);
const HOST = `(?:${DOMAIN_NAME}|${IPV6_ADDRESS})`;
const DOMAIN_AND_PORT = HOST + OPTIONAL_PORT;
const PATH_COMPONENT = ALPHANUMERIC + anyTimes(SEPARATOR, ALPHANUMERIC);
const REMOTE_NAME = PATH_COMPONENT + anyTimes('/', PATH_COMPONENT);
const NAME = optional(DOMAIN_AND_PORT, '/') + REMOTE_NAME;

/** A whole `host[:port]`. */
export const ANCHORED_DOMAIN = new RegExp(anchored(DOMAIN_AND_PORT));

/** A whole name; groups `domain` (absent when the name has none) and `path`. */
export const ANCHORED_NAME = new RegExp(anchored(optional(capture('domain', DOMAIN_AND_PORT), '/'), capture('path', REMOTE_NAME)));

/** A whole reference; groups `name`, `tag` and `digest`. */
export const REFERENCE = new RegExp(
  anchored(capture('name', NAME), optional(':', capture('tag', TAG)), optional('@', capture('digest', DIGEST))),
);

/** A whole tag. */
export const ANCHORED_TAG = new RegExp(anchored(TAG));

/** A whole 64-hex identifier. */
export const ANCHORED_IDENTIFIER = new RegExp(anchored(capture('identifier', IDENTIFIER)));

/** Longest repository path a name may have; the domain is not counted. */
export const REPOSITORY_NAME_TOTAL_LENGTH_MAX = 255;

function optional(...parts: readonly string[]): string {
  return `(?:${parts.join('')})?`;
}

function anyTimes(...parts: readonly string[]): string {
  return `(?:${parts.join('')})*`;
}

function capture(name: string, ...parts: readonly string[]): string {
  return `(?<${name}>${parts.join('')})`;
}

function anchored(...parts: readonly string[]): string {
  return `^${parts.join('')}$`;
}
