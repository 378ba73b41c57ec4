/** Identity of a credential for cache keys, without the secret. */
import { createHash } from 'node:crypto';
import type { Credential } from '../credentials/types.js';

/** The key of requests made without credentials. */
const ANONYMOUS_KEY = 'anonymous';

/**
 * `anonymous`, or `cred-` + sha256 of the username and password, in base64url
 * (shorter than hex, in the key of every cached digest). Everything
 * cached on behalf of a caller (digests, tokens, in-flight fetches, learned
 * challenges) is keyed by it, so one tenant's secret never answers another's
 * request. The username's length is hashed too, so no two pairs collide
 * however NULs fall; `source` is not part of the identity.
 */
export function credentialKey(credential: Credential | undefined): string {
  if (credential === undefined) return ANONYMOUS_KEY;
  // Credentials live as long as the pull secret or config they came from, and are asked
  // for their key on every cache lookup: a sha256 per lookup is real work, so hash each once.
  const known = KEYS.get(credential);
  if (known !== undefined) return known;
  const hash = createHash('sha256')
    .update(`${credential.username.length}\0${credential.username}\0${credential.password}`, 'utf8')
    .digest('base64url');
  const key = `cred-${hash}`;
  KEYS.set(credential, key);
  return key;
}

/** Keys computed so far, by credential object; a credential's fields never change (readonly). */
const KEYS = new WeakMap<Credential, string>();
