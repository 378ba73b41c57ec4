/**
 * One entry of a docker config's `auths` (`{"auth": base64("user:pass")}` or
 * `{"username", "password"}`), as docker's config.json and kubelet's pull secrets
 * both write it. As in docker and kubelet, a non-empty `auth` wins over
 * username/password; entries with only an identity or registry token carry no
 * credential this webhook can send.
 */
import { isRecord, member } from '../json.js';
import { truncate } from '../text.js';

/** The key `docker login` writes for Docker Hub, and the server URL docker hands credential helpers for it. */
export const DOCKER_HUB_LOGIN_KEY = 'https://index.docker.io/v1/';

/** What one entry gives: a username and password, nothing to use, or why it is malformed. */
export type AuthEntry =
  | { readonly kind: 'credential'; readonly username: string; readonly password: string }
  | { readonly kind: 'none'; readonly reason: string }
  /** `field` is the entry's field at fault (`auth`, `password`…), undefined for the entry as a whole. */
  | { readonly kind: 'invalid'; readonly field: string | undefined; readonly problem: string };

// Standard base64 with padding, as Go's base64.StdEncoding (docker's and kubelet's decoder) requires.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const FIELDS = ['auth', 'username', 'password'] as const;
const MAX_KEY_IN_MESSAGE = 80;

/** Reads one `auths` entry. Problems name fields, never values. */
export function readAuthEntry(value: unknown): AuthEntry {
  if (!isRecord(value)) return { kind: 'invalid', field: undefined, problem: 'is not an object' };
  const fields: Partial<Record<(typeof FIELDS)[number], string>> = {};
  for (const field of FIELDS) {
    const text = member(value, field);
    if (typeof text === 'string') fields[field] = text;
    else if (text !== undefined && text !== null) return { kind: 'invalid', field, problem: 'is not a string' };
  }
  const { auth = '', username = '', password = '' } = fields;
  if (auth !== '') return decodeAuth(auth);
  if (username !== '') return { kind: 'credential', username, password };
  if (password !== '') return { kind: 'invalid', field: undefined, problem: 'has a password but no username' };
  if (typeof member(value, 'identitytoken') === 'string' || typeof member(value, 'registrytoken') === 'string') {
    return { kind: 'none', reason: 'has only an identity or registry token (not supported)' };
  }
  return { kind: 'none', reason: 'has no credentials' };
}

function decodeAuth(auth: string): AuthEntry {
  if (!BASE64.test(auth)) return { kind: 'invalid', field: 'auth', problem: 'is not valid base64' };
  const decoded = Buffer.from(auth, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return { kind: 'invalid', field: 'auth', problem: 'does not decode to "username:password"' };
  return { kind: 'credential', username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** A config key for a message: quoted, and shortened when long. */
export function quoteKey(key: string): string {
  return JSON.stringify(truncate(key, MAX_KEY_IN_MESSAGE));
}
